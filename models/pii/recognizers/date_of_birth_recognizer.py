"""Dates of birth: a date next to DOB context ("DOB 12/03/1941", "born 3rd May 1938"), never a bare year/time."""

from __future__ import annotations

from typing import Final

from presidio_analyzer import Pattern, PatternRecognizer

CONTEXT: Final[list[str]] = ["dob", "d.o.b", "born", "birth", "birthday", "date of birth"]

_MONTH: Final[str] = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DAY: Final[str] = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR: Final[str] = r"(?:19|20)\d{2}"
_DATE: Final[str] = (
    r"(?:"
    rf"(?:[12]\d|3[01]|0?[1-9])[/.-](?:1[0-2]|0?[1-9])[/.-](?:{_YEAR}|\d{{2}})"  # 12/03/1941, 12.3.41
    rf"|{_YEAR}-(?:1[0-2]|0[1-9])-(?:[12]\d|3[01]|0[1-9])"  # 1941-03-12 (ISO, from forms and systems)
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH}\.?,?\s+{_YEAR}"  # 3rd May 1938, 3 of May 1938
    rf"|{_MONTH}\.?\s+{_DAY},?\s+{_YEAR}"  # May 3rd, 1938
    r")"
)
_CUE: Final[str] = (
    r"(?:\bd\.?\s?o\.?\s?b\b\.?|\bdate\s+of\s+birth|\bborn(?:\s+on)?|\bbirthday(?:\s+is|\s+was)?|\bb\.)"
)


class DateOfBirthRecognizer(PatternRecognizer):
    """The cue is in a look-behind so the span is the date itself; a pre-1965 full date alone scores lower."""

    PATTERNS: Final[list[Pattern]] = [
        Pattern(
            "dob_with_cue", rf"(?<={_CUE}\s{{0,2}}(?:[:=-]\s{{0,2}})?(?:is\s+|was\s+|on\s+)?){_DATE}\b", 0.85
        ),
        # a full date in 1900-1964 is almost surely a resident's birth date in a care post
        Pattern(
            "old_full_date",
            rf"\b(?:(?:[12]\d|3[01]|0?[1-9])[/.-](?:1[0-2]|0?[1-9])[/.-]19[0-6]\d|19[0-6]\d-(?:1[0-2]|0[1-9])-(?:[12]\d|3[01]|0[1-9])|{_DAY}\s+(?:of\s+)?{_MONTH}\.?,?\s+19[0-6]\d"
            rf"|{_MONTH}\.?\s+{_DAY},?\s+19[0-6]\d)\b",
            0.6,
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="DATE_OF_BIRTH",
            name="DateOfBirthRecognizer",
            patterns=list(self.PATTERNS),
            context=list(CONTEXT),
            supported_language=supported_language,
        )
