"""Padding-bounded grouping of the ONNX path and the shared tokenise -> forward -> sigmoid (its agreement with PyTorch is tested on a trained model in
``tests/training/test_train_e2e.py``)."""

from __future__ import annotations

import random

import numpy as np

from models.classifier import in_order, probabilities, sigmoid
from models.onnx_classifier import _groups
from models.taxonomy import CATEGORIES


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


class _Tokenizer:
    """Stands in for a Hugging Face tokenizer: one token per word, ids from the word lengths."""

    pad_token_id = 0

    def __call__(self, texts: list[str], truncation: bool, max_length: int) -> dict[str, list[list[int]]]:
        assert truncation
        return {"input_ids": [[len(w) for w in t.split()][:max_length] for t in texts]}


def test_probabilities_pads_right_and_keeps_input_order() -> None:
    seen: list[tuple[list[list[int]], list[list[int]]]] = []

    def forward(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        seen.append((ids.tolist(), mask.tolist()))
        return np.repeat(mask.sum(1, keepdims=True).astype(np.float32), len(CATEGORIES), axis=1)

    texts = ["a bb ccc dddd", "x", "yy zz"]
    probs = probabilities(
        texts,
        tokenizer=_Tokenizer(),
        max_length=3,
        batches=lambda lengths: _groups(lengths, 2),
        forward=forward,
        to_probs=sigmoid,
    )
    assert seen == [([[1, 0], [2, 2]], [[1, 0], [1, 1]]), ([[1, 2, 3]], [[1, 1, 1]])]
    assert probs.dtype == np.float32 and probs.shape == (3, len(CATEGORIES))
    assert np.allclose(probs[:, 0], 1 / (1 + np.exp(-np.array([3.0, 1.0, 2.0]))))
    assert in_order(5, 2) == [[0, 1], [2, 3], [4]]
    empty = probabilities([], tokenizer=_Tokenizer(), max_length=3, batches=None, forward=None, to_probs=None)  # type: ignore[arg-type]
    assert empty.shape == (0, len(CATEGORIES))
