"""Who is calling: a plain value resolved from a bearer key (``service.deps``) or a console session."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    key_id: int
    org: str
    role: str

    @property
    def actor(self) -> str:
        """How the audit trail names this caller (never the key itself)."""
        return f"{self.role}:key-{self.key_id}"
