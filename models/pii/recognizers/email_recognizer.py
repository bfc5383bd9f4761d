"""E-mail addresses: Presidio's own EmailRecognizer (regex + tldextract), renamed so it does not shadow it."""

from __future__ import annotations

from presidio_analyzer.predefined_recognizers import EmailRecognizer as _PresidioEmailRecognizer


class CareEmailRecognizer(_PresidioEmailRecognizer):
    """Reused as is: Presidio's pattern already covers the addresses carers type."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language, name="CareEmailRecognizer")
