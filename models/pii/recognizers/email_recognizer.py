"""E-mail addresses: Presidio's own EmailRecognizer (regex + tldextract), renamed so it does not shadow it."""

from __future__ import annotations

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # offline: use the bundled suffix list

from presidio_analyzer.predefined_recognizers import EmailRecognizer as _PresidioEmailRecognizer


class CareEmailRecognizer(_PresidioEmailRecognizer):
    """Reused as is: Presidio's pattern already covers the addresses carers type."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language, name="CareEmailRecognizer")
