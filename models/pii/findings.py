"""The span record shared by the PII engine, the pipeline, storage and training (one definition)."""

from __future__ import annotations

from dataclasses import dataclass

#: Typed placeholders keep a redacted post readable ("[RESIDENT] in [ROOM] had a fall").
PLACEHOLDERS: dict[str, str] = {
    "NHS_NUMBER": "[NHS_NUMBER]",
    "UK_NI_NUMBER": "[NI_NUMBER]",
    "PHONE_NUMBER": "[PHONE]",
    "EMAIL_ADDRESS": "[EMAIL]",
    "UK_POSTCODE": "[POSTCODE]",
    "STREET_ADDRESS": "[ADDRESS]",
    "DATE_OF_BIRTH": "[DOB]",
    "ROOM": "[ROOM]",
    "ACCESS_CODE": "[CODE]",
}
PERSON_PLACEHOLDERS: dict[str, str] = {
    "resident": "[RESIDENT]",
    "family": "[FAMILY]",
    "staff": "[STAFF]",
    "other": "[NAME]",
}


@dataclass(frozen=True)
class Finding:
    """One identifier span in the original text. ``role`` says whose it is (resident, family, staff, other)."""

    type: str
    start: int
    end: int
    score: float
    role: str = "other"


def placeholder_for(entity_type: str, role: str) -> str:
    if entity_type == "PERSON":
        return PERSON_PLACEHOLDERS.get(role, "[NAME]")
    return PLACEHOLDERS.get(entity_type, f"[{entity_type}]")
