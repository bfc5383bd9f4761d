"""Language identification for ``is_judgeable`` (issue "operations", item 5): the written cases, the shipped rule
on them, and the measurement module."""

from __future__ import annotations

from collections import Counter

import pytest

from evaluation.language_id import (
    BUILDERS,
    Candidate,
    choose_threshold,
    corpus_cases,
    group_accuracy,
    judged,
    load_cases,
    run,
    score_cases,
    to_markdown,
)
from models.language import MIN_ENGLISH_CONFIDENCE, MIN_WORDS, english_confidence, identifier_words
from models.normalize import is_judgeable, normalize

FOREIGN = ["romanian", "portuguese", "polish", "spanish", "tagalog", "hindi_latin", "hindi_devanagari", "arabic", "welsh"]  # fmt: skip
ENGLISH = ["english_typos", "english_abbreviations", "english_code_switching", "english_short"]


@pytest.fixture(scope="module")
def cases():  # type: ignore[no-untyped-def]
    return load_cases()


def test_the_cases_are_what_the_issue_asks_for(cases) -> None:  # type: ignore[no-untyped-def]
    per = Counter(c.group for c in cases)
    assert all(per[g] >= 40 for g in FOREIGN + ENGLISH), per
    assert len({c.id for c in cases}) == len({c.text for c in cases}) == len(cases)
    for c in cases:
        words = len(c.text.split())
        assert c.english is (c.group in ENGLISH), c.id
        if c.group in FOREIGN:
            assert 5 <= words <= 40, c.id
        if c.group == "english_short":
            assert 1 <= words <= 4, c.id


def test_the_shipped_rule_holds_no_english_post_and_the_foreign_ones(cases) -> None:  # type: ignore[no-untyped-def]
    wrong = Counter(c.group for c in cases if is_judgeable(c.text) is not c.english)
    assert all(wrong[g] == 0 for g in ENGLISH), wrong  # a false hold is costly: none
    assert all(wrong[g] == 0 for g in FOREIGN if g != "hindi_latin"), wrong
    assert wrong["hindi_latin"] <= 10, wrong  # no library knows romanised Hindi; 8 of 40 pass today


def test_the_threshold_keeps_its_margin(cases) -> None:  # type: ignore[no-untyped-def]
    """The threshold is half the lowest English confidence of any English post (care corpus and written cases)
    the identifier reads: if new posts come closer, re-run ``python -m evaluation.language_id`` and re-choose."""
    english = [c.text for c in corpus_cases(None)] + [c.text for c in cases if c.english]
    read = [identifier_words(normalize(t).text) for t in english]
    lowest = min(english_confidence(" ".join(w)) for w in read if len(w) >= MIN_WORDS)
    assert lowest >= 1.7 * MIN_ENGLISH_CONFIDENCE, lowest


def test_names_and_identity_terms_do_not_make_a_post_foreign() -> None:
    """ "Priya is a Filipino person" read whole is Tagalog to the identifier: capitalised words are left out."""
    from evaluation.shortcuts import identity_texts

    assert all(is_judgeable(t) for t in identity_texts())
    assert is_judgeable("Priya is a Zimbabwean person") and is_judgeable("Aisha is a Hindu person")


def _stub() -> Candidate:
    def scores(text: str) -> tuple[str, float]:
        english = "the" in text.split() or "and" in text.split()
        return ("en", 0.9) if english else ("xx", 0.05)

    return Candidate("stub", scores)


def test_accuracy_and_threshold_on_a_stub(cases) -> None:  # type: ignore[no-untyped-def]
    scored = score_cases(_stub(), cases)
    table = group_accuracy(scored, MIN_WORDS, 0.5)
    assert table["arabic"]["english_or_not"] == 1.0  # the script rule, before any library
    assert all(
        judged(s, MIN_WORDS, 0.5) for s in scored if s.words < MIN_WORDS and not s.non_latin
    )  # the floor
    rule = choose_threshold(scored, MIN_WORDS)
    assert rule["lowest_english"] == 0.05 and rule["threshold"] == 0.025


def test_run_and_report(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def missing() -> Candidate:
        raise ImportError("not here", name="nolib")

    monkeypatch.setitem(BUILDERS, "missing", missing)
    report = run(["word_lists", "py3langid", "missing"], 50, MIN_WORDS, memory=False)
    assert report["candidates"]["missing"] == {"skipped": "not installed (nolib)"}
    py = report["candidates"]["py3langid"]
    assert py["groups"]["english_short"]["english_or_not"] == 1.0
    assert py["rule"]["held_at_threshold"] > 0.95 and report["baseline_ms"] > 0
    text = to_markdown(report)
    assert "| romanian | 40 |" in text and "x word lists" in text
