"""Text normalisation against evasion, keeping a map back to the original text.

People hide words behind zero-width spaces, homoglyphs ("аbuse" with a Cyrillic a), leetspeak ("k1ll") and
spaced-out letters ("s t u p i d"). The classifier sees the folded text; PII spans found on the folded text are
mapped back through ``Normalized.to_original`` so redaction stays exact on what the author wrote.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from models.confusables import HOMOGLYPHS, INVISIBLE
from models.language import is_english, is_non_latin

_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
# A "word" that mixes letters with leet digits/symbols, e.g. k1ll, b1tch, D0ris, @buse, $tupid.
_LEET_WORD = re.compile(r"(?<![\w@$])(?=[\w@$]*[A-Za-z])(?=[\w@$]*[013457@$])[A-Za-z013457@$]{3,}(?![\w@$])")
# Three or more single letters separated by single spaces/dots/dashes: "s t u p i d", "k.i.l.l".
_SPACED = re.compile(r"(?<![A-Za-z])(?:[A-Za-z][ .\-_*]){2,}[A-Za-z](?![A-Za-z])")
# Bounded work: spaCy's tokenizer is quadratic on long runs of punctuation or emoji (9,999 "!" took 21 s of NLP,
# holding the GIL), and a run says nothing more after a few characters. A run of one repeated symbol keeps 3,
# a run of mixed symbols keeps 8; letters, digits and spaces are never touched (identifiers keep their shape).
_REPEATED_SYMBOL = re.compile(r"([^\w\s])\1{3,}")
_SYMBOL_RUN = re.compile(r"[^\w\s]{9,}")
# A right-to-left (or left-to-right) override ... pop span displays its characters in reverse order: the text a
# reader sees is the reverse of the code points, so that is what is screened.
_OVERRIDE_SPAN = re.compile("[\u202d\u202e]([^\u202a-\u202e\n]*)\u202c")
#: Bidirectional override controls: a staff post has no reason to use them; a post that does is held.
BIDI_OVERRIDES = frozenset("\u202d\u202e")


@dataclass(frozen=True)
class Normalized:
    text: str
    #: ``index[i]`` is the offset in the original text of character ``i`` of ``text``; one extra entry at the
    #: end maps the end of the text.
    index: tuple[int, ...]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalised text back to the original text (the smallest original
        span that holds every character of it: reversed override spans run backwards)."""
        if start >= end:
            return self.index[start], self.index[start]
        first, last = self.index[start], self.index[end - 1]
        if first <= last:
            return first, last + 1
        window = self.index[start:end]
        return min(window), max(window) + 1


def _apply(text: str, index: list[int], pattern: re.Pattern[str], repl) -> tuple[str, list[int]]:  # type: ignore[no-untyped-def]
    out: list[str] = []
    new_index: list[int] = []
    pos = 0
    for m in pattern.finditer(text):
        out.append(text[pos : m.start()])
        new_index.extend(index[pos : m.start()])
        replacement, offsets = repl(m)
        out.append(replacement)
        new_index.extend(index[m.start() + o] for o in offsets)
        pos = m.end()
    out.append(text[pos:])
    new_index.extend(index[pos : len(text)])
    return "".join(out), new_index


def _fold_word(word: str, conservative: bool) -> str:
    if conservative:
        # For PII: only fold a word that is clearly letters with a disguise ("D0ris"), never a code such as a
        # postcode half ("0AA", "LS6") or a number, where the digits are the data, and never "@" or "$": they
        # are the shape of an email address or a handle ("someone@example.org" must stay an email).
        letters = sum(c.isalpha() for c in word)
        if len(word) < 4 or not word[0].isalpha() or letters / len(word) < 0.75:
            return word
        if word.isupper():  # "EC1A", "SW1A": capitals and digits are a code (a postcode's outward half)
            return word
        return "".join(c if c in "@$" else _LEET.get(c, c) for c in word)
    return "".join(_LEET.get(c, c) for c in word)


def normalize(text: str, *, fold_leet: bool = True, conservative: bool = False) -> Normalized:
    """Fold evasion tricks. ``conservative=True`` keeps digits in codes and numbers intact (for PII)."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in _visual_order(text):
        if " " <= ch < "\x7f" or ch == "\n" or ch == "\t":  # printable ASCII: NFKC and the table keep it
            chars.append(ch)
            index.append(i)
            continue
        if ch in INVISIBLE:
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc" and ch not in "\n\t":
            chars.append(" ")  # a control character becomes a space so words do not merge
            index.append(i)
            continue
        folded = unicodedata.normalize("NFKC", ch).translate(HOMOGLYPHS)
        for f in folded:
            chars.append(f)
            index.append(i)
    out = "".join(chars)
    out, index = _apply(out, index, _REPEATED_SYMBOL, lambda m: (m.group(0)[:3], [0, 1, 2]))
    out, index = _apply(out, index, _SYMBOL_RUN, lambda m: (m.group(0)[:8], list(range(8))))
    if fold_leet:
        out, index = _apply(
            out,
            index,
            _LEET_WORD,
            lambda m: (_fold_word(m.group(0), conservative), list(range(len(m.group(0))))),
        )
        out, index = _apply(
            out,
            index,
            _SPACED,
            lambda m: (
                "".join(c for c in m.group(0) if c.isalpha()),
                [k for k, c in enumerate(m.group(0)) if c.isalpha()],
            ),
        )
    index.append(len(text))
    return Normalized(out, tuple(index))


def _visual_order(text: str) -> Iterable[tuple[int, str]]:
    """(original offset, character) in the order a reader sees them: closed override spans reversed."""
    if not BIDI_OVERRIDES.intersection(text):
        return enumerate(text)  # the common case: no list built on the /v1/screen path
    out: list[tuple[int, str]] = []
    pos = 0
    for m in _OVERRIDE_SPAN.finditer(text):
        out.extend((k, text[k]) for k in range(pos, m.start(1)))
        out.extend((k, text[k]) for k in range(m.end(1) - 1, m.start(1) - 1, -1))
        pos = m.end(1)
    out.extend((k, text[k]) for k in range(pos, len(text)))
    return out


def has_hidden_text(text: str) -> bool:
    """A bidirectional override: what a reader sees differs from the code points (held for a person)."""
    return bool(BIDI_OVERRIDES.intersection(text))


def is_judgeable(text: str) -> bool:
    """Whether the (English-trained) model can judge this text; if not, a person must.

    Posts mostly in a non-Latin script are not judgeable; posts of five or more words are judgeable when a
    language identifier finds them English enough (``models.language``). Emoji-only or very short posts are
    judgeable (the model scores them; they carry little risk).
    """
    if is_non_latin(unicodedata.normalize("NFKC", text)):  # the script the author typed, before any folding
        return False
    return is_english(normalize(text).text)  # judge what a reader sees: "s e e  y o u", "th1ck" folded first
