"""The optimised serving path: the same classifier exported to ONNX Runtime.

Two variants are written next to the PyTorch weights: ``fp32`` (graph-optimised, scores identical to PyTorch
to 1e-5: the default, because a safeguarding flag must not change with the runtime) and ``int8`` (dynamic
per-channel quantisation: about 2x faster again, but it changes the flags of a few percent of posts, counted
exactly by ``carescreen evaluate``). ``CARESCREEN_ONNX_VARIANT`` picks one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.classifier import BundleConfig, probabilities, sigmoid

FP32_FILE = "model.fp32.onnx"
INT8_FILE = "model.int8.onnx"
VARIANTS = {"fp32": FP32_FILE, "int8": INT8_FILE}


def export_onnx(module: Any, directory: Path, *, quantize: bool = True) -> Path:
    """Export a trained module to ``directory`` (fp32) and, with ``quantize``, an int8 copy beside it."""
    import torch

    module = module.eval().to("cpu")
    fp32 = directory / FP32_FILE
    ids = torch.ones((2, 16), dtype=torch.long)
    attn = torch.ones((2, 16), dtype=torch.long)
    torch.onnx.export(
        module,
        (ids, attn),
        str(fp32),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "seq"},
            "attention_mask": {0: "batch", 1: "seq"},
            "logits": {0: "batch"},
        },
        opset_version=17,
        dynamo=False,
    )
    if not quantize:
        return fp32
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = directory / INT8_FILE
    # Per-channel weights with reduced range: the most accurate dynamic int8 setting measured for this model.
    quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    return target


class OnnxClassifier:
    """ONNX Runtime inference with dynamic padding; one session built once and shared by all requests."""

    def __init__(
        self,
        directory: Path,
        *,
        version: str | None = None,
        threads: int | None = None,
        variant: str = "fp32",
    ) -> None:
        import onnxruntime as ort

        self.directory = directory
        self.config = BundleConfig.load(directory)
        self.version = version or self.config.version
        self.thresholds = dict(self.config.thresholds)
        self.tokenizer = BundleTokenizer(directory / "encoder", max_length=self.config.max_length)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # Idle intra-op threads sleep instead of spinning: the PII stage of the next micro-batch needs that core.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = directory / VARIANTS[variant]
        if not path.exists():
            raise FileNotFoundError(f"bundle has no {variant} ONNX export: {path}")
        self.variant = variant
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Scores for every text. Texts are tokenised once, sorted by token count and run in groups whose
        padding is bounded (``_groups``): a micro-batch of care posts ranges from 5 to 96 tokens, and padding a
        whole batch to its longest post would spend most of the forward pass on padding."""
        return probabilities(
            texts,
            tokenizer=self.tokenizer,
            max_length=self.config.max_length,
            batches=lambda lengths: _groups(lengths, batch_size),
            forward=lambda ids, mask: self.session.run(
                ["logits"], {"input_ids": ids, "attention_mask": mask}
            )[0],
            to_probs=sigmoid,
        )


class BundleTokenizer:
    """The bundle's fast tokenizer (``encoder/tokenizer.json``) through the ``tokenizers`` library alone.

    The same ids and masks as ``transformers.AutoTokenizer`` called with ``truncation=True, max_length=...``
    (tested on varied texts), without importing Transformers and PyTorch into the serving process. Padding is
    ``probabilities``' job (per group), so the file's own padding setting (pad everything to 128) is turned off
    and its truncation replaced by the bundle's ``max_length``. Set once here, never per call: the batch
    workers encode from two threads at once.
    """

    def __init__(self, directory: Path, *, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.max_length = max_length
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_length, stride=0, strategy="longest_first")
        pad_token = _pad_token(directory)
        pad_id = self._tokenizer.token_to_id(pad_token) if pad_token else None
        self.pad_token_id = int(pad_id or 0)

    def __call__(
        self, texts: Sequence[str], *, truncation: bool = True, max_length: int | None = None
    ) -> Any:
        """``{"input_ids": [[...], ...]}``: what ``probabilities`` reads of a Transformers tokenizer's answer."""
        if not truncation or (max_length is not None and max_length != self.max_length):
            raise ValueError(f"this tokenizer truncates to the bundle's max_length ({self.max_length})")
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        return {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
        }


def _pad_token(directory: Path) -> str | None:
    """The pad token named by ``tokenizer_config.json`` (or ``special_tokens_map.json``), as Transformers reads it."""
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = directory / name
        if path.exists():
            token = json.loads(path.read_text()).get("pad_token")
            if isinstance(token, dict):
                token = token.get("content")
            if isinstance(token, str):
                return token
    return None


def _groups(lengths: Sequence[int], max_size: int, waste: float = 0.25) -> list[list[int]]:
    """Indices sorted by length, cut into groups of at most ``max_size`` whose padding stays under ``waste`` of
    the group's tokens (a new group starts when the next, longer text would pad the group past that)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for i in order:
        width = lengths[i]  # the longest so far: the order is ascending
        padded = width * (len(current) + 1)
        if current and (len(current) >= max_size or 1 - (total + width) / padded > waste):
            groups.append(current)
            current, total = [], 0
        current.append(i)
        total += width
    if current:
        groups.append(current)
    return groups


def has_onnx(directory: Path, variant: str = "fp32") -> bool:
    return (directory / VARIANTS[variant]).exists()
