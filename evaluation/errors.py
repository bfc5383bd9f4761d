"""Error analysis: the worst misses and false alarms per category, text beside scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.classifier import TorchClassifier
from models.taxonomy import CATEGORIES
from training.data import care_examples


def worst_errors(bundle: Path, *, split: str = "validation", per_category: int = 5) -> Any:
    """A DataFrame of the highest-scoring false positives and lowest-scoring false negatives per category."""
    import pandas as pd

    model = TorchClassifier(bundle)
    examples = care_examples(split)
    probs = model.predict_proba([e.text for e in examples])
    rows: list[dict[str, Any]] = []
    for j, c in enumerate(CATEGORIES):
        thr = model.thresholds[c]
        fn = [
            (float(probs[i, j]), e)
            for i, e in enumerate(examples)
            if e.labels.get(c) == 1 and probs[i, j] < thr
        ]
        fp = [
            (float(probs[i, j]), e)
            for i, e in enumerate(examples)
            if e.labels.get(c) == 0 and probs[i, j] >= thr
        ]
        for kind, items in (
            ("missed", sorted(fn, key=lambda t: t[0])),
            ("false alarm", sorted(fp, key=lambda t: -t[0])),
        ):
            for score, e in items[:per_category]:
                rows.append(
                    {
                        "category": c,
                        "error": kind,
                        "score": round(score, 3),
                        "threshold": round(thr, 3),
                        "text": e.text,
                    }
                )
    return pd.DataFrame(rows, columns=["category", "error", "score", "threshold", "text"])


def error_counts(bundle: Path, *, split: str = "validation") -> Any:
    """Misses and false alarms per category (the table above the examples)."""
    df = worst_errors(bundle, split=split, per_category=10_000)
    return df.groupby(["category", "error"]).size().unstack(fill_value=0)
