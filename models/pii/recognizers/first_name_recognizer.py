"""Lone given names with no cue ("Elsie beat the whole lounge at bingo", "stanley told me about the trawlers").

spaCy's small NER misses many of these, above all at the start of a sentence and in lower case, and a missed name
is a resident's identity in a published post. The names are data (``models/pii/first_names.yaml``); a following
capitalised word that is not a stopword is taken as the surname ("Agnes Pullan").
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml
from presidio_analyzer import EntityRecognizer, RecognizerResult

from models.pii.name_words import LOWER, STOPWORDS, UPPER

NAMES_FILE: Final[Path] = Path(__file__).resolve().parent.parent / "first_names.yaml"


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    data: dict[str, Any] = yaml.safe_load(NAMES_FILE.read_text(encoding="utf-8"))
    cap = sorted({str(n) for n in data["capitalised"]}, key=len, reverse=True)
    low = sorted({str(n) for n in data["lower_case_ok"]}, key=len, reverse=True)
    surname = rf"(?:\s+(?P<surname>[{UPPER}][{LOWER}]+(?:['’-][{UPPER}]?[{LOWER}]{{2,}})?))?"
    capitalised = re.compile(rf"(?<![\w@#])(?P<name>{'|'.join(map(re.escape, cap))}){surname}(?![\w@])")
    lower = re.compile(rf"(?<![\w@#])(?P<name>{'|'.join(map(re.escape, low))})(?![\w@])")
    return capitalised, lower


class FirstNameRecognizer(EntityRecognizer):
    """PERSON spans for listed given names; roles are inferred afterwards like any other name."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=["PERSON"], name="FirstNameRecognizer", supported_language=supported_language
        )

    def load(self) -> None:
        _patterns()

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        if "PERSON" not in entities:
            return []
        capitalised, lower = _patterns()
        out: list[RecognizerResult] = []
        for m in capitalised.finditer(text):
            end = m.end("name")
            surname = m.group("surname")
            if surname and surname.lower() not in STOPWORDS:
                end = m.end("surname")
            out.append(RecognizerResult("PERSON", m.start("name"), end, 0.6))
        for m in lower.finditer(text):
            out.append(RecognizerResult("PERSON", m.start("name"), m.end("name"), 0.55))
        return out
