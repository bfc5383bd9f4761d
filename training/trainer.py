"""Fine-tuning the transformer classifier: a ``Trainer`` and a dataclass of arguments logged whole (setfit style)."""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from models.classifier import base_model_path, build_module, keep_layers, masked_bce_loss
from models.taxonomy import CATEGORIES
from training.examples import LabelledText


@dataclass
class TrainingArguments:
    """Every knob of a training run. Logged to MLflow as-is, so a run can be reproduced from its params."""

    epochs: float = 4.0
    batch_size: int = 32
    learning_rate: float = 6e-5
    head_learning_rate: float = 2e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    dropout: float = 0.1
    max_length: int = 96
    #: Encoder layers kept (None = all six). With ``init_from`` and ``distill_weight`` the shallower model is a
    #: student of the warm-start one. Not the default: DEVELOPMENT.md, "Performance", has what it cost.
    num_layers: int | None = None
    seed: int = 13
    max_steps: int | None = None
    #: Cap on examples drawn from each external corpus (None = all). Keeps the bootstrap inside 10 minutes.
    external_per_corpus: int | None = 300
    external_corpora: tuple[str, ...] = (
        "olid", "davidson_hate_offensive", "convabuse", "edos_sexism", "goemotions", "counsel_chat",
        "toxigen_seed_statements",
    )  # fmt: skip
    #: How many times each care post is seen per epoch relative to external data (our domain matters most).
    care_repeats: int = 2
    #: Extra copies of care posts positive for the rarest categories (about 50-120 training positives each).
    rare_repeats: int = 2
    rare_categories: tuple[str, ...] = ("hate", "threat", "sexual", "self_harm")
    recall_targets: dict[str, float] = field(
        default_factory=lambda: {"safeguarding": 0.95, "self_harm": 0.95}
    )
    pos_weight_cap: float = 8.0
    #: Joined posts (a harmful one beside a pleasant one keeps its labels): padding must not dilute a flag.
    padded_examples: int = 400
    #: Copies of each training post that names an identity term, with the term swapped (label unchanged).
    identity_copies: int = 2
    #: Sentences of clean posts as clean examples: serving takes the max over sentences, so fragments must
    #: score clean on their own.
    clean_part_examples: int = 1200
    #: Urgent categories' thresholds maximise F-beta on validation: beta 3 weighs a missed disclosure nine
    #: times an unneeded escalation. None: the highest threshold reaching ``recall_targets`` (on a small
    #: validation set that quantile is noisy: the least typical disclosures set it and a third of clean posts
    #: were flagged). Beta 2 gave safeguarding recall 0.86 on the test split, beta 3 0.95 (DEVELOPMENT.md).
    urgent_beta: float | None = 3.0
    device: str = "auto"
    #: Warm start: continue from this bundle's weights (retraining) instead of the base encoder.
    init_from: str | None = None
    #: Learning without forgetting (only with ``init_from``): weight of a loss that keeps the warm-start
    #: model's own scores on every training text, except the cells a moderator decision labels. A retrain
    #: then learns what the decisions say without drifting on everything else. 0 disables it.
    distill_weight: float = 0.0
    num_threads: int | None = None
    experiment_name: str = "carescreen"

    def to_params(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {k: (",".join(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> str:
    import torch

    if name != "auto":
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"


def arrays(examples: Sequence[LabelledText]) -> tuple[np.ndarray, np.ndarray]:
    targets = np.zeros((len(examples), len(CATEGORIES)), dtype=np.float32)
    mask = np.zeros_like(targets)
    for i, ex in enumerate(examples):
        t, m = ex.target_and_mask()
        targets[i] = t
        mask[i] = m
    return targets, mask


class Trainer:
    """Fits ``models.classifier`` on labelled texts with a masked loss, dynamic padding and progress bars."""

    def __init__(
        self, args: TrainingArguments, *, on_epoch: Callable[[int, float], None] | None = None
    ) -> None:
        self.args = args
        self.on_epoch = on_epoch
        self.history: list[dict[str, float]] = []

    def _batches(self, n: int, lengths: Sequence[int], rng: random.Random) -> list[list[int]]:
        """Length-bucketed shuffled batches: similar lengths together means little padding (fast on CPU)."""
        order = list(range(n))
        rng.shuffle(order)
        chunk = self.args.batch_size * 50
        batches: list[list[int]] = []
        for i in range(0, n, chunk):
            part = sorted(order[i : i + chunk], key=lambda k: lengths[k])
            batches.extend(
                part[j : j + self.args.batch_size] for j in range(0, len(part), self.args.batch_size)
            )
        rng.shuffle(batches)
        return batches

    def _teacher_targets(
        self, module: Any, tokenizer: Any, examples: Sequence[LabelledText], label_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The warm-start model's scores before any update (soft targets), and where they apply: everywhere
        except the cells a moderator decision labels (there the decision is the new knowledge)."""
        module.eval()
        # Scores are computed once per distinct text (decisions are repeated several times per epoch).
        distinct = list(dict.fromkeys(ex.text for ex in examples))
        probs = predict_module(module, tokenizer, distinct, self.args.max_length)
        row = {t: i for i, t in enumerate(distinct)}
        teacher = probs[[row[ex.text] for ex in examples]].astype(np.float32)
        distill_mask = np.ones_like(label_mask)
        decisions = np.array([ex.source == "decisions" for ex in examples])
        distill_mask[decisions] = 1.0 - label_mask[decisions]
        return teacher, distill_mask

    def train(self, examples: Sequence[LabelledText]) -> tuple[Any, Any]:
        """Return (module, tokenizer) after training; the module is in eval mode on the CPU."""
        import torch
        from transformers import AutoTokenizer, get_linear_schedule_with_warmup

        args = self.args
        seed_everything(args.seed)
        if args.num_threads:
            torch.set_num_threads(args.num_threads)
        device = resolve_device(args.device)
        if args.init_from:
            from pathlib import Path

            from models.classifier import TorchClassifier

            warm = TorchClassifier(Path(args.init_from))
            module, tokenizer = warm.module.to(device), warm.tokenizer
        else:
            tokenizer = AutoTokenizer.from_pretrained(base_model_path())
            module = build_module(dropout=args.dropout, num_layers=args.num_layers).to(device)

        texts = [ex.text for ex in examples]
        enc = tokenizer(texts, truncation=True, max_length=args.max_length)
        ids: list[list[int]] = enc["input_ids"]
        targets, mask = arrays(examples)
        teacher, distill_mask = None, None
        if args.init_from and args.distill_weight > 0:
            teacher, distill_mask = self._teacher_targets(module, tokenizer, examples, mask)
        if args.init_from and args.num_layers is not None:
            # A shallower student of the warm-start model, whose scores (above) are then its soft targets.
            keep_layers(module.encoder, args.num_layers)
        pos = (targets * mask).sum(0)
        neg = ((1 - targets) * mask).sum(0)
        pos_weight = np.clip(np.sqrt(neg / np.maximum(pos, 1)), 1.0, args.pos_weight_cap).astype(np.float32)
        pw = torch.tensor(pos_weight, device=device)

        rng = random.Random(args.seed)
        steps_per_epoch = math.ceil(len(examples) / args.batch_size)
        total = args.max_steps or max(1, int(steps_per_epoch * args.epochs))
        head_params = list(module.heads.parameters())
        head_ids = {id(p) for p in head_params}
        body = [p for p in module.parameters() if id(p) not in head_ids]
        optim = torch.optim.AdamW(
            [
                {"params": body, "lr": args.learning_rate},
                {"params": head_params, "lr": args.head_learning_rate},
            ],
            weight_decay=args.weight_decay,
        )
        sched = get_linear_schedule_with_warmup(optim, int(total * args.warmup_ratio), total)
        module.train()
        step = 0
        epoch = 0
        bar = tqdm(total=total, desc="fine-tuning", unit="step", dynamic_ncols=True)
        started = time.time()
        while step < total:
            losses: list[float] = []
            for batch in self._batches(len(examples), [len(x) for x in ids], rng):
                if step >= total:
                    break
                width = max(len(ids[k]) for k in batch)
                input_ids = torch.zeros((len(batch), width), dtype=torch.long)
                attn = torch.zeros((len(batch), width), dtype=torch.long)
                for r, k in enumerate(batch):
                    input_ids[r, : len(ids[k])] = torch.tensor(ids[k])
                    attn[r, : len(ids[k])] = 1
                logits = module(input_ids.to(device), attn.to(device))
                t = torch.from_numpy(targets[batch]).to(device)
                m = torch.from_numpy(mask[batch]).to(device)
                loss = masked_bce_loss(logits, t, m, pos_weight=pw)
                if teacher is not None and distill_mask is not None:
                    soft = torch.from_numpy(teacher[batch]).to(device)
                    dm = torch.from_numpy(distill_mask[batch]).to(device)
                    loss = loss + args.distill_weight * masked_bce_loss(logits, soft, dm)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
                optim.step()
                sched.step()
                optim.zero_grad(set_to_none=True)
                losses.append(float(loss.detach()))
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", epoch=epoch)
            epoch += 1
            mean_loss = float(np.mean(losses)) if losses else float("nan")
            self.history.append({"epoch": epoch, "train_loss": mean_loss, "seconds": time.time() - started})
            if self.on_epoch:
                self.on_epoch(epoch, mean_loss)
        bar.close()
        module.eval()
        return module.to("cpu"), tokenizer


def predict_module(
    module: Any, tokenizer: Any, texts: Sequence[str], max_length: int, batch_size: int = 64
) -> np.ndarray:
    """Probabilities from an in-memory module (used between training and bundling), through the same
    tokenise -> forward -> sigmoid as serving (``models.classifier.probabilities``)."""
    import torch

    from models.classifier import probabilities

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    device = next(module.parameters()).device

    def batches(_lengths: Sequence[int]) -> list[list[int]]:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def forward(ids: np.ndarray, mask: np.ndarray) -> Any:
        return module(torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device))

    with torch.inference_mode():
        return probabilities(
            texts,
            tokenizer=tokenizer,
            max_length=max_length,
            batches=batches,
            forward=forward,
            to_probs=lambda logits: torch.sigmoid(logits).cpu().numpy(),
        )


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
