"""ToxiGen human-written seed statements: implicit hate vs neutral statements about 16 groups.

Mapping: ``hate`` -> hate = 1; ``neutral`` -> hate = 0. Labels are the authors' file-level intent, not
per-sentence ratings. Toxicity is masked: the point of these statements is hate *without* slurs or profanity,
so they are not toxic language in the OLID/Jigsaw sense, yet "neutral" ones are not guaranteed polite either.
A statement listed under several groups is one example (groups in ``meta``), so it cannot leak across splits.
Split: 80/10/10 by a hash of the text (there is no official split; treat it mainly as an implicit-hate probe).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from training.corpora._common import hash_split, make_example, read_csv_dicts
from training.examples import LabelledText


@dataclass
class _Statement:
    label: str
    groups: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ToxigenSeedLoader:
    """``toxigen_seed_statements.csv`` (derived, de-duplicated per text/label/group)."""

    name: str = "toxigen_seed_statements"
    folder: str = "toxigen_seed_statements"
    mapping: str = "hate->hate=1; neutral->hate=0; toxicity masked; hash split by text"

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        path = root / self.folder / "toxigen_seed_statements.csv"
        if not path.is_file():
            return
        statements: dict[str, _Statement] = {}
        for row in read_csv_dicts(path):
            label, text = row.get("label", "").lower(), row.get("text", "")
            if label not in ("hate", "neutral") or not text:
                continue
            statement = statements.setdefault(text, _Statement(label=label))
            if statement.label != label:
                statement.label = "conflict"  # README says this never happens; mask it if it ever does
            if row.get("target_group"):
                statement.groups.add(row["target_group"])
        for text, statement in statements.items():
            if statement.label == "conflict":
                continue
            key = hashlib.sha256(text.encode()).hexdigest()[:16]
            row_split = hash_split(key, self.name)
            if split is not None and row_split != split:
                continue
            labels = {"hate": 1 if statement.label == "hate" else 0}
            meta = {"target_groups": sorted(statement.groups)}
            example = make_example(self.name, key, text, labels, row_split, meta)
            if example is not None:
                yield example
