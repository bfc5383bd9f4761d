"""The span record shared by the PII engine, the pipeline, storage and training (one definition), and the
typed placeholders that replace spans. Placeholders come from ``config.yaml`` so serving and training data
(which is redacted the same way) can never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

CONFIG = Path(__file__).with_name("config.yaml")


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


@lru_cache(maxsize=1)
def _placeholders() -> dict[str, dict[str, str] | str]:
    return dict(yaml.safe_load(CONFIG.read_text())["placeholders"])


def placeholder_for(entity_type: str, role: str) -> str:
    """Typed placeholders keep a redacted post readable: "[RESIDENT] in [ROOM] had a fall"."""
    value = _placeholders().get(entity_type)
    if isinstance(value, dict):
        return str(value.get(role) or value.get("other") or f"[{entity_type}]")
    return str(value) if value else f"[{entity_type}]"
