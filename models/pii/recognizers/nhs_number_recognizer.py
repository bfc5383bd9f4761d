"""UK NHS number: 10 digits (3-3-4), validated by the mod-11 check digit so random numbers are rejected."""

from __future__ import annotations

from typing import Final

from presidio_analyzer import Pattern, PatternRecognizer

CONTEXT: Final[list[str]] = ["nhs", "nhs number", "nhs no", "patient number", "chi", "health number"]


def nhs_check_digit_ok(candidate: str) -> bool:
    """Mod-11: weights 10..2 on the first nine digits; 11 - remainder is the check digit (11 -> 0, 10 invalid)."""
    digits = [int(c) for c in candidate if c.isdigit()]
    if len(digits) != 10 or len(set(digits)) == 1:
        return False
    total = sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=False))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == digits[9]


class NhsNumberRecognizer(PatternRecognizer):
    """Finds NHS numbers; the check digit (not the context) decides, so the score is 1.0 or nothing."""

    PATTERNS: Final[list[Pattern]] = [
        # same separator (or none) between groups; not part of a longer digit run or a phone number
        Pattern("nhs_3_3_4", r"(?<![\d+])\b\d{3}([ -]?)\d{3}\1\d{4}\b(?![-/]?\d)", 0.5),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="NHS_NUMBER",
            name="NhsNumberRecognizer",
            patterns=list(self.PATTERNS),
            context=list(CONTEXT),
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool:
        """Presidio sets the score to 1.0 when True and drops the match when False."""
        return nhs_check_digit_ok(pattern_text)
