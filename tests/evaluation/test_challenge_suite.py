"""The care challenge suite is frozen, large, varied, and written apart from the training data (issue 16)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from evaluation.challenge_suite import (
    HASH_FILE,
    load_cases,
    load_spec,
    suite_hash,
    summarise,
    urgent_regressions,
)
from models.taxonomy import CARE_ACT_TYPES
from training.care_corpus import load_posts


@pytest.fixture(scope="module")
def cases():  # type: ignore[no-untyped-def]
    return load_cases()


def test_the_suite_is_frozen(cases) -> None:  # type: ignore[no-untyped-def]
    """Editing, adding or removing a case (or an expected decision) changes the pinned hash."""
    assert suite_hash(cases) == HASH_FILE.read_text().strip()


def test_size_functionalities_and_voices(cases) -> None:  # type: ignore[no-untyped-def]
    groups, funcs = load_spec()
    assert len(cases) >= 1500
    assert len({c.id for c in cases}) == len(cases)
    per = Counter(c.functionality for c in cases)
    assert set(per) == set(funcs), set(per) ^ set(funcs)
    assert len(funcs) >= 35
    assert min(per.values()) >= 20, per.most_common()[-3:]
    voices = {c.id.rsplit("-", 1)[0] for c in cases}
    assert len(voices) >= 6, voices
    # One safeguarding functionality per Care Act 2014 type, and every group has a target.
    assert {f"sg_{t}" for t in CARE_ACT_TYPES} <= set(funcs)
    assert all("target" in g for g in groups.values())
    for c in cases:
        assert c.kind == funcs[c.functionality].kind, c.id
        assert c.text.strip() and "[[" not in c.text


def test_long_post_cases_are_long(cases) -> None:  # type: ignore[no-untyped-def]
    longs = [c for c in cases if c.functionality == "sg_late_in_long_post"]
    assert longs and all(len(c.text.split()) >= 100 for c in longs), min(len(c.text.split()) for c in longs)


def test_no_training_or_validation_post_is_near_a_suite_case(cases) -> None:  # type: ignore[no-untyped-def]
    """The suite measures generalisation only if nothing in training is a near copy (TF-IDF cosine < 0.8)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    corpus = [p.text for p in load_posts() if p.split in ("train", "validation")]
    suite = [c.text for c in cases]
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(corpus + suite)
    sim = (vec.transform(suite) @ vec.transform(corpus).T).tocsr()
    worst = float(sim.max()) if sim.nnz else 0.0
    if worst >= 0.8:
        i, j = np.unravel_index(int(sim.toarray().argmax()), sim.shape)
        pytest.fail(f"suite case {cases[i].id} is {worst:.2f} from a training post: {corpus[j][:80]!r}")


def _summary(rates: dict[str, float]) -> dict:  # type: ignore[type-arg]
    _, funcs = load_spec()
    rows = []
    for name, f in funcs.items():
        rate = rates.get(name, 1.0)
        good = sorted(f.expected)[0]
        bad = next(d for d in ("allow", "block", "escalate", "hold") if d not in f.expected)
        rows += [{"functionality": name, "decision": good if k < rate * 100 else bad} for k in range(100)]
    return summarise(rows)


def test_summary_rates_and_targets() -> None:
    s = _summary({"sg_neglect": 0.85, "pub_ooo": 1.0})
    assert s["functionalities"]["sg_neglect"]["rate"] == pytest.approx(0.85)
    assert not s["functionalities"]["sg_neglect"]["met"]  # safeguarding target 0.90
    assert s["functionalities"]["pub_ooo"]["met"]
    assert (
        s["groups"]["safeguarding"]["functionalities_met"]
        == s["groups"]["safeguarding"]["functionalities"] - 1
    )


def test_gate_rule_refuses_a_loss_on_an_urgent_functionality() -> None:
    champion = _summary({"sg_neglect": 0.95, "harm_hate": 0.95})
    assert urgent_regressions(champion, _summary({"sg_neglect": 0.94, "harm_hate": 0.95})) == []
    lost = urgent_regressions(champion, _summary({"sg_neglect": 0.92, "harm_hate": 0.95}))
    assert len(lost) == 1 and lost[0].startswith("sg_neglect")
    # A loss on a non-urgent functionality is not this rule's business.
    assert urgent_regressions(champion, _summary({"sg_neglect": 0.95, "harm_hate": 0.80})) == []
