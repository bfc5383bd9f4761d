"""UK National Insurance number ("QQ 12 34 56 C"), case-sensitive so ordinary words are not matched."""

from __future__ import annotations

import re
from typing import Final

from presidio_analyzer import Pattern, PatternRecognizer

CONTEXT: Final[list[str]] = ["ni", "nino", "national insurance", "ni number", "ni no"]

#: Prefixes HMRC never issues (QQ is the documented example prefix, so it is accepted).
_INVALID_PREFIXES: Final[frozenset[str]] = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


class UkNiNumberRecognizer(PatternRecognizer):
    """Finds NI numbers: two letters, six digits in pairs, suffix A-D."""

    PATTERNS: Final[list[Pattern]] = [
        Pattern(
            "uk_nino",
            r"\b(?:QQ|[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
            0.7,
        ),
        # typed in lower case ("qq 12 34 56 c"): only with an NI cue nearby (context lifts it over the threshold)
        Pattern(
            "uk_nino_lower",
            r"\b(?:qq|[a-ceghj-pr-tw-z][a-ceghj-npr-tw-z]) ?\d{2} ?\d{2} ?\d{2} ?[a-d]\b",
            0.4,
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="UK_NI_NUMBER",
            name="UkNiNumberRecognizer",
            patterns=list(self.PATTERNS),
            context=list(CONTEXT),
            supported_language=supported_language,
            global_regex_flags=re.MULTILINE,  # case-sensitive on purpose
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        """Reject prefixes that are never issued."""
        return pattern_text[:2] in _INVALID_PREFIXES
