"""Culture-evidence signals (issue 21): questions, and which directory colleagues a post names."""

from __future__ import annotations

import pytest

from models.culture_signals import is_question, named_colleagues, normalise_name
from models.pii.findings import Finding


@pytest.mark.parametrize(
    "text",
    [
        "Where are the hoist slings kept",
        "anyone know the code for the new fridge log",
        "Does anyone have the number for the district nurses",
        "How do I record a refused medication on the new system",
        "what time is handover on Sundays now",
        "Who is on the rota for Saturday nights",
        "Can someone cover my Friday late",
        "Hi all, does anybody know if the training on Tuesday is still on",
        "Morning! Any advice for settling a new resident at night",
        "Quick one - is there a form for reporting a broken call bell",
        "Is the minibus free tomorrow?",
        "  “What do we do when the sling is torn”",
    ],
)
def test_questions(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "What a shift! Thanks everyone.",
        "What an afternoon at the garden party",
        "Great handover from nights, everything was where it should be.",
        "Special mention to Sam for covering the late shift",
        "Read the new guidance: https://example.org/guidance?page=2",
        "Who'd have thought the quiz would be such a hit",
        "I know who left the kitchen spotless, thank you",
        "When Doris laughed at the quiz it made my day",
        "",
    ],
)
def test_not_questions(text: str) -> None:
    assert not is_question(text)


def test_normalise_name() -> None:
    assert normalise_name("  SAM   taylor's ") == "sam taylor"
    assert normalise_name("Ѕam Taylor") == "sam taylor"  # a Cyrillic look-alike S
    assert normalise_name("Priya") == "priya"


def _staff(text: str, word: str, start: int = 0) -> Finding:
    at = text.index(word, start)
    return Finding("PERSON", at, at + len(word), 1.0, "staff")


DIRECTORY = ["Sam Taylor", "Priya Shah", "Sam Okafor", "Jo Bloggs", "sam  taylor"]


def test_full_names_and_unique_parts_are_matched_once_in_order() -> None:
    text = "Thanks to Priya Shah and Sam Taylor, and Bloggs too. Priya's cake was great. Sam Taylor's a star."
    kept = [
        _staff(text, "Priya Shah"),
        _staff(text, "Sam Taylor"),
        _staff(text, "Bloggs"),
        _staff(text, "Priya", text.index("cake") - 10),
        _staff(text, "Sam Taylor", text.index("star") - 15),
    ]
    assert named_colleagues(text, kept, DIRECTORY) == [1, 0, 3]


def test_ambiguous_unknown_and_other_findings_are_skipped() -> None:
    text = "Sam was brilliant, Grace too, and Doris loved it"
    kept = [
        _staff(text, "Sam"),  # Sam Taylor or Sam Okafor: never guessed
        _staff(text, "Grace"),  # not in the directory
        Finding("PERSON", text.index("Doris"), text.index("Doris") + 5, 0.9, "resident"),
    ]
    assert named_colleagues(text, kept, DIRECTORY) == []
    assert named_colleagues(text, [], DIRECTORY) == []
    assert named_colleagues(text, kept[:1], []) == []


def test_same_name_spelled_twice_in_the_directory_is_one_colleague() -> None:
    text = "Sam Taylor stayed late"
    assert named_colleagues(text, [_staff(text, "Sam Taylor")], DIRECTORY) == [0]
