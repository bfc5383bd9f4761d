"""Shared helpers for the corpus loaders: tolerant file reading, stable splits, record types.

Kept separate from ``__init__`` so that loader modules never import the registry (no import cycles).
"""

from __future__ import annotations

import csv
import hashlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from training.examples import LabelledText

#: csv quoting constants (typeshed wants the literal values).
_Quoting = Literal[0, 1, 2, 3]

#: The split names every loader emits (upstream "dev"/"val"/"trial" are renamed to "validation").
SPLITS: tuple[str, ...] = ("train", "validation", "test")

_SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "dev": "validation",
    "val": "validation",
    "valid": "validation",
    "validation": "validation",
    "trial": "validation",
    "test": "test",
}

#: Encodings tried in order; latin-1 never fails, so a file always decodes (at worst with odd characters).
_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "cp1252", "latin-1")

# Some corpora (long Reddit posts, CounselChat answers) have fields above csv's 128 KiB default.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class PiiSample:
    """A text with character-offset entity spans ``(start, end, entity_type)``, end exclusive.

    Used for PII-redaction evaluation, not for the classifier, so it is not a ``LabelledText``.
    """

    text: str
    spans: list[tuple[int, int, str]]
    id: str = ""
    source: str = ""
    meta: Mapping[str, object] = field(default_factory=dict)


def normalise_split(value: str) -> str | None:
    """Map an upstream split name onto ``SPLITS`` (None when unknown, so the caller can skip the row)."""
    return _SPLIT_ALIASES.get(value.strip().lower())


def hash_split(key: str, salt: str, train: int = 80, validation: int = 10) -> str:
    """Deterministic split from a stable key: the same id always lands in the same split, on any machine.

    ``salt`` (the corpus name) keeps different corpora's splits independent.
    """
    bucket = int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:8], 16) % 100
    if bucket < train:
        return "train"
    if bucket < train + validation:
        return "validation"
    return "test"


def read_text(path: Path) -> str:
    """Decode a file, trying UTF-8 (with or without BOM) first, then the usual Windows/Latin fallbacks."""
    raw = path.read_bytes()
    for encoding in _ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1", errors="replace")  # pragma: no cover - latin-1 always decodes


def _lines(path: Path) -> list[str]:
    # splitlines(keepends=True) would split on U+2028 etc. inside quoted fields; csv wants real newlines only.
    text = read_text(path).replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n") if text else []


def read_csv_dicts(
    path: Path, delimiter: str = ",", quoting: _Quoting = csv.QUOTE_MINIMAL, strip: bool = True
) -> Iterator[dict[str, str]]:
    """Rows as dicts with every value a string ("" for missing trailing fields), stripped unless ``strip``
    is False (needed where character offsets index into the raw text).

    CRLF is normalised first; short rows are padded and overlong rows are cut, so one malformed line in a
    scraped file does not abort a load.
    """
    reader = csv.reader(_rejoin(_lines(path)), delimiter=delimiter, quoting=quoting)
    header: list[str] | None = None
    for row in reader:
        if header is None:
            header = [h.strip() for h in row]
            continue
        if not row or all(not cell.strip() for cell in row):
            continue
        padded = (row + [""] * len(header))[: len(header)]
        yield {
            name: ((cell or "").strip() if strip else (cell or ""))
            for name, cell in zip(header, padded, strict=True)
        }


def read_csv_rows(
    path: Path, delimiter: str = ",", quoting: _Quoting = csv.QUOTE_MINIMAL
) -> Iterator[list[str]]:
    """Raw rows (no header handling) for headerless files such as GoEmotions' TSVs."""
    for row in csv.reader(_rejoin(_lines(path)), delimiter=delimiter, quoting=quoting):
        if row and any(cell.strip() for cell in row):
            yield row


def _rejoin(lines: list[str]) -> Iterator[str]:
    for line in lines:
        yield line + "\n"


def make_example(
    corpus: str,
    orig_id: str,
    text: str,
    labels: Mapping[str, int],
    split: str,
    meta: Mapping[str, object] | None = None,
) -> LabelledText | None:
    """Build a ``LabelledText`` or None when it would teach nothing (empty text or every category masked)."""
    text = text.strip()
    if not text or not labels:
        return None
    return LabelledText(
        id=f"{corpus}:{orig_id}",
        text=text,
        labels=dict(labels),
        source=corpus,
        split=split,
        meta=dict(meta or {}),
    )


def to_int(value: str, default: int = 0) -> int:
    """Parse counts written as ``3``, ``3.0`` or blank."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default
