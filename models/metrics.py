"""Per-category classification metrics over masked multi-label data (one definition for every report)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from models.taxonomy import CATEGORIES


def category_metrics(
    probs: np.ndarray, targets: np.ndarray, mask: np.ndarray, thresholds: Mapping[str, float]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1, ROC-AUC and PR-AUC per category, on the rows where that category is labelled."""
    out: dict[str, dict[str, float]] = {}
    for j, c in enumerate(CATEGORIES):
        rows = mask[:, j] > 0
        y = targets[rows, j].astype(int)
        p = probs[rows, j]
        pred = (p >= thresholds[c]).astype(int)
        tp = int(((pred == 1) & (y == 1)).sum())
        fp = int(((pred == 1) & (y == 0)).sum())
        fn = int(((pred == 0) & (y == 1)).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        both = len(set(y.tolist())) == 2
        out[c] = {
            "support": int(y.sum()),
            "n": int(rows.sum()),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
            "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
            "threshold": float(thresholds[c]),
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }
    return out


def summary(
    per_category: Mapping[str, Mapping[str, float]],
    probs: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    thresholds: Mapping[str, float],
) -> dict[str, float]:
    """Headline numbers: macro-F1 over categories with positives, and the clean-post false-flag rate."""
    f1s = [m["f1"] for m in per_category.values() if m["support"] > 0]
    thr = np.array([thresholds[c] for c in CATEGORIES])
    fully_labelled = mask.min(axis=1) > 0
    clean = fully_labelled & (targets.max(axis=1) == 0)
    flagged = np.asarray((probs >= thr).any(axis=1))
    return {
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "clean_flag_rate": float(flagged[clean].mean()) if clean.any() else float("nan"),
        "clean_posts": int(clean.sum()),
    }


def choose_thresholds(
    probs: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    recall_targets: Mapping[str, float],
    default: float = 0.5,
    fbeta: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Per-category thresholds on validation data.

    Categories in ``recall_targets`` get the highest threshold that still reaches the target recall; categories
    in ``fbeta`` the threshold with the best F-beta (beta 2: recall weighs four times precision); the others
    the threshold with the best F1.
    """
    fbeta = fbeta or {}
    out: dict[str, float] = {}
    for j, c in enumerate(CATEGORIES):
        rows = mask[:, j] > 0
        y = targets[rows, j].astype(int)
        p = probs[rows, j]
        if y.sum() == 0 or y.sum() == len(y):
            out[c] = default
            continue
        candidates = np.unique(np.concatenate([p, [default]]))
        if c in recall_targets:
            pos = np.sort(p[y == 1])
            # highest threshold t with recall(t) >= target: keep at least ceil(target * n_pos) positives above t
            k = int(np.ceil(recall_targets[c] * len(pos) - 1e-9))
            t = float(pos[len(pos) - k]) if k > 0 else default
            out[c] = float(min(max(t - 1e-6, 1e-4), 0.99))
            continue
        b2 = float(fbeta.get(c, 1.0)) ** 2
        best_t, best_f1 = default, -1.0
        for t in candidates:
            pred = p >= t
            tp = float((pred & (y == 1)).sum())
            fp = float((pred & (y == 0)).sum())
            fn = float((~pred & (y == 1)).sum())
            f1 = (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp) if tp else 0.0
            if f1 > best_f1 + 1e-9:
                best_t, best_f1 = float(t), f1
        out[c] = float(min(max(best_t - 1e-6, 1e-4), 0.99))
    return out


def paired_bootstrap(
    targets: np.ndarray,
    mask: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    *,
    categories: tuple[str, ...] = (),
    n: int = 2000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """95% intervals of (b - a) for macro-F1 and each named category's recall, resampling the same posts for
    both models. It tells a reader of a gate report whether a difference is larger than the test set can
    resolve (on 43 self-harm positives one post is 0.023 of recall)."""
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(targets), np.full(len(targets), 1.0 / len(targets)), size=n).astype(float)
    y = (targets > 0) & (mask > 0)
    neg = (targets == 0) & (mask > 0)

    def counts(pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = pred.astype(bool)
        return weights @ (p & y), weights @ (p & neg), weights @ (~p & y)

    def f1_recall(pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tp, fp, fn = counts(pred)
        f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=(2 * tp + fp + fn) > 0)
        recall = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=(tp + fn) > 0)
        return f1, recall

    support = y.sum(axis=0) > 0
    f1_a, rec_a = f1_recall(pred_a)
    f1_b, rec_b = f1_recall(pred_b)
    diffs = {"macro_f1": f1_b[:, support].mean(axis=1) - f1_a[:, support].mean(axis=1)}
    for c in categories:
        j = CATEGORIES.index(c)
        diffs[f"{c}_recall"] = rec_b[:, j] - rec_a[:, j]
    return {
        k: {"low": float(np.percentile(d, 2.5)), "high": float(np.percentile(d, 97.5))}
        for k, d in diffs.items()
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile (0-1) of ``values``, or None when there are none: the one definition the
    bench, the reliability report and the lead's report all use."""
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return float(ordered[k])
