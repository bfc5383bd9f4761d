"""Table-driven tests: each recognizer finds its positives and leaves the look-alikes alone."""

from __future__ import annotations

import pytest
from presidio_analyzer import EntityRecognizer

from models.pii.recognizers import (
    AccessCodeRecognizer,
    CareEmailRecognizer,
    CareUkPostcodeRecognizer,
    DateOfBirthRecognizer,
    NhsNumberRecognizer,
    RoomNumberRecognizer,
    StreetAddressRecognizer,
    UkNiNumberRecognizer,
    UkPhoneRecognizer,
)
from models.pii.recognizers.nhs_number_recognizer import nhs_check_digit_ok

THRESHOLD = 0.5


def _found(recognizer: EntityRecognizer, text: str) -> list[str]:
    results = recognizer.analyze(text=text, entities=recognizer.supported_entities, nlp_artifacts=None)
    return [text[r.start : r.end] for r in results if r.score >= THRESHOLD]


CASES: list[tuple[type[EntityRecognizer], str, str | None]] = [
    # (recognizer, text, expected span or None for "must not match")
    (NhsNumberRecognizer, "NHS number 943 476 5919 on the MAR", "943 476 5919"),
    (NhsNumberRecognizer, "nhs no 943-476-5919", "943-476-5919"),
    (NhsNumberRecognizer, "nhs 9434765919", "9434765919"),
    (NhsNumberRecognizer, "NHS 943 476 5918 (typo)", None),  # invalid check digit
    (NhsNumberRecognizer, "NHS 111 111 1111", None),
    (UkNiNumberRecognizer, "NI number QQ 12 34 56 C please", "QQ 12 34 56 C"),
    (UkNiNumberRecognizer, "ni is AB123456D", "AB123456D"),
    (UkNiNumberRecognizer, "GB 12 34 56 A is not issued", None),
    (UkNiNumberRecognizer, "we had 12 34 56 people", None),
    (UkPhoneRecognizer, "ring her on 07700 900123 after 6", "07700 900123"),
    (UkPhoneRecognizer, "mob 07700900123", "07700900123"),
    (UkPhoneRecognizer, "call +44 7700 900123", "+44 7700 900123"),
    (UkPhoneRecognizer, "office 0113 496 0123", "0113 496 0123"),
    (UkPhoneRecognizer, "London 020 7946 0123", "020 7946 0123"),
    (UkPhoneRecognizer, "handover at 07:30", None),
    (UkPhoneRecognizer, "on the 07:30-19:30 shift", None),
    (UkPhoneRecognizer, "DOB 12/03/1941", None),
    (UkPhoneRecognizer, "0730 till 1930", None),
    (CareUkPostcodeRecognizer, "lives in LS6 2QR now", "LS6 2QR"),
    (CareUkPostcodeRecognizer, "SW1A 1AA", "SW1A 1AA"),
    (CareUkPostcodeRecognizer, "m14 5tp", "m14 5tp"),
    (CareUkPostcodeRecognizer, "the LS6 area", None),
    (StreetAddressRecognizer, "she lives at 14 Acacia Avenue with her son", "14 Acacia Avenue"),
    (StreetAddressRecognizer, "Flat 2, 33 Mill Lane", "Flat 2, 33 Mill Lane"),
    (StreetAddressRecognizer, "3 staff on the floor", None),
    (DateOfBirthRecognizer, "DOB 12/03/1941", "12/03/1941"),
    (DateOfBirthRecognizer, "d.o.b: 1.4.39", "1.4.39"),
    (DateOfBirthRecognizer, "born 3rd May 1938 in Leeds", "3rd May 1938"),
    (DateOfBirthRecognizer, "date of birth is 4 June 1950", "4 June 1950"),
    (DateOfBirthRecognizer, "she was born in 1938", None),  # a year alone is not a DOB
    (DateOfBirthRecognizer, "in 2019 we moved", None),
    (DateOfBirthRecognizer, "meds at 07:30", None),
    (DateOfBirthRecognizer, "review on 12/03/2025", None),
    (RoomNumberRecognizer, "Doris in room 14 had a fall", "room 14"),
    (RoomNumberRecognizer, "rm 3 buzzer", "rm 3"),
    (RoomNumberRecognizer, "bed 3 needs a pad change", "bed 3"),
    (RoomNumberRecognizer, "he's in flat 2b", "flat 2b"),
    (RoomNumberRecognizer, "Room for improvement on handovers", None),
    (RoomNumberRecognizer, "room temperature water", None),
    (RoomNumberRecognizer, "left in the staff room", None),
    (RoomNumberRecognizer, "3 beds free on the unit", None),  # a count, not an identifier
    (RoomNumberRecognizer, "sat in the room 2 hours", None),
    (AccessCodeRecognizer, "keysafe 4471", "4471"),
    (AccessCodeRecognizer, "keysafe is still 6075. also", "6075"),
    (AccessCodeRecognizer, "key safe code is 0912", "0912"),
    (AccessCodeRecognizer, "door code is 1234#", "1234#"),
    (AccessCodeRecognizer, "the code for the keysafe is 5521 btw", "5521"),
    (AccessCodeRecognizer, "door at 07:30", None),
    (AccessCodeRecognizer, "keysafe is broken again", None),
    (CareEmailRecognizer, "email karen.h@example.org", "karen.h@example.org"),
    (CareEmailRecognizer, "@ the home by 8", None),
]


@pytest.mark.parametrize(
    ("recognizer_cls", "text", "expected"), CASES, ids=[f"{c[0].__name__}:{c[1]}" for c in CASES]
)
def test_recognizer_table(recognizer_cls: type[EntityRecognizer], text: str, expected: str | None) -> None:
    found = _found(recognizer_cls(), text)  # type: ignore[call-arg]
    if expected is None:
        assert found == []
    else:
        assert expected in found


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("9434765919", True),
        ("943 476 5919", True),
        ("9434765918", False),
        ("0000000000", False),
        ("123", False),
    ],
)
def test_nhs_check_digit(number: str, valid: bool) -> None:
    assert nhs_check_digit_ok(number) is valid
