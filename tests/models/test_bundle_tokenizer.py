"""The serving tokenizer (``tokenizers`` alone) gives exactly the ids and masks of ``transformers.AutoTokenizer``.

The encoder directory is written the way ``save_bundle`` writes it (``AutoTokenizer.save_pretrained`` of the
pinned base encoder), and both tokenizers read it back. Texts: every care-corpus post and challenge case, and
edge cases (empty, whitespace, accents, CJK, emoji, right-to-left, zero-width and look-alike characters, control
characters, special-token strings, runs far past the token limit).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from models.classifier import probabilities
from models.onnx_classifier import BundleTokenizer, _groups

pytest.importorskip("transformers")

EDGE_CASES = [
    "",
    " ",
    "\n\t  \r\n",
    "Doris",
    "DORIS fell in room 12 at 3am!!!",
    "Café naïve résumé coöperate Ångström façade",
    "Zoë's NOK said ‘she’s “fine”’ — honestly…",
    "患者は大丈夫です 病人很好",
    "مريض بخير اليوم",
    "‮txet desrever‬ and ‎marks‏",
    "zero\u200bwidth\u200cjoin\u200dhere\ufeff",
    "D0ris w1th h0mоglyphs (Cyrillic о) аnd Ⅳ ﬁ ① ｆｕｌｌｗｉｄｔｈ",
    "emoji 😀👍🏽👨‍👩‍👧 ❤️ 🇬🇧",
    "control \x00\x01\x07\x1b chars \x7f and \u0085 next",
    "combining e\u0301 a\u0308 o\u0302 \u0336s\u0336t\u0336r\u0336u\u0336c\u0336k",
    "[CLS] [SEP] [PAD] [MASK] [UNK] ##ing",
    "https://example.org/a?b=c&d=e mail me at someone@example.org or 07700 900123",
    "NHS 943 476 5919, NI AB123456C, postcode SW1A 1AA, key safe 4821#",
    "word " * 600,
    "supercalifragilisticexpialidocious" * 30,
    "!!!???...,,,;;;:::---___***&&&^^^%%%$$$###@@@",
    "a" * 5000,
]


def _texts() -> list[str]:
    from evaluation.challenge_suite import load_cases
    from training.care_corpus import load_posts

    posts = [p.text for p in load_posts()]
    cases = [c.text for c in load_cases()]
    rng = random.Random(7)
    return EDGE_CASES + rng.sample(posts, min(1500, len(posts))) + rng.sample(cases, min(500, len(cases)))


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoTokenizer

    from models.classifier import base_model_path

    directory = tmp_path_factory.mktemp("bundle") / "encoder"
    AutoTokenizer.from_pretrained(base_model_path()).save_pretrained(directory)
    return directory


@pytest.mark.parametrize("max_length", [8, 48, 96, 128, 512])
def test_ids_and_masks_match_auto_tokenizer(encoder_dir: Path, max_length: int) -> None:
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(encoder_dir)
    ours = BundleTokenizer(encoder_dir, max_length=max_length)
    texts = _texts()
    expected = reference(texts, truncation=True, max_length=max_length)
    got = ours(texts, truncation=True, max_length=max_length)
    assert ours.pad_token_id == reference.pad_token_id
    mismatched = [
        t[:60] for t, a, b in zip(texts, expected["input_ids"], got["input_ids"], strict=True) if a != b
    ]
    assert not mismatched, f"{len(mismatched)} of {len(texts)} texts differ, e.g. {mismatched[:3]}"
    assert got["attention_mask"] == expected["attention_mask"]
    assert max(len(x) for x in got["input_ids"]) == max_length  # the long edge cases are truncated
    assert all(x[0] == reference.cls_token_id and x[-1] == reference.sep_token_id for x in got["input_ids"])


def test_padded_batches_match_auto_tokenizer(encoder_dir: Path) -> None:
    """What the ONNX session is fed (right-padded ids and masks per group) is the same with either tokenizer."""
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(encoder_dir)
    ours = BundleTokenizer(encoder_dir, max_length=96)
    texts = _texts()[:400]

    def fed(tokenizer: object) -> list[tuple[list[list[int]], list[list[int]]]]:
        seen: list[tuple[list[list[int]], list[list[int]]]] = []

        def forward(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            seen.append((ids.tolist(), mask.tolist()))
            return np.zeros((len(ids), 8), dtype=np.float32)

        probabilities(
            texts,
            tokenizer=tokenizer,
            max_length=96,
            batches=lambda lengths: _groups(lengths, 32),
            forward=forward,
            to_probs=lambda x: x,
        )
        return seen

    assert fed(ours) == fed(reference)


def test_tokenizer_refuses_another_max_length(encoder_dir: Path) -> None:
    ours = BundleTokenizer(encoder_dir, max_length=48)
    with pytest.raises(ValueError):
        ours(["x"], truncation=True, max_length=96)
