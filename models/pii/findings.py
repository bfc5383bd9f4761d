"""The span record shared by the PII engine, the pipeline, storage and training (one definition), and the
typed placeholders that replace spans. Placeholders come from ``config.yaml`` so serving and training data
(which is redacted the same way) can never disagree."""

from __future__ import annotations

from dataclasses import dataclass

from models.pii.config import default_config


@dataclass(frozen=True)
class Finding:
    """One identifier span in the original text. ``role`` says whose it is (resident, family, staff, other)."""

    type: str
    start: int
    end: int
    score: float
    role: str = "other"


@dataclass(frozen=True)
class Redaction:
    """The redacted post plus what was replaced and what was deliberately kept (staff-directory names)."""

    redacted_text: str
    findings: tuple[Finding, ...]
    kept: tuple[Finding, ...]


def placeholder_for(entity_type: str, role: str) -> str:
    """Typed placeholders keep a redacted post readable: "[RESIDENT] in [ROOM] had a fall"."""
    placeholders: dict[str, dict[str, str] | str] = default_config()["placeholders"]
    value = placeholders.get(entity_type)
    if isinstance(value, dict):
        return str(value.get(role) or value.get("other") or f"[{entity_type}]")
    return str(value) if value else f"[{entity_type}]"
