"""Metrics shared by training, evaluation and the retraining gate."""

from __future__ import annotations

import numpy as np
import pytest

from models.taxonomy import CATEGORIES


def test_paired_bootstrap_brackets_the_observed_difference() -> None:
    from models.metrics import paired_bootstrap

    rng = np.random.default_rng(1)
    targets = (rng.random((400, len(CATEGORIES))) < 0.2).astype(float)
    mask = np.ones_like(targets)
    pred_a = targets.astype(bool) ^ (rng.random(targets.shape) < 0.15)  # a decent model
    same = paired_bootstrap(targets, mask, pred_a, pred_a, categories=("safeguarding",))
    assert same["macro_f1"] == {"low": 0.0, "high": 0.0}  # identical predictions: no difference at all
    worse = pred_a ^ (rng.random(targets.shape) < 0.2)  # much noisier
    ci = paired_bootstrap(targets, mask, pred_a, worse, categories=("safeguarding", "self_harm"))
    assert ci["macro_f1"]["high"] < 0  # clearly worse, and the interval says so
    assert ci["safeguarding_recall"]["low"] <= ci["safeguarding_recall"]["high"]
    assert set(ci) == {"macro_f1", "safeguarding_recall", "self_harm_recall"}


def test_fbeta_thresholds_weigh_recall() -> None:
    """Beta 2 keeps a threshold low enough to catch a borderline positive that best-F1 gives up."""
    from models.metrics import choose_thresholds
    from models.taxonomy import CATEGORIES

    p = np.array([0.9, 0.8, 0.3, 0.35, 0.34, 0.33, 0.1])  # positives 0.9, 0.8, 0.3; negatives the rest
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    probs = np.zeros((7, len(CATEGORIES)))
    probs[:, 0] = p
    targets = np.zeros_like(probs)
    targets[:, 0] = y
    mask = np.zeros_like(probs)
    mask[:, 0] = 1
    f1 = choose_thresholds(probs, targets, mask, {})["safeguarding"]
    f2 = choose_thresholds(probs, targets, mask, {}, fbeta={"safeguarding": 2.0})["safeguarding"]
    assert 0.35 < f1 <= 0.8  # F1 0.80 above the negatives beats 0.67 at 0.3: the 0.3 positive is given up
    assert f2 == pytest.approx(0.3, abs=1e-5)  # F2 0.83 at 0.3 beats 0.71 at 0.8: it is caught
