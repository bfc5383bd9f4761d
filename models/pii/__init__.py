"""Residents'-privacy redaction: UK/care PII recognizers on Presidio, with a staff directory kept."""

from __future__ import annotations

# Offline before Presidio (and its tldextract) is imported: the one place that sets it is ``carescreen``.
import carescreen  # noqa: F401
from models.pii.findings import Finding, Redaction
from models.pii.redactor import Redactor

__all__ = ["Finding", "Redaction", "Redactor"]
