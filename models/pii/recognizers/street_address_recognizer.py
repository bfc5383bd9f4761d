"""Street addresses ("14 Acacia Avenue", "Flat 2, 33 Mill Lane"): house number + capitalised name + street word."""

from __future__ import annotations

from typing import Final

from presidio_analyzer import Pattern, PatternRecognizer

CONTEXT: Final[list[str]] = ["address", "lives", "live", "living", "moved", "visit", "house", "home"]

_SUFFIX: Final[str] = (
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Close|Drive|Dr|Way|Court|Ct|Crescent|Cres|Place|Pl|Grove|Gardens|"
    r"Gdns|Terrace|Walk|Hill|Park|Square|Sq|Row|Mews|View|Rise|Green|Parade|Boulevard|Vale|Wharf|Fold|Croft|"
    r"Meadow|Meadows|Chase|Gate|Yard|Bank|Brow|Wynd|Lea)"
)
_LOWER_SUFFIX: Final[str] = r"(?:street|road|avenue|lane|crescent|terrace|gardens|grove|close|drive|mews)"
_FLAT: Final[str] = r"(?:(?:Flat|Apartment|Apt|Unit|Flat No)\.?\s*\d{1,4}[A-Za-z]?,?\s+)?"


class StreetAddressRecognizer(PatternRecognizer):
    """A house number is required: a bare street name ("Mill Lane") is rarely identifying on its own."""

    PATTERNS: Final[list[Pattern]] = [
        Pattern(
            "street_address",
            rf"(?-i:\b{_FLAT}\d{{1,4}}[A-Za-z]?,?\s+(?:[A-Z][A-Za-z'-]+\s+){{1,3}}{_SUFFIX}\b\.?)"
            r"(?:,\s*(?-i:[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)(?=[\s,.;!?)]|$))?",
            0.7,
        ),
        Pattern(
            "street_address_lower",
            rf"\b{_FLAT}\d{{1,4}}[a-z]?,?\s+(?:[a-z][a-z'-]+\s+){{1,2}}(?-i:{_LOWER_SUFFIX})\b",
            0.5,
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            name="StreetAddressRecognizer",
            patterns=list(self.PATTERNS),
            context=list(CONTEXT),
            supported_language=supported_language,
        )
