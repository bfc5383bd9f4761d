"""Culture-evidence signals of a post (issue 21), pure: whether it asks something, and which staff-directory
colleagues it names. No database and no web: the service stores what these return, never the names."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from models.normalize import normalize
from models.pii.findings import Finding

#: Roles an author or a staff-directory colleague may have (``author_role``, a directory entry's ``role``).
#: Strict: "Senior carer" or "senior-carer" is refused, not guessed. ``service/schemas.py`` restates it as a
#: ``Literal``, kept equal by a test.
STAFF_ROLES: Final[tuple[str, ...]] = (
    "carer",
    "senior_carer",
    "nurse",
    "support_worker",
    "team_leader",
    "manager",
    "bank",
    "volunteer",
    "other",
)

#: The role recorded for a named colleague who is in the directory without a role.
UNKNOWN_ROLE: Final = "unknown"

#: Kinds of post whose named colleagues are recorded as recipients (recognition, thanks, cover).
RECIPIENT_KINDS: Final[frozenset[str]] = frozenset({"special_mention", "ooo"})

_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
# At the start of the post: a question word, unless it opens an exclamation ("What a shift!", "Who'd have
# thought"); "how" only as "how do/can/should/does/is/are/much/many/long/often".
_OPENING = re.compile(
    r"(?:what(?!\s+an?\b)|where|who(?!['’]d\s+have)|why|when\s+(?:is|are|do|does|can|should|will)\b|which"
    r"|how\s+(?:do|does|can|could|should|would|is|are|much|many|long|often)\b"
    r"|is\s+there|are\s+there|should\s+i|can\s+i|could\s+i|do\s+we|does\s+(?:anyone|anybody|the)\b)\b",
    re.IGNORECASE,
)
# Anywhere a clause starts ("Hi all, does anyone know ..."): phrases that are never an exclamation.
_ASKING = re.compile(
    r"(?:any\s*(?:one|body)\s+know|(?:does|do|has|have|did|is|can|could|would)\s+any\s*(?:one|body)\b"
    r"|can\s+some\s*(?:one|body)|could\s+some\s*(?:one|body)|any\s+(?:advice|ideas|tips|thoughts)\b"
    r"|how\s+do\s+(?:i|we|you)\b|(?:is|are)\s+there\s+(?:a|an|any)\b|i\s+wonder(?:ed)?\s+(?:if|whether)\b)",
    re.IGNORECASE,
)
_CLAUSE_START = re.compile(r"(?:^|[.!;:,\n(]|\s-\s)\s*")
_PLAIN_NAME = re.compile(r"[A-Za-z .'’-]*")


def is_question(text: str) -> bool:
    """Whether a post asks something: a "?" outside a web address, or it opens with a question word ("what",
    "where", "who", "how do", "is there" ...), or a clause opens with an asking phrase ("anyone know", "does
    anyone", "can someone", "any advice", "how do I"). Reports count questions and how many were answered."""
    plain = _URL.sub(" ", unicodedata.normalize("NFKC", text))
    if "?" in plain:
        return True
    stripped = plain.lstrip(" \t\n\r\"'‘“*-•>#@")
    if _OPENING.match(stripped):
        return True
    return any(_ASKING.match(plain, m.end()) for m in _CLAUSE_START.finditer(plain))


def normalise_name(name: str) -> str:
    """How a name is compared: look-alike letters folded as the PII stage reads them, case and spacing ignored,
    a possessive "'s" dropped ("SAM  taylor's" -> "sam taylor")."""
    # Plain letters need no folding (the common case, and a directory may hold thousands of names).
    folded = name if _PLAIN_NAME.fullmatch(name) else normalize(name, conservative=True).text
    words = unicodedata.normalize("NFKC", folded).casefold().split()
    if words:
        words[-1] = re.sub(r"['’]s$", "", words[-1])
    return " ".join(w for w in words if w)


def named_colleagues(text: str, kept: Sequence[Finding], directory: Sequence[str]) -> list[int]:
    """Indices into ``directory`` of the colleagues a post names, in order of first mention, each once.

    ``kept`` are the pipeline's kept findings (``ScreenResult.kept``: staff-directory names left in the post),
    offsets into ``text``. A full name is that colleague; a first name or surname alone is the one colleague
    whose name has that word; when several have it ("Sam" with Sam Taylor and Sam Okafor) it is skipped, never
    guessed.
    """
    said = [
        normalise_name(text[f.start : f.end])
        for f in sorted(kept, key=lambda f: f.start)
        if f.type == "PERSON" and f.role == "staff"
    ]
    if not said or not directory:
        return []
    full, part = _index(tuple(directory))
    found: list[int] = []
    for name in said:
        # The first entry of each name (the same name spelled twice in the directory is one colleague).
        distinct = full.get(name) or (part.get(name, ()) if " " not in name else ())
        if len(distinct) == 1 and distinct[0] not in found:  # unknown or ambiguous: skipped
            found.append(distinct[0])
    return found


@lru_cache(maxsize=32)
def _index(directory: tuple[str, ...]) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """Per normalised full name, and per word of a name, the colleagues (first entry of each distinct name).
    Built once per directory, not per post (a directory may hold thousands of names)."""
    first: dict[str, int] = {}
    for i, name in enumerate(directory):
        norm = normalise_name(name)
        if norm:
            first.setdefault(norm, i)
    full: dict[str, tuple[int, ...]] = {norm: (i,) for norm, i in first.items()}
    part: dict[str, list[int]] = {}
    for norm, i in first.items():
        for word in set(norm.split()):
            part.setdefault(word, []).append(i)
    return full, {word: tuple(sorted(ids)) for word, ids in part.items()}
