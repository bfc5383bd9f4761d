"""Whose a person's name is: resident, family or other, from the words around it (staff is decided upstream, by
the Redactor's staff directory). Reads the same cues as ``PersonNameRecognizer`` (``models/pii/name_words.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from models.pii.name_words import (
    DEFAULT_FAMILY_CUES,
    DEFAULT_OTHER_CUES,
    DEFAULT_RESIDENT_AFTER,
    DEFAULT_RESIDENT_CUES,
    OTHER_TITLES,
    RESIDENT_BEFORE_VERBS,
    TITLES,
    alternation,
)


class RoleInferer:
    """Decides resident / family / other for a PERSON span from the words around it (staff is decided upstream)."""

    def __init__(
        self,
        resident_cues: Sequence[str] = DEFAULT_RESIDENT_CUES,
        family_cues: Sequence[str] = DEFAULT_FAMILY_CUES,
        other_cues: Sequence[str] = DEFAULT_OTHER_CUES,
        resident_after: Sequence[str] = DEFAULT_RESIDENT_AFTER,
    ) -> None:
        self._title = re.compile(rf"^(?:{'|'.join(TITLES)})\b\.?", re.IGNORECASE)
        self._other_title = re.compile(rf"^(?:{'|'.join(OTHER_TITLES)})\b\.?")
        # cue word(s) within the last ~4 words before the name
        self._family_before = re.compile(rf"\b(?:{alternation(family_cues)})\b\W*(?:\w+\W+){{0,2}}$", re.I)
        self._resident_before = re.compile(
            rf"\b(?:{alternation(resident_cues)})\b\W*(?:\w+\W+){{0,4}}$", re.I
        )
        self._care_verb_before = re.compile(rf"\b(?:{alternation(RESIDENT_BEFORE_VERBS)})\s+$", re.I)
        self._other_before = re.compile(rf"\b(?:{alternation(other_cues)})\b\.?\W*(?:\w+\W+){{0,1}}$", re.I)
        self._family_after = re.compile(
            rf"^\s*(?:,\s*|\(\s*)(?:her|his|their|the|res(?:ident)?'?s)?\s*(?:{alternation(family_cues)})\b",
            re.I,
        )
        self._resident_after = re.compile(rf"^(?:{'|'.join(resident_after)})", re.I)

    def infer(self, text: str, start: int, end: int) -> str:
        """Return "resident", "family" or "other"; family cues win over a bare title ("her son Mr Jones")."""
        before = text[max(0, start - 40) : start]
        after = text[end : end + 60]
        surface = text[start:end]
        if self._family_before.search(before) or self._family_after.search(after):
            return "family"
        if self._other_title.search(surface) or self._other_before.search(before):
            return "other"
        if (
            self._title.search(surface)
            or self._resident_before.search(before)
            or self._resident_after.search(after)
            or self._care_verb_before.search(before)
        ):
            return "resident"
        # "Mrs" right before the span when the span itself excludes the title
        if re.search(rf"\b(?:{'|'.join(TITLES)})\.?\s*$", before):
            return "resident"
        return "other"
