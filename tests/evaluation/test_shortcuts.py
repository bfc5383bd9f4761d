"""The counterfactual machinery: pairs differ only in the cue, and the report counts what changed."""

from __future__ import annotations

from evaluation.shortcuts import (
    IDENTITIES,
    _pairs_identifiers,
    identity_texts,
    recognition_texts,
    run_shortcuts,
)
from models.pipeline import ScreeningPipeline
from models.policy import default_policy
from tests.helpers import KeywordClassifier


def test_pairs_change_only_the_cue() -> None:
    pairs = _pairs_identifiers(100, seed=1)
    assert len(pairs) == 100
    for _, bare, framed in pairs:
        assert bare in framed and framed != bare
    assert len(identity_texts()) >= 250 and all(any(i in t for i in IDENTITIES) for t in identity_texts())
    assert {n for n, _ in recognition_texts()} == {"none", "one", "two", "three"}


def test_report_on_a_cue_blind_classifier(redactor) -> None:  # type: ignore[no-untyped-def]
    """A classifier that reads only harm keywords: identifiers flip nothing, every neutral sentence publishes."""
    pipeline = ScreeningPipeline(classifier=KeywordClassifier(), analyzer=redactor, policy=default_policy())
    r = run_shortcuts(pipeline, pairs=40)
    assert r["identifier_pairs"] == 40
    assert r["identifier_lost_when_identifiers_added"] == 0
    assert r["identity_published"] == r["identity_sentences"]
    assert r["recognition_published"] == r["recognition_posts"]
    # Padding a keyword post with pleasant text changes nothing once every part is read.
    assert r["padding_cases"] == 40 and r["padding_published_when_padded"] == 0
