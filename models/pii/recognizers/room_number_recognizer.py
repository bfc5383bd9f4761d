"""Room/bed/flat numbers ("room 14", "rm 3", "bed 3", "flat 2b"): a keyword followed by a number is required."""

from __future__ import annotations

from typing import Final

from presidio_analyzer import Pattern, PatternRecognizer

#: Words after the number that show it is a count or duration ("room 2 hours ago"), not an identifier.
_NOT_AFTER: Final[str] = (
    r"(?!\s*(?:hours?|hrs?|h\b|mins?|minutes?|secs?|seconds?|times|days?|weeks?|months?|years?|yrs?|x\b|carers?|"
    r"staff|people|residents|of\b|am\b|pm\b|%|:|\.\d))"
)


class RoomNumberRecognizer(PatternRecognizer):
    """The span includes the keyword: "[ROOM]" then replaces "room 14" and keeps the sentence readable."""

    PATTERNS: Final[list[Pattern]] = [
        Pattern(
            "room_number",
            r"\b(?:bed\s?room|room|rm|bed|flat|apartment|apt|bay|suite)\.?\s?(?:no\.?\s?|number\s|num\s|#\s?)?"
            rf"\d{{1,4}}[a-z]?\b{_NOT_AFTER}",
            0.7,
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="ROOM",
            name="RoomNumberRecognizer",
            patterns=list(self.PATTERNS),
            context=["room", "bed", "flat"],
            supported_language=supported_language,
        )
