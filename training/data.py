"""Assembling a training set: the care corpus (redacted, as serving sees it) plus capped external corpora."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from pathlib import Path

from models.taxonomy import CATEGORIES
from training.care_corpus import POSTS_FILE, load_posts
from training.corpora import available_corpora, load_corpus, shared_datasets_dir
from training.examples import LabelledText


def care_examples(split: str, path: Path = POSTS_FILE) -> list[LabelledText]:
    return [p.to_example(redacted=True) for p in load_posts(path, split=split)]


def external_examples(
    names: Sequence[str], per_corpus: int | None, seed: int, root: Path | None = None
) -> list[LabelledText]:
    """Training-split examples from each available corpus, capped and balanced (positives first).

    Balanced sampling: half the cap goes to examples with at least one positive label, so a 500-example draw
    from a mostly-benign corpus still teaches its heads something.
    """
    root = root if root is not None else shared_datasets_dir()
    if root is None:
        return []
    present = set(available_corpora(root))
    rng = random.Random(seed)
    out: list[LabelledText] = []
    for name in names:
        if name not in present:
            continue
        rows = load_corpus(name, root=root, split="train")
        if per_corpus is not None and len(rows) > per_corpus:
            pos = [r for r in rows if any(r.labels.values())]
            neg = [r for r in rows if not any(r.labels.values())]
            rng.shuffle(pos)
            rng.shuffle(neg)
            k = min(len(pos), per_corpus // 2)
            rows = pos[:k] + neg[: per_corpus - k]
        out.extend(rows)
    return out


def dataset_hash(examples: Sequence[LabelledText]) -> str:
    """Content hash of a training/evaluation set (ids, texts, labels): logged so every model has lineage."""
    h = hashlib.sha256()
    for ex in sorted(examples, key=lambda e: e.id):
        h.update(json.dumps([ex.id, ex.text, sorted(ex.labels.items())], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def label_counts(examples: Sequence[LabelledText]) -> dict[str, int]:
    return {c: sum(1 for e in examples if e.labels.get(c) == 1) for c in CATEGORIES}
