"""The screening pipeline with the deterministic KeywordClassifier and the real Presidio redactor."""

from __future__ import annotations

import pytest

from models.pii.findings import Finding
from models.pipeline import ScreeningPipeline, ScreenRequest, apply_redactions
from models.policy import PUBLISHABLE, default_policy
from models.taxonomy import CATEGORIES
from tests.helpers import KeywordClassifier


@pytest.fixture
def pipeline(redactor):  # type: ignore[no-untyped-def]
    return ScreeningPipeline(classifier=KeywordClassifier(), analyzer=redactor, policy=default_policy())


def test_disguised_name_and_word(pipeline) -> None:  # type: ignore[no-untyped-def]
    text = "D0ris in r00m 4 has a bru1se"
    r = pipeline.screen(ScreenRequest(text=text))
    assert "safeguarding" in r.flags
    assert r.decision == "escalate" and r.priority == "urgent"
    assert "D0ris" not in r.redacted_text
    persons = [e for e in r.entities if e.type == "PERSON"]
    assert [(e.start, e.end) for e in persons] == [(0, 5)]
    assert text[persons[0].start : persons[0].end] == "D0ris"
    assert r.redacted_text.endswith(" in r00m 4 has a bru1se") or "[ROOM]" in r.redacted_text
    assert r.degraded == []


@pytest.mark.parametrize(
    ("plain", "disguised"),
    [
        ("Doris has a bruise on her arm", "D\u200bo\u200bris has a b r u i s e on her arm"),
        ("whoever did that is an idiot", "whoever did that is an 1d10t"),
        ("whoever did that is an idiot", "whoever did that is an \u0456d\u0456ot"),
        ("I just want to end it all", "I just want to 3nd it @ll"),
        ("nobody sit with her at break", "n0b0dy sit with her at break"),
    ],
)
def test_obfuscated_variants_keep_the_flags(pipeline, plain: str, disguised: str) -> None:  # type: ignore[no-untyped-def]
    a, b = pipeline.screen_many([ScreenRequest(text=plain), ScreenRequest(text=disguised)])
    assert a.flags and a.flags == b.flags
    assert a.decision == b.decision


def test_entities_point_into_the_original_with_invisibles(pipeline) -> None:  # type: ignore[no-untyped-def]
    text = "Mrs\u200b Hughes in room 12 was lovely today"
    r = pipeline.screen(ScreenRequest(text=text))
    spans = [text[e.start : e.end] for e in r.entities]
    assert any("Hughes" in s for s in spans), spans
    assert "Hughes" not in r.redacted_text
    assert r.decision in ("allow_redacted",)


def test_staff_directory_names_are_kept(pipeline) -> None:  # type: ignore[no-untyped-def]
    text = "Huge thanks to Priya Sharma for sitting with Mrs Hughes all afternoon"
    r = pipeline.screen(ScreenRequest(text=text, staff_names=["Priya Sharma"], kind="special_mention"))
    assert "Priya Sharma" in r.redacted_text and "Hughes" not in r.redacted_text
    assert [text[k.start : k.end] for k in r.kept] == ["Priya Sharma"]


def test_classifier_sees_redacted_text(redactor) -> None:  # type: ignore[no-untyped-def]
    clf = KeywordClassifier()
    seen: list[str] = []
    original = clf.predict_proba

    def spy(texts):  # type: ignore[no-untyped-def]
        seen.extend(texts)
        return original(texts)

    clf.predict_proba = spy  # type: ignore[method-assign]
    p = ScreeningPipeline(classifier=clf, analyzer=redactor, policy=default_policy())
    p.screen(ScreenRequest(text="Doris in room 4 enjoyed the garden"))
    assert seen and "Doris" not in seen[0]


