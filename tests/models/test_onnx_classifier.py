"""Padding-bounded grouping of the ONNX path (its agreement with PyTorch is tested on a trained model in
``tests/training/test_train_e2e.py``)."""

from __future__ import annotations

import random

from models.onnx_classifier import _groups


def test_groups_cover_every_text_once_with_bounded_padding() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(3, 96) for _ in range(500)]
    groups = _groups(lengths, max_size=32, waste=0.25)
    assert sorted(i for g in groups for i in g) == list(range(500))
    for g in groups:
        assert 1 <= len(g) <= 32
        widths = [lengths[i] for i in g]
        assert widths == sorted(widths)
        if len(g) > 1:
            assert 1 - sum(widths) / (max(widths) * len(g)) <= 0.25


def test_groups_edge_cases() -> None:
    assert _groups([], 8) == []
    assert _groups([7], 8) == [[0]]
    assert _groups([5] * 20, 8) == [list(range(0, 8)), list(range(8, 16)), list(range(16, 20))]
