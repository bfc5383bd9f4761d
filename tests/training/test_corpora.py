"""External-corpus loaders: label mapping, masks, splits and robustness.

The fixtures under ``fixtures/corpora/<name>/`` use each corpus's exact file layout (file names, headers,
delimiters, CRLF/encoding quirks) with invented text. The last group of tests runs the real loaders against
``../shared/datasets`` and is skipped where that folder is absent (a fresh clone).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from models.taxonomy import CATEGORIES
from training.corpora import (
    LOADERS,
    SPLITS,
    CorpusLoader,
    available_corpora,
    load_corpus,
    load_pii_spans,
    load_wnut17_persons,
    shared_datasets_dir,
)
from training.corpora._common import hash_split

FIXTURES = Path(__file__).parent / "fixtures" / "corpora"

# (corpus, {id: (split, labels)}) — the complete expected output on the fixture, masks included.
EXPECTED: list[tuple[str, dict[str, tuple[str, dict[str, int]]]]] = [
    (
        "davidson_hate_offensive",
        {
            "0": ("test", {"hate": 1, "toxicity": 1}),
            "1": ("train", {"hate": 0, "toxicity": 1}),
            "2": ("test", {"hate": 0, "toxicity": 0}),
            "3": ("train", {"hate": 0, "toxicity": 1}),
            "4": ("train", {"hate": 0, "toxicity": 0}),
        },
    ),
    (
        "olid",
        {
            "10001": ("train", {"toxicity": 1}),
            "10002": ("train", {"toxicity": 0, "hate": 0, "threat": 0}),
            "10003": ("train", {"toxicity": 1}),
            "10004": ("train", {"toxicity": 0, "hate": 0, "threat": 0}),
            "10005": ("train", {"toxicity": 1}),
            "10006": ("validation", {"toxicity": 0, "hate": 0, "threat": 0}),
            "20001": ("test", {"toxicity": 1}),
            "20002": ("test", {"toxicity": 0, "hate": 0, "threat": 0}),
            "20003": ("test", {"toxicity": 1}),
            "20004": ("test", {"toxicity": 0, "hate": 0, "threat": 0}),
            "20005": ("test", {"toxicity": 0, "hate": 0, "threat": 0}),
        },
    ),
    (
        "convabuse",
        {
            "1": ("train", {"toxicity": 0, "sexual": 0, "hate": 0}),
            "2": ("train", {"toxicity": 1, "sexual": 0, "hate": 0}),  # "intellectual" is not hate
            "3": ("train", {"toxicity": 1, "sexual": 1}),  # 1 of 3 flagged sexist: hate masked
            "4": ("train", {"toxicity": 0, "sexual": 0}),  # minority abusive; minority sexist -> hate masked
            "6": ("validation", {"toxicity": 1, "sexual": 0, "hate": 1}),
            "7": ("validation", {"toxicity": 0, "sexual": 0, "hate": 0}),
            "8": ("test", {"toxicity": 0, "sexual": 0, "hate": 0}),
            "9": ("test", {"toxicity": 1, "sexual": 0, "hate": 0}),
        },
    ),
    (
        "edos_sexism",
        {
            "sexism2022_english-1": ("train", {"hate": 1}),
            "sexism2022_english-2": ("train", {"hate": 1, "toxicity": 1}),
            "sexism2022_english-3": ("validation", {"hate": 1, "threat": 1}),
            "sexism2022_english-6": ("test", {"hate": 1}),
        },
    ),
    (
        "toxic_spans_semeval2021",
        {
            "train-0": ("train", {"toxicity": 1}),
            "train-2": ("train", {"toxicity": 1}),
            "validation-0": ("validation", {"toxicity": 1}),
            "test-0": ("test", {"toxicity": 1}),
        },
    ),
    (
        "online_misogyny_reddit",
        {
            "fx001": ("train", {"hate": 1}),
            "fx002": ("train", {"hate": 1, "threat": 1}),
            "fx003": ("test", {"toxicity": 1}),
            "fx006": ("test", {"hate": 1, "toxicity": 1}),
        },
    ),
    (
        "jigsaw_toxic_sample",
        {
            "0": ("test", {"toxicity": 0, "threat": 0, "hate": 0}),
            "1": ("test", {"toxicity": 1, "threat": 0, "hate": 0}),
            "2": ("test", {"toxicity": 1, "threat": 1, "hate": 0}),
            "3": ("test", {"toxicity": 1, "threat": 0, "hate": 1}),
            "4": ("test", {"toxicity": 0, "threat": 0, "hate": 0}),
        },
    ),
    (
        "goemotions",
        {
            "gx0001": ("train", {"self_harm": 0, "threat": 0}),
            "gx0002": ("train", {"self_harm": 0, "threat": 0}),
            "gx0101": ("validation", {"self_harm": 0, "threat": 0}),
            "gx0201": ("test", {"self_harm": 0, "threat": 0}),
        },
    ),
    (
        "counsel_chat",
        {
            "1": ("train", {"self_harm": 1}),
            "2": ("train", {"self_harm": 0}),
            "5": ("test", {"self_harm": 0}),
        },
    ),
    (
        "nhs_patient_experience_pxtextmining",
        {
            "FX 1 - Q1": ("train", {"safeguarding": 0}),
            "FX 2 - Q1": ("train", {"safeguarding": 1}),
        },
    ),
]


def test_every_loader_has_a_fixture_case() -> None:
    covered = {name for name, _ in EXPECTED} | {"toxigen_seed_statements"}
    assert covered == set(LOADERS)


def test_loaders_satisfy_the_protocol() -> None:
    for name, loader in LOADERS.items():
        assert isinstance(loader, CorpusLoader)
        assert loader.name == name
        assert loader.mapping and "\n" not in loader.mapping


@pytest.mark.parametrize(("name", "expected"), EXPECTED, ids=[name for name, _ in EXPECTED])
def test_fixture_labels_masks_and_splits(name: str, expected: dict[str, tuple[str, dict[str, int]]]) -> None:
    examples = load_corpus(name, FIXTURES)
    got = {ex.id: (ex.split, dict(ex.labels)) for ex in examples}
    assert got == {f"{name}:{orig}": value for orig, value in expected.items()}
    for ex in examples:
        assert ex.source == name
        assert ex.text == ex.text.strip() and ex.text
        assert set(ex.labels) <= set(CATEGORIES) and ex.labels  # never an all-masked example


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_split_filter_and_limit(name: str) -> None:
    everything = load_corpus(name, FIXTURES)
    for split in SPLITS:
        only = load_corpus(name, FIXTURES, split=split)
        assert [ex.id for ex in only] == [ex.id for ex in everything if ex.split == split]
    assert len(load_corpus(name, FIXTURES, limit=1)) == min(1, len(everything))
    assert load_corpus(name, FIXTURES, limit=0) == []


def test_unknown_split_or_name_is_an_error() -> None:
    with pytest.raises(ValueError):
        load_corpus("olid", FIXTURES, split="dev")
    with pytest.raises(KeyError):
        load_corpus("no_such_corpus", FIXTURES)


def test_toxigen_dedupes_statements_across_groups() -> None:
    examples = load_corpus("toxigen_seed_statements", FIXTURES)
    assert Counter(ex.labels["hate"] for ex in examples) == Counter({1: 2, 0: 2})
    shared = [ex for ex in examples if ex.text.startswith("zorblaxians are only")]
    assert len(shared) == 1 and shared[0].meta["target_groups"] == ["immigrant", "middle_east"]
    assert all(ex.split == hash_split(ex.id.split(":", 1)[1], "toxigen_seed_statements") for ex in examples)


def test_robust_reading_quirks() -> None:
    davidson = {ex.id: ex for ex in load_corpus("davidson_hate_offensive", FIXTURES)}
    assert "café" in davidson["davidson_hate_offensive:0"].text  # cp1252 file decoded
    assert "&amp;" not in davidson["davidson_hate_offensive:1"].text  # HTML entities decoded
    olid = {ex.id: ex for ex in load_corpus("olid", FIXTURES)}
    assert olid["olid:10004"].text == '@USER he said "see you tomorrow" and left'  # bare quotes, CRLF
    assert olid["olid:20001"].meta["subtask_b"] == "TIN" and olid["olid:20005"].meta["subtask_b"] is None
    convabuse = {ex.id: ex for ex in load_corpus("convabuse", FIXTURES)}
    assert convabuse["convabuse:3"].meta["min_severity"] == -3


def test_toxic_span_offsets_survive_text_stripping() -> None:
    for ex in load_corpus("toxic_spans_semeval2021", FIXTURES):
        offsets = ex.meta["toxic_offsets"]
        assert isinstance(offsets, list)
        word = ex.text[offsets[0] : offsets[-1] + 1]
        assert word.lower() in {"clowns", "idiots", "moron", "idiot"}


def test_presidio_pii_spans() -> None:
    samples = load_pii_spans(FIXTURES)
    assert len(samples) == 3  # the blank record is skipped
    found = [[(sample.text[a:b], t) for a, b, t in sample.spans] for sample in samples]
    assert found[0] == [
        ("Jane Invented", "PERSON"),
        ("555-0100", "PHONE_NUMBER"),
        ("jane@example.com", "EMAIL_ADDRESS"),
    ]
    assert ("99999", "ZIP_CODE") in found[1]  # US ZIP codes are not UK postcodes
    assert ("3 March", "DATE_TIME") in found[1]
    assert found[2] == [("Bob Madeup", "PERSON"), ("Acme Widgets", "ORGANIZATION")]
    assert samples[2].meta["dropped_spans"] == 1  # offsets that do not match entity_value
    assert len(load_pii_spans(FIXTURES, limit=2)) == 2


def test_wnut17_person_spans() -> None:
    test = load_wnut17_persons(FIXTURES, "test")
    assert [s.text for s in test] == ["met Zed Quill at Blorp today", "going to Narnton", "@user ask Ann"]
    assert [[sample.text[a:b] for a, b, _ in sample.spans] for sample in test] == [
        ["Zed Quill", "Blorp"],
        [],
        ["Ann"],
    ]
    strict = load_wnut17_persons(FIXTURES, "test", accept_alternatives=False)
    assert [strict[0].text[a:b] for a, b, _ in strict[0].spans] == ["Zed Quill"]
    train = load_wnut17_persons(FIXTURES, "train")  # whitespace-only separator lines
    assert [s.text for s in train] == ["hello Pip", "nobody here"]
    assert load_wnut17_persons(FIXTURES, "validation")[0].spans == [(4, 10, "PERSON")]


def test_missing_folders_give_nothing(tmp_path: Path) -> None:
    assert available_corpora(tmp_path) == []
    assert available_corpora(tmp_path / "absent") == []
    for name in LOADERS:
        assert load_corpus(name, tmp_path) == []
    assert load_pii_spans(tmp_path) == [] and load_pii_spans(None) == []
    assert load_wnut17_persons(tmp_path) == [] and load_wnut17_persons(None) == []


def test_partial_corpus_folder_gives_nothing(tmp_path: Path) -> None:
    for name in LOADERS:
        (tmp_path / LOADERS[name].folder).mkdir()
        assert load_corpus(name, tmp_path) == []
    assert sorted(available_corpora(tmp_path)) == sorted(LOADERS)


def test_shared_datasets_dir_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARESCREEN_SHARED_DATASETS", str(tmp_path))
    assert shared_datasets_dir() == tmp_path
    assert load_corpus("olid") == []  # the env folder has no corpora
    monkeypatch.setenv("CARESCREEN_SHARED_DATASETS", str(FIXTURES))
    assert len(load_corpus("olid", split="test")) == 5
    assert available_corpora() == list(LOADERS)


def test_hash_split_is_stable_and_roughly_80_10_10() -> None:
    assert hash_split("abc", "x") == hash_split("abc", "x")
    counts = Counter(hash_split(str(i), "x") for i in range(5000))
    assert 0.77 < counts["train"] / 5000 < 0.83
    assert 0.08 < counts["validation"] / 5000 < 0.12


# --- real corpora (skipped without ../shared/datasets) ---------------------------------------------------

REAL = shared_datasets_dir()
needs_real = pytest.mark.skipif(REAL is None or not REAL.is_dir(), reason="shared datasets not present")


@needs_real
@pytest.mark.parametrize("name", sorted(LOADERS))
def test_real_loader_yields_valid_examples(name: str) -> None:
    assert REAL is not None
    if name not in available_corpora(REAL):
        pytest.skip(f"{name} not in {REAL}")
    examples = load_corpus(name, REAL, limit=300)
    assert examples
    for ex in examples:
        assert ex.id.startswith(f"{name}:") and ex.text and ex.labels
        assert set(ex.labels) <= set(CATEGORIES)
        assert ex.split in SPLITS


@needs_real
def test_real_olid_test_split_is_exact() -> None:
    assert REAL is not None
    test = load_corpus("olid", REAL, split="test")
    assert len(test) == 860
    assert sum(ex.labels["toxicity"] for ex in test) == 240
    assert len({ex.id for ex in test}) == 860


@needs_real
def test_real_convabuse_majority_matches_readme() -> None:
    assert REAL is not None
    abusive = Counter(ex.split for ex in load_corpus("convabuse", REAL) if ex.labels["toxicity"] == 1)
    assert abusive == Counter({"train": 331, "validation": 108, "test": 123})


@needs_real
def test_real_pii_loaders() -> None:
    assert REAL is not None
    pii = load_pii_spans(REAL, limit=200)
    assert pii and any(span[2] == "PERSON" for sample in pii for span in sample.spans)
    for sample in pii:
        assert all(0 <= a < b <= len(sample.text) for a, b, _ in sample.spans)
    people = load_wnut17_persons(REAL, "test")
    assert len(people) == 1287
    assert sum(len(s.spans) for s in people) > 300
