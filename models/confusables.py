"""Characters that hide or disguise letters: invisible and direction-changing code points (dropped) and the
Cyrillic/Greek look-alikes of Latin letters (folded), used by ``models.normalize``."""

from __future__ import annotations

from typing import Final

#: Invisible or direction-changing characters that carry no meaning in a post.
INVISIBLE: Final[frozenset[str]] = frozenset({
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064",
    "\ufeff", "\u00ad", "\u034f", "\u180e",
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
})  # fmt: skip

#: Common Cyrillic/Greek look-alikes of Latin letters (NFKC does not fold these), as a ``str.translate`` table.
HOMOGLYPHS: Final[dict[int, str]] = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
        "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "ο": "o", "α": "a", "ε": "e", "ι": "i", "κ": "k",
        "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I",
        "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip
