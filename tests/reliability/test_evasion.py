"""Evasion (issue 10 §2): obfuscated variants of positive posts keep the plain post's flags (the text is folded
before classification), and redaction spans still point into what the author actually wrote."""

from __future__ import annotations

import pytest

from evaluation.reliability.evasion import VARIANTS, evasion_agreement
from tests.helpers import auth

# Positive posts for the deterministic KeywordClassifier (tests/conftest.py), one per kind of harm.
POSITIVE = [
    "whoever left the sluice like that is a lazy idiot",
    "she is a useless cow and everyone knows it",
    "honestly i just want to end it all after these nights",
    "saw him hit her in the lounge when he thought nobody was looking",
    "nobody sit with the new girl at break, she reports everything",
    "send pics of you in your uniform later",
]


@pytest.fixture
def poster(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "poster"))


def _flags(client, poster, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    r = client.post("/v1/screen", json={"text": text}, headers=poster)
    assert r.status_code == 200, r.text
    return r.json()["flags"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", list(VARIANTS))
def test_obfuscated_variants_keep_the_plain_flags(client, poster, kind: str) -> None:  # type: ignore[no-untyped-def]
    for text in POSITIVE:
        variant = VARIANTS[kind](text)
        assert variant != text
        plain = _flags(client, poster, text)
        assert plain, f"fixture post not positive: {text!r}"
        assert _flags(client, poster, variant) == plain, (kind, variant)


def test_agreement_rate_is_total_on_the_positive_set(client, app_state) -> None:  # type: ignore[no-untyped-def]
    r = evasion_agreement(app_state.holder.pipeline, POSITIVE)
    assert r["plain_flagged"] == len(POSITIVE)
    assert r["agreement"] == 1.0, r
    # Without the folding the keyword classifier misses most disguises: the normaliser is what holds the line.
    assert min(v["agreement_without_normalisation"] for v in r["by_variant"].values()) < 1.0


@pytest.mark.parametrize("disguised", ["D0ris", "Do\u200bris", "D\u043eris", "Dor1s"])
def test_redaction_spans_point_into_the_original_text(client, poster, disguised: str) -> None:  # type: ignore[no-untyped-def]
    text = f"{disguised} in room 4 had a fall this morning, she is ok now"
    r = client.post("/v1/screen", json={"text": text}, headers=poster)
    assert r.status_code == 200, r.text
    body = r.json()
    persons = [e for e in body["entities"] if e["type"] == "PERSON"]
    assert persons, body
    assert text[persons[0]["start"] : persons[0]["end"]] == disguised
    rooms = [e for e in body["entities"] if e["type"] == "ROOM"]
    assert rooms and text[rooms[0]["start"] : rooms[0]["end"]] == "room 4"
    assert body["redacted_text"] == "[RESIDENT] in [ROOM] had a fall this morning, she is ok now"
