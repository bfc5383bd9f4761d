"""PolicyEngine.decide, table-driven: precedence escalate > block > hold > allow_redacted > allow; fail closed."""

from __future__ import annotations

import pytest

from models.policy import DECISIONS, PUBLISHABLE, PolicyEngine, default_policy
from models.taxonomy import CATEGORIES


def scores(**hits: float) -> dict[str, float]:
    return {c: hits.get(c, 0.02) for c in CATEGORIES}


# (id, flags with their scores, redacted, judgeable, degraded) -> (decision, priority, reasons)
CASES = [
    ("clean", {}, False, True, (), "allow", None, ()),
    ("clean-redacted", {}, True, True, (), "allow_redacted", None, ()),
    ("toxicity", {"toxicity": 0.8}, False, True, (), "hold", "normal", ("toxicity",)),
    ("bullying-redacted", {"bullying": 0.7}, True, True, (), "hold", "normal", ("bullying",)),
    ("hate-low", {"hate": 0.6}, False, True, (), "hold", "normal", ("hate",)),
    ("hate-high", {"hate": 0.95}, False, True, (), "block", "high", ("hate",)),
    ("threat-at-threshold", {"threat": 0.9}, False, True, (), "block", "high", ("threat",)),
    ("sexual-high", {"sexual": 0.99}, True, True, (), "block", "high", ("sexual",)),
    ("block-beats-hold", {"sexual": 0.99, "toxicity": 0.9}, False, True, (), "block", "high", ("sexual",)),
    ("safeguarding", {"safeguarding": 0.7}, True, True, (), "escalate", "urgent", ("safeguarding",)),
    ("self-harm", {"self_harm": 0.6}, False, True, (), "escalate", "urgent", ("self_harm",)),
    (
        "escalate-beats-block",
        {"self_harm": 0.9, "threat": 0.99},
        False,
        True,
        (),
        "escalate",
        "urgent",
        ("self_harm",),
    ),
    (
        "both-urgent",
        {"safeguarding": 0.9, "self_harm": 0.9},
        False,
        True,
        (),
        "escalate",
        "urgent",
        ("safeguarding", "self_harm"),
    ),
    (
        "escalate-beats-degraded",
        {"safeguarding": 0.9},
        False,
        True,
        ("pii",),
        "escalate",
        "urgent",
        ("safeguarding",),
    ),
    ("degraded-classifier", {}, False, True, ("classifier",), "hold", "high", ("degraded:classifier",)),
    ("degraded-pii", {}, True, True, ("pii",), "hold", "high", ("degraded:pii",)),
    ("degraded-beats-block", {"hate": 0.99}, False, True, ("pii",), "hold", "high", ("degraded:pii",)),
    (
        "confidentiality-unredacted",
        {"confidentiality": 0.8},
        False,
        True,
        (),
        "hold",
        "normal",
        ("confidentiality",),
    ),
    ("confidentiality-redacted", {"confidentiality": 0.8}, True, True, (), "allow_redacted", None, ()),
    ("unjudgeable", {}, False, False, (), "hold", "normal", ("unjudgeable",)),
    ("unjudgeable-redacted", {}, True, False, (), "hold", "normal", ("unjudgeable",)),
    ("unjudgeable-toxic", {"toxicity": 0.9}, False, False, (), "hold", "normal", ("toxicity", "unjudgeable")),
]


@pytest.mark.parametrize(
    ("flags", "redacted", "judgeable", "degraded", "decision", "priority", "reasons"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decide(flags, redacted, judgeable, degraded, decision, priority, reasons):  # type: ignore[no-untyped-def]
    v = default_policy().decide(
        scores=scores(**flags), flags=list(flags), redacted=redacted, judgeable=judgeable, degraded=degraded
    )
    assert v.decision in DECISIONS
    assert (v.decision, v.priority, v.reasons) == (decision, priority, reasons)
    if decision != "allow":
        assert v.author_message.strip()
    if degraded and decision not in ("escalate",):
        assert v.decision not in PUBLISHABLE


@pytest.mark.parametrize("degraded", [("classifier",), ("pii",), ("classifier", "pii")])
@pytest.mark.parametrize("redacted", [False, True])
def test_degraded_is_never_publishable(degraded, redacted):  # type: ignore[no-untyped-def]
    v = default_policy().decide(scores=scores(), flags=[], redacted=redacted, degraded=degraded)
    assert v.decision == "hold"
    assert "moderator" in v.author_message


def test_self_harm_message_signposts_support():
    v = default_policy().decide(scores=scores(self_harm=0.9), flags=["self_harm"], redacted=False)
    assert "Samaritans" in v.author_message and "116 123" in v.author_message
    both = default_policy().decide(
        scores=scores(self_harm=0.9, safeguarding=0.9), flags=["self_harm", "safeguarding"], redacted=False
    )
    assert "116 123" in both.author_message and "safeguarding lead" in both.author_message


def test_safeguarding_message_mentions_the_lead_and_999():
    v = default_policy().decide(scores=scores(safeguarding=0.9), flags=["safeguarding"], redacted=False)
    assert "safeguarding lead" in v.author_message and "999" in v.author_message
    assert "116 123" not in v.author_message


@pytest.mark.parametrize(
    ("flags", "phrase"),
    [
        (["toxicity"], "insulting"),
        (["bullying"], "colleague"),
        (["confidentiality"], "private details"),
    ],
)
def test_hold_message_says_why_in_plain_words(flags, phrase):  # type: ignore[no-untyped-def]
    v = default_policy().decide(scores=scores(**dict.fromkeys(flags, 0.8)), flags=flags, redacted=False)
    assert v.decision == "hold"
    assert phrase in v.author_message
    assert "{reason}" not in v.author_message


def test_policy_file_is_complete_and_versioned():
    p = PolicyEngine()
    assert p.version and isinstance(p.version, str)
    assert set(CATEGORIES) <= set(p.categories)
    for c in CATEGORIES:
        assert p.categories[c]["definition"] and p.categories[c]["examples"]


def test_policy_file_missing_a_category_is_rejected(tmp_path):  # type: ignore[no-untyped-def]
    import yaml

    from models.policy import POLICY_FILE

    raw = yaml.safe_load(POLICY_FILE.read_text())
    del raw["categories"]["hate"]
    bad = tmp_path / "policy.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="hate"):
        PolicyEngine(bad)
