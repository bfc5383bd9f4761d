"""UK phone numbers (mobiles 07..., +44 7..., landlines 01/02/03, 0800); never times (07:30) or dates."""

from __future__ import annotations

from typing import Final

from presidio_analyzer import Pattern, PatternRecognizer

CONTEXT: Final[list[str]] = ["phone", "mobile", "mob", "tel", "number", "ring", "call", "text", "contact"]


class UkPhoneRecognizer(PatternRecognizer):
    """Regex plus a digit-count check: a UK national number is 0 + 9 or 10 digits."""

    PATTERNS: Final[list[Pattern]] = [
        Pattern(
            "uk_phone",
            # start: +44 (0)?, 0044 or 0; then a valid leading digit; then digits with single spaces/dashes.
            r"(?<![\w:/.+£$-])(?:(?:\+|00)44\s?(?:\(0\)\s?)?|\(?0)[1-378]\d{1,4}\)?(?:[ -]?\d){6,8}(?![\w:/.]\d|[\w:/])",
            0.7,
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            name="UkPhoneRecognizer",
            patterns=list(self.PATTERNS),
            context=list(CONTEXT),
            supported_language=supported_language,
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        """Reject matches whose national significant number is not 9-10 digits (e.g. '0730 1930')."""
        digits = "".join(c for c in pattern_text if c.isdigit())
        if digits.startswith("0044"):
            digits = digits[4:]
        elif digits.startswith("44") and pattern_text.lstrip().startswith("+"):
            digits = digits[2:]
        if digits.startswith("0"):
            digits = digits[1:]
        return len(digits) not in (9, 10)
