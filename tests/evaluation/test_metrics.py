"""Metrics shared by training, evaluation and the retraining gate."""

from __future__ import annotations

import numpy as np

from models.taxonomy import CATEGORIES


def test_paired_bootstrap_brackets_the_observed_difference() -> None:
    from evaluation.metrics import paired_bootstrap

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
