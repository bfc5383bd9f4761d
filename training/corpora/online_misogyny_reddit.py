"""Guest et al. (2021) expert-annotated online misogyny on Reddit.

Labels are per entry (``entry_id``); entries with several label rows are unioned (misogynistic wins).
Mapping:
- level_1 Misogynistic -> hate = 1 (misogyny targets a protected characteristic, as for EDOS).
- level_2 Misogynistic_pejorative, Misogynistic_personal_attack, Nonmisogynistic_personal_attack ->
  toxicity = 1 (slurs and personal attacks are abusive language whatever the target).
- level_3 Threatening_* (physical violence, sexual violence, privacy) -> threat = 1.
- Nonmisogynistic entries otherwise masked: the annotators judged misogyny (and personal attacks), not other
  hate or profanity, so "nonmisogynistic" is no evidence of hate=0 or toxicity=0. Counter speech is kept
  only as ``meta``. Rows whose body is empty, ``[deleted]`` or ``[removed]`` are skipped; the ``author``
  column (real usernames) is never read into the example.
Splits: the ``split`` column (train/test; there is no validation split).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from training.corpora._common import make_example, normalise_split, read_csv_dicts
from training.examples import LabelledText

_TOXIC_LEVEL2: frozenset[str] = frozenset(
    {"Misogynistic_pejorative", "Misogynistic_personal_attack", "Nonmisogynistic_personal_attack"}
)
_REMOVED: frozenset[str] = frozenset({"[deleted]", "[removed]"})


@dataclass
class _Entry:
    text: str
    split: str
    level_1: set[str] = field(default_factory=set)
    level_2: set[str] = field(default_factory=set)
    level_3: set[str] = field(default_factory=set)


def misogyny_labels(level_1: set[str], level_2: set[str], level_3: set[str]) -> dict[str, int]:
    """Union of the label rows of one entry -> our labels."""
    labels: dict[str, int] = {}
    if "Misogynistic" in level_1:
        labels["hate"] = 1
    if level_2 & _TOXIC_LEVEL2:
        labels["toxicity"] = 1
    if any(v.startswith("Threatening") for v in level_3):
        labels["threat"] = 1
    return labels


@dataclass(frozen=True)
class OnlineMisogynyLoader:
    """``final_labels.csv`` (adjudicated labels)."""

    name: str = "online_misogyny_reddit"
    folder: str = "online_misogyny_reddit"
    mapping: str = "misogynistic->hate=1; pejorative/personal attack->toxicity=1; Threatening_*->threat=1"

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        path = root / self.folder / "final_labels.csv"
        if not path.is_file():
            return
        entries: dict[str, _Entry] = {}
        for row_no, row in enumerate(read_csv_dicts(path)):
            entry_id = row.get("entry_id") or f"row{row_no}"
            row_split = normalise_split(row.get("split", ""))
            if row_split is None:
                continue
            entry = entries.setdefault(entry_id, _Entry(text=row.get("body", ""), split=row_split))
            for level, values in (
                ("level_1", entry.level_1),
                ("level_2", entry.level_2),
                ("level_3", entry.level_3),
            ):
                if row.get(level):
                    values.add(row[level])
        for entry_id, entry in entries.items():
            if split is not None and entry.split != split:
                continue
            if entry.text in _REMOVED:
                continue
            labels = misogyny_labels(entry.level_1, entry.level_2, entry.level_3)
            meta = {
                "level_1": sorted(entry.level_1),
                "level_2": sorted(entry.level_2),
                "level_3": sorted(entry.level_3),
            }
            example = make_example(self.name, entry_id, entry.text, labels, entry.split, meta)
            if example is not None:
                yield example