def test_batch_has_one_forward_pass_and_keeps_order(redactor) -> None:  # type: ignore[no-untyped-def]
    clf = KeywordClassifier()
    p = ScreeningPipeline(classifier=clf, analyzer=redactor, policy=default_policy())
    texts = ["nice day", "you useless cow", "send pics", "I want to end it all"]
    results = p.screen_many([ScreenRequest(text=t) for t in texts])
    assert clf.calls == [4]
    assert [r.decision for r in results] == ["allow", "hold", "block", "escalate"]
    for r in results:
        assert set(r.scores) == set(CATEGORIES)
        assert r.model_version == KeywordClassifier.version and r.policy_version == default_policy().version


def test_classifier_fault_fails_closed(redactor) -> None:  # type: ignore[no-untyped-def]
    clf = KeywordClassifier()
    clf.fail = True
    p = ScreeningPipeline(classifier=clf, analyzer=redactor, policy=default_policy())
    for t in ("nice day", "Doris in room 4 enjoyed the garden"):
        r = p.screen(ScreenRequest(text=t))
        assert r.decision == "hold" and r.degraded == ["classifier"] and r.flags == []


def test_pii_fault_fails_closed(redactor, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("pii down")

    monkeypatch.setattr(redactor, "analyze", boom)
    monkeypatch.setattr(redactor, "analyze_many", boom)
    p = ScreeningPipeline(classifier=KeywordClassifier(), analyzer=redactor, policy=default_policy())
    calm, disclosure = p.screen_many(
        [ScreenRequest(text="Doris enjoyed the garden"), ScreenRequest(text="Doris has a bruise")]
    )
    assert calm.decision == "hold" and calm.degraded == ["pii"] and calm.redacted_text == ""
    assert disclosure.decision == "escalate" and disclosure.redacted_text == ""
    assert calm.decision not in PUBLISHABLE


def test_one_failing_post_in_a_batch_degrades_only_itself(redactor, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The batched NLP pass failing falls back to post-by-post analysis: the others are still screened."""
    real_many = redactor.analyze_many

    def many_boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("batch failed")

    def analyze(text, **k):  # type: ignore[no-untyped-def]
        if "poison" in text:
            raise RuntimeError("this post breaks the PII engine")
        return real_many([text], staff_names=[k.get("staff_names", ())])[0]

    monkeypatch.setattr(redactor, "analyze_many", many_boom)
    monkeypatch.setattr(redactor, "analyze", analyze)
    p = ScreeningPipeline(classifier=KeywordClassifier(), analyzer=redactor, policy=default_policy())
    ok, bad = p.screen_many(
        [ScreenRequest(text="Doris Pike in room 4 enjoyed the garden"), ScreenRequest(text="poison post")]
    )
    assert ok.degraded == [] and "Doris" not in ok.redacted_text and ok.entities
    assert bad.degraded == ["pii"] and bad.decision == "hold" and bad.redacted_text == ""


def test_batched_analysis_matches_one_by_one(redactor) -> None:  # type: ignore[no-untyped-def]
    """``analyze_many`` (one spaCy pass) finds exactly what ``analyze`` finds post by post."""
    from training.care_corpus import load_posts

    texts = [p.text for p in load_posts(split="test")][:60]
    staff = [["Priya Sharma"]] * len(texts)
    assert redactor.analyze_many(texts, staff_names=staff) == [
        redactor.analyze(t, staff_names=s) for t, s in zip(texts, staff, strict=True)
    ]


def test_unjudgeable_posts_go_to_a_person(pipeline) -> None:  # type: ignore[no-untyped-def]
    r = pipeline.screen(ScreenRequest(text="Сегодня был очень тяжёлый день на работе"))
    assert r.decision == "hold" and r.judgeable is False and "unjudgeable" in r.reasons


def test_apply_redactions_right_to_left() -> None:
    text = "Doris in room 4"
    out = apply_redactions(
        text, [Finding("ROOM", 9, 15, 1.0, "resident"), Finding("PERSON", 0, 5, 0.9, "resident")]
    )
    assert out == "[RESIDENT] in [ROOM]"
