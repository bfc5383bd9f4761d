"""The care corpus keeps its promises: floors per label, balanced splits, a frozen test split, valid spans."""

from __future__ import annotations

import re

import pytest

from models.taxonomy import CARE_ACT_TYPES, CATEGORIES
from training import care_corpus
from training.care_corpus import CarePost, build, frozen_test_hash, load_posts, parse_markup, stats

FLOORS = {
    "safeguarding": 150,
    "self_harm": 150,
    "toxicity": 150,
    "bullying": 150,
    "confidentiality": 150,
    "hate": 60,
    "threat": 60,
    "sexual": 60,
}


@pytest.fixture(scope="module")
def posts() -> list[CarePost]:
    return load_posts()


def test_size_and_label_floors(posts: list[CarePost]) -> None:
    s = stats(posts)
    assert s["posts"]["total"] >= 2000
    for c, floor in FLOORS.items():
        assert s["labels"][c]["total"] >= floor, (c, s["labels"][c])
    assert s["clean"] >= 800
    assert s["hard_negatives"] >= 300
    assert s["with_spans"] >= 400
    assert set(s["care_act_types"]) == set(CARE_ACT_TYPES)


def test_identifiers_are_not_a_sign_of_no_safeguarding(posts: list[CarePost]) -> None:
    """Disclosures that carry a resident's NHS number or date of birth are trained on, not only handovers: with
    4 such posts against 73 identifier-only ones, a model learnt that an NHS number means "not safeguarding" and
    published a bruising disclosure once the number was in it (data card, "Counts")."""
    strong = {"NHS_NUMBER", "DATE_OF_BIRTH"}
    disclosures = [
        p
        for p in posts
        if p.split == "train" and p.labels["safeguarding"] and strong & {e["type"] for e in p.entities}
    ]
    assert len(disclosures) >= 20


def test_templated_posts_are_a_small_minority(posts: list[CarePost]) -> None:
    assert stats(posts)["templated"] / len(posts) < 0.10


@pytest.mark.parametrize("category", CATEGORIES)
def test_splits_are_balanced(posts: list[CarePost], category: str) -> None:
    """Each split holds roughly its share of each label (stratified), so test figures mean something."""
    total = sum(p.labels[category] for p in posts)
    test = sum(p.labels[category] for p in posts if p.split == "test")
    val = sum(p.labels[category] for p in posts if p.split == "validation")
    assert 0.17 <= test / total <= 0.28, (category, test, total)
    assert 0.10 <= val / total <= 0.20, (category, val, total)


def test_test_split_is_at_least_a_fifth(posts: list[CarePost]) -> None:
    assert sum(p.split == "test" for p in posts) / len(posts) >= 0.20


def test_frozen_frozen_test_hash_is_unchanged() -> None:
    """Editing, adding to or removing from the test split is a deliberate act: re-pin with `data build --freeze`."""
    assert frozen_test_hash() == care_corpus.TEST_HASH_FILE.read_text().strip()


def test_build_is_reproducible_and_keeps_splits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "posts.jsonl"
    out.write_text(care_corpus.POSTS_FILE.read_text())
    rebuilt = {p.id: p.split for p in build(out_file=out)}
    assert rebuilt == {p.id: p.split for p in load_posts()}


def test_near_duplicates_never_straddle_splits(posts: list[CarePost]) -> None:
    groups = care_corpus.near_duplicate_groups([p.text for p in posts])
    splits: dict[int, set[str]] = {}
    for p, g in zip(posts, groups, strict=True):
        splits.setdefault(g, set()).add(p.split)
    assert all(len(s) == 1 for s in splits.values())


def _nhs_valid(digits: str) -> bool:
    d = [int(x) for x in digits]
    check = 11 - sum(x * (10 - i) for i, x in enumerate(d[:9])) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == d[9]


def test_spans_are_exact_and_identifiers_valid_in_form(posts: list[CarePost]) -> None:
    for p in posts:
        for e in p.entities:
            assert p.text[e["start"] : e["end"]] == e["text"], p.id
            if e["type"] == "NHS_NUMBER":
                assert _nhs_valid(re.sub(r"\D", "", e["text"])), (p.id, e["text"])
            if e["type"] == "EMAIL_ADDRESS":
                assert e["text"].endswith(("example.org", "example.com")), (p.id, e["text"])


def test_redacted_training_text_hides_residents_but_keeps_staff(posts: list[CarePost]) -> None:
    for p in posts:
        red = p.redacted_text
        for e in p.entities:
            if e["role"] in ("resident", "family") and len(e["text"]) > 3:
                assert e["text"] not in red or red.count(e["text"]) < p.text.count(e["text"]), p.id


@pytest.mark.parametrize(
    ("marked", "text", "spans"),
    [
        ("Thanks [[Sam|PERSON|staff]]!", "Thanks Sam!", [(7, 10, "PERSON", "staff")]),
        (
            "[[Mrs Hughes|PERSON|resident]] in [[room 4|ROOM|resident]]",
            "Mrs Hughes in room 4",
            [(0, 10, "PERSON", "resident"), (14, 20, "ROOM", "resident")],
        ),
        ("no markup", "no markup", []),
    ],
)
def test_parse_markup(marked: str, text: str, spans: list[tuple[int, int, str, str]]) -> None:
    got_text, got = parse_markup(marked)
    assert got_text == text
    assert [(s["start"], s["end"], s["type"], s["role"]) for s in got] == spans


@pytest.mark.parametrize("bad", ["[[Sam|NAME|staff]]", "[[Sam|PERSON|boss]]", "broken [[Sam|PERSON"])
def test_parse_markup_rejects_bad_markup(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_markup(bad)
