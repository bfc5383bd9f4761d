"""Person names in care posts (residents, family, staff), including the first-name-only and title+surname forms
spaCy misses.

Three sources, merged: spaCy PERSON entities (via Presidio's NlpArtifacts), title + surname ("Mrs Hughes"), and
capitalised words next to care cues ("resident Doris", "Doris in room 4", "her daughter Karen"). A name found once
is then found everywhere in the post, so a second bare "Doris" is not left behind. Whose a name is (its role) is
decided afterwards by ``models.pii.role_inferer.RoleInferer``, from the same cues; staff names are kept by the
Redactor's staff directory. The word lists are data: ``models/pii/name_words.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from models.pii.name_words import (
    DEFAULT_FAMILY_CUES,
    DEFAULT_RESIDENT_AFTER,
    DEFAULT_RESIDENT_CUES,
    LOWER,
    NAME_WORD,
    OTHER_TITLES,
    STOPWORDS,
    TITLES,
    alternation,
)

ENTITY: Final[str] = "PERSON"

_TITLE_RE: Final[re.Pattern[str]] = re.compile(
    rf"\b(?:{'|'.join(TITLES)})\.?\s+(?P<name>{NAME_WORD}(?:\s+{NAME_WORD})?)"
)
#: Typed in lower case on a phone ("mrs pritchard", "mr o'donnell"): a title then one surname-like word.
_LOWER_TITLE_RE: Final[re.Pattern[str]] = re.compile(
    rf"(?<![\w@])(?i:mrs|mr|miss|ms)\.?\s+(?P<name>[{LOWER}][{LOWER}'’-]{{2,}})(?![\w@])"
)
_POSSESSIVE_RE: Final[re.Pattern[str]] = re.compile(r"['’]s?$")


class PersonNameRecognizer(LocalRecognizer):
    """PERSON spans from spaCy + care-specific patterns; scores: title 0.85, spaCy 0.85, cue 0.8, repeat 0.75."""

    def __init__(
        self,
        supported_language: str = "en",
        resident_cues: Sequence[str] = DEFAULT_RESIDENT_CUES,
        family_cues: Sequence[str] = DEFAULT_FAMILY_CUES,
        resident_after: Sequence[str] = DEFAULT_RESIDENT_AFTER,
        stopwords: Iterable[str] = (),
    ) -> None:
        self.stopwords = STOPWORDS | {w.lower() for w in stopwords}
        before = alternation([*resident_cues, *family_cues, "called", "named", "nicknamed"])
        # "resident Doris", "her daughter Karen", "the lady in room 4, Doris": cue then up to 2 capitalised words
        self._cue_before = re.compile(
            rf"(?i:\b(?:{before}))(?:\s+(?i:in\s+(?:room|rm|bed|flat)\s*\d+\w?))?[\s,:;-]+"
            rf"(?P<name>{NAME_WORD}(?:\s+{NAME_WORD})?)"
        )
        self._cue_after = re.compile(
            rf"\b(?P<name>{NAME_WORD}(?:\s+{NAME_WORD})?)(?=(?i:{'|'.join(resident_after)}))"
        )
        super().__init__(
            supported_entities=[ENTITY],
            name="PersonNameRecognizer",
            supported_language=supported_language,
            context=None,
        )

    def load(self) -> None:
        pass

    def _is_name(self, surface: str) -> bool:
        words = surface.split()
        return bool(words) and all(w.lower() not in self.stopwords for w in words) and surface[:1].isupper()

    def _trim(self, surface: str) -> str:
        """Drop a trailing possessive and any trailing stopword ("Doris She" -> "Doris")."""
        words = surface.split()
        while words and words[-1].lower().rstrip("'’s") in self.stopwords | {""}:
            words.pop()
        while words and words[0].lower() in self.stopwords:
            words.pop(0)
        out = " ".join(words)
        return _POSSESSIVE_RE.sub("", out) if out.endswith(("'s", "’s", "s'", "'", "’")) else out

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Collect candidate spans, then add every other capitalised occurrence of a found name word."""
        spans: dict[tuple[int, int], float] = {}

        def add(start: int, surface: str, score: float) -> None:
            trimmed = self._trim(surface)
            if not trimmed:
                return
            offset = surface.find(trimmed)
            if offset < 0:
                return
            s, e = start + offset, start + offset + len(trimmed)
            if spans.get((s, e), 0.0) < score:
                spans[(s, e)] = score

        for m in _TITLE_RE.finditer(text):
            name = m.group("name")
            if self._is_name(name.split()[0]):
                surname = name if self._is_name(name) else name.split()[0]
                spans[(m.start(), m.start("name") + len(self._trim(surname)))] = 0.85
        for m in _LOWER_TITLE_RE.finditer(text):
            surname = self._trim(m.group("name"))
            if surname and surname.lower() not in self.stopwords:
                spans.setdefault((m.start(), m.start("name") + len(surname)), 0.8)
        for rx in (self._cue_before, self._cue_after):
            for m in rx.finditer(text):
                name = m.group("name")
                first = name.split()[0]
                if not self._is_name(first):
                    continue
                add(m.start("name"), name if self._is_name(name) else first, 0.8)
        if nlp_artifacts is not None:
            for ent, score in zip(nlp_artifacts.entities, nlp_artifacts.scores, strict=False):
                if ent.label_ != ENTITY:
                    continue
                surface = text[ent.start_char : ent.end_char]
                if not any(c.isupper() for c in surface) or not any(
                    w.lower() not in self.stopwords for w in surface.split()
                ):
                    continue
                add(ent.start_char, surface, float(score))

        # propagate: each name word found anywhere is a name everywhere in this post
        words = {
            w for (s, e) in spans for w in re.findall(NAME_WORD, text[s:e]) if w.lower() not in self.stopwords
        }
        words -= set(TITLES) | set(OTHER_TITLES)
        if words:
            rx = re.compile(rf"\b(?:{'|'.join(sorted(map(re.escape, words), key=len, reverse=True))})\b")
            for m in rx.finditer(text):
                if not any(s <= m.start() < e for (s, e) in spans):
                    spans[(m.start(), m.end())] = 0.75

        return [
            RecognizerResult(
                entity_type=ENTITY,
                start=s,
                end=e,
                score=score,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: "PersonNameRecognizer",
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for (s, e), score in spans.items()
        ]
