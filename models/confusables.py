"""Characters that hide or disguise letters: invisible and direction-changing code points (dropped) and the
look-alikes of ASCII letters and digits (folded), used by ``models.normalize``.

The folding table is built once, at import, from Unicode's confusables data (``confusables.txt`` as shipped, in
JSON, by the pinned ``confusable-homoglyphs`` package), plus the Latin small capitals (which that data leaves
out: "ᴅᴏʀɪs"), plus the hand-picked pairs this module held before, which win where they differ. Every entry
maps one character to one ASCII character, so folding never moves an offset.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from importlib import resources
from typing import Final

#: Invisible or direction-changing characters that carry no meaning in a post.
INVISIBLE: Final[frozenset[str]] = frozenset({
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064",
    "\ufeff", "\u00ad", "\u034f", "\u180e",
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
})  # fmt: skip

#: The hand-picked Cyrillic/Greek look-alikes of Latin letters (the whole table before the Unicode data was
#: used). They win over the data: Unicode's prototype of a capital I look-alike is a lower-case "l".
HAND_MADE: Final[dict[str, str]] = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "ο": "o", "α": "a", "ε": "e", "ι": "i", "κ": "k",
    "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I",
    "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip

_TARGETS: Final = string.ascii_letters + string.digits
#: Only letters and letter-like numerals are folded. Digits of other scripts stay digits (a Devanagari zero is a
#: zero, not an "o"), combining marks stay on their letters (a Malayalam anusvara is not an "o"), and symbols
#: stand for themselves ("1g × 4" is a dose, not "1g x 4").
_FOLDED_CATEGORIES: Final = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "No"})
#: Blocks that hold the Latin small capitals (IPA, phonetic extensions, Latin extended-D, F and G).
_SMALL_CAPITAL_BLOCKS: Final = ((0x0250, 0x02AF), (0x1D00, 0x1DBF), (0xA720, 0xA7FF), (0x1DF00, 0x1DFFF))
_SMALL_CAPITAL: Final = re.compile(r"LATIN (CAPITAL )?LETTER SMALL CAPITAL ([A-Z])")


def _foldable(ch: str) -> bool:
    return (
        len(ch) == 1
        and not ch.isascii()
        and unicodedata.category(ch) in _FOLDED_CATEGORIES
        and unicodedata.bidirectional(ch)
        not in ("R", "AL")  # a right-to-left letter cannot sit in a Latin word
    )


def unicode_confusables() -> dict[str, str]:
    """Every foldable character whose Unicode prototype (its "skeleton") is one ASCII letter or digit."""
    data = json.loads(
        resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8")
    )
    # The data is keyed both ways; under a prototype it lists every character whose prototype it is.
    return {e["c"]: target for target in _TARGETS for e in data.get(target, ()) if _foldable(e["c"])}


def small_capitals() -> dict[str, str]:
    """The Latin small capitals (ᴀ ʙ ᴅ ʀ ...) -> their lower-case letter; a capital small capital -> capital."""
    table = {}
    for low, high in _SMALL_CAPITAL_BLOCKS:
        for cp in range(low, high + 1):
            match = _SMALL_CAPITAL.fullmatch(unicodedata.name(chr(cp), ""))
            if match:
                table[chr(cp)] = match.group(2) if match.group(1) else match.group(2).lower()
    return table


#: Character -> the ASCII letter or digit it passes for (about 1,300 entries).
FOLDS: Final[dict[str, str]] = {**unicode_confusables(), **small_capitals(), **HAND_MADE}
#: ``FOLDS`` as a ``str.translate`` table. ``normalize`` applies it after NFKC, which already folds the
#: fullwidth, mathematical, circled and superscript forms.
HOMOGLYPHS: Final[dict[int, str]] = str.maketrans(FOLDS)
