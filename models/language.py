"""Whether a post is in English, for ``models.normalize.is_judgeable`` (the classifier is trained on English).

A maintained language identifier, py3langid (langid.py's naive Bayes model over byte n-grams, shipped inside the
wheel: nothing is downloaded), restricted to the languages a post here is plausibly written in. The rule and
its figures come from ``evaluation/language_id.py`` (DEVELOPMENT.md, "Language identification and homoglyphs").
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any, Final

from models.confusables import FOLDS

#: Languages a post to a UK care-staff network is plausibly written in (ISO 639-1, or 639-3 where there is no
#: two-letter code): English, Welsh, Irish and Scottish Gaelic; the languages most spoken by the care workforce
#: born abroad; and neighbours of each that the identifier must be able to tell apart from them. Posts mostly
#: in a non-Latin script are held before the identifier is asked; those languages are listed so that the
#: evaluation can name them. Nigerian Pidgin is deliberately absent: it is English-lexified, and the English
#: model reads it better than a person who has to be found for it.
PLAUSIBLE_LANGUAGES: Final[tuple[str, ...]] = (
    "en", "cy", "ga", "gd", "pl", "ro", "pt", "es", "it", "fr", "de", "nl", "lt", "lv", "cs", "sk", "hu",
    "hr", "sq", "tr", "tl", "yo", "ig", "ha", "sn", "sw", "af", "so",
    "hi", "ur", "pa", "bn", "gu", "ta", "ar", "fa", "bg", "ru", "uk", "el",
)  # fmt: skip
#: Posts of fewer words (``identifier_words``) are judged by the model whatever the identifier says: on one to
#: four words it calls a third of English posts something else ("ta x", "see u tmrw"), and a short post in
#: another language is almost always a greeting or a thank-you.
MIN_WORDS: Final = 5
#: A longer post is judged by the model when the identifier's probability of English is at least this: about
#: half the lowest of any English post measured (0.278, over the 4,273 care-corpus posts and the 164 hard English
#: posts of ``evaluation/language_id_cases.jsonl``), where 98% of the posts in other languages fall below it.
MIN_ENGLISH_CONFIDENCE: Final = 0.15

_WORD = re.compile(r"[^\W\d_]+")
_lock = threading.Lock()
_identifier: Any = None


def judgement_words(text: str) -> list[str]:
    """The words (runs of letters) of a text."""
    return _WORD.findall(text)


def identifier_words(text: str) -> list[str]:
    """The words the identifier reads: all but capitalised ones ("Priya", "Zimbabwean", "Kowalski"; "I", "NVQ"
    and "MAR" stay). Names, places and nationalities say nothing of the language a post is written in, but pull a
    short post towards the languages of the names: "Priya is a Filipino person" read whole is Tagalog."""
    return [w for w in _WORD.findall(text) if not (w[0].isupper() and not w.isupper())]


def _latin(ch: str) -> bool:
    return ch.isascii() or "LATIN" in unicodedata.name(ch, "")


def is_non_latin(text: str) -> bool:
    """Mostly (over 40% of its letters) in a non-Latin script: Cyrillic, Greek, Arabic, Devanagari, CJK...

    Give it the text as typed (NFKC), not the folded text: folding the Cyrillic and Greek look-alikes would make
    a Russian or Greek post half "Latin". A look-alike in a word that also has Latin letters ("іdіot" with
    Cyrillic і) is a disguise, not another script, and counts as Latin.
    """
    if text.isascii():
        return False
    latin = letters = 0
    for word in _WORD.findall(text):
        mixed = any(_latin(c) for c in word if c.isalpha())
        for c in word:
            if c.isalpha():
                letters += 1
                latin += _latin(c) or (mixed and c in FOLDS)
    return bool(letters) and latin / letters < 0.6


def identifier() -> Any:
    """The restricted py3langid identifier, loaded on first use (0.8 s, about 80 MB) and shared."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                loaded = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                loaded.set_languages(PLAUSIBLE_LANGUAGES)  # raises on a code the model does not know
                _identifier = loaded
    return _identifier


def english_confidence(text: str) -> float:
    """The identifier's probability that ``text`` is English, among ``PLAUSIBLE_LANGUAGES``."""
    return float(dict(identifier().rank(text)).get("en", 0.0))


def is_english(text: str) -> bool:
    """Whether the English model can judge ``text`` (normalised, and not mostly in a non-Latin script: see
    ``is_non_latin``): short, or English enough by the identifier."""
    words = identifier_words(text)
    if len(words) < MIN_WORDS:
        return True
    return english_confidence(" ".join(words)) >= MIN_ENGLISH_CONFIDENCE
