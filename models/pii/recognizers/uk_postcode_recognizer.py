"""UK postcodes ("LS6 2QR", "SW1A 1AA"): scored above the threshold because the full form is distinctive."""

from __future__ import annotations

from typing import Final

from presidio_analyzer import Pattern, PatternRecognizer

CONTEXT: Final[list[str]] = ["postcode", "post code", "address", "lives", "live", "moved"]


class CareUkPostcodeRecognizer(PatternRecognizer):
    """Full postcodes only: an outward code alone ("LS6") is too ambiguous to redact."""

    PATTERNS: Final[list[Pattern]] = [
        # upper case as normally written: high score
        Pattern(
            "uk_postcode_upper",
            r"\b(?-i:(?:[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?|GIR) ?\d[ABD-HJLNP-UW-Z]{2})\b",
            0.7,
        ),
        # typed in lower case: needs a separating space and the letter/digit shape; lower base score
        Pattern("uk_postcode_lower", r"\b(?-i:[a-pr-uwyz][a-hk-y]?\d[a-z\d]? \d[abd-hjlnp-uw-z]{2})\b", 0.5),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="UK_POSTCODE",
            name="CareUkPostcodeRecognizer",
            patterns=list(self.PATTERNS),
            context=list(CONTEXT),
            supported_language=supported_language,
        )
