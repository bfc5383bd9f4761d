"""The vocabulary of person names in care posts: what a name word looks like, the words that never are one, titles,
and the cues around a name that say whose it is.

Word lists are data: ``name_words.yaml`` (stop-words, titles, care verbs, resident patterns), read once at import,
and the ``context`` cue lists of ``config.yaml`` (resident / family / other), their one definition. Shared by the
person-name and first-name recognizers, the role inferer and the redactor's staff handling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

from models.pii.config import default_config

WORDS_FILE: Final[Path] = Path(__file__).with_name("name_words.yaml")

#: Latin capitals and small letters with the diacritics of the names staff write (Ní Bhriain, Wójcik, Ionescu).
UPPER: Final[str] = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĘĚŁŃŇŐŒŘŚŞŠŢŤŮŰŸŹŻŽȘȚ"
LOWER: Final[str] = "a-zß-öø-ÿāăąćčďđęěłńňőœřśşšţťůűźżžșț"
#: One capitalised name word, with an inner apostrophe or hyphen ("O'Donnell", "Smith-Jones").
NAME_WORD: Final[str] = rf"[{UPPER}][{LOWER}]+(?:['’-][{UPPER}]?[{LOWER}]+)?"


@lru_cache(maxsize=1)
def _words() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORDS_FILE.read_text(encoding="utf-8"))
    return data


def _strings(values: Iterable[Any], what: str) -> tuple[str, ...]:
    """The list as strings, refusing anything YAML read as another type (an unquoted ``No`` is a boolean)."""
    out = tuple(values)
    bad = [v for v in out if not isinstance(v, str)]
    if bad:
        raise ValueError(f"{what}: non-string entries {bad!r} (quote them in the YAML)")
    return out


TITLES: Final[tuple[str, ...]] = _strings(_words()["titles"], "titles")
OTHER_TITLES: Final[tuple[str, ...]] = _strings(_words()["other_titles"], "other_titles")
#: Care tasks done to a person: the object is almost always the resident ("rolled Ted", "hoisted Doris").
RESIDENT_BEFORE_VERBS: Final[tuple[str, ...]] = _strings(
    _words()["resident_before_verbs"], "resident_before_verbs"
)
#: Patterns after a name that make it the resident's ("Doris in room 4", "Doris's daughter").
DEFAULT_RESIDENT_AFTER: Final[tuple[str, ...]] = _strings(_words()["resident_after"], "resident_after")
#: Capitalised words that are never a name on their own in these posts (lower case).
STOPWORDS: Final[frozenset[str]] = frozenset(w.lower() for w in _strings(_words()["stopwords"], "stopwords"))

_CONTEXT: Final[dict[str, Any]] = default_config()["context"]
#: Default role cues: ``context`` in ``config.yaml``, the lists the served Redactor passes in.
DEFAULT_RESIDENT_CUES: Final[tuple[str, ...]] = _strings(_CONTEXT["resident"], "context.resident")
DEFAULT_FAMILY_CUES: Final[tuple[str, ...]] = _strings(_CONTEXT["family"], "context.family")
DEFAULT_OTHER_CUES: Final[tuple[str, ...]] = _strings(_CONTEXT["other"], "context.other")


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of the words, longest first, any run of whitespace where a word has a space."""
    return "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True))
