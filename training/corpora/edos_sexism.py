"""EDOS (SemEval-2023 Task 10): sexism in Gab and Reddit posts, expert labels with adjudication.

Mapping (only ``sexist`` rows carry labels):
- sexist -> hate=1. Sex is a protected characteristic (Equality Act 2010), and every EDOS category (threats,
  derogation, animosity, prejudiced discussion) is hostility or discrimination aimed at women as a group.
- toxicity = 1 only for vectors that are abusive language by definition: 2.2 aggressive and emotive attacks,
  2.3 dehumanising attacks & overt sexual objectification, 3.1 gendered slurs/profanities/insults. Other
  sexist posts (stereotypes, "backhanded compliments", prejudiced argument) can be perfectly polite, so
  toxicity is masked rather than set to 0 or 1.
- threat = 1 for category 1 (1.1 threats of harm, 1.2 incitement and encouragement of harm); masked
  otherwise (task B is single-label, so a derogatory post with a threat may sit in category 2).
- ``not sexist`` -> everything masked (skipped): EDOS judged sexism only, and Gab has plenty of racist or
  abusive posts that are "not sexist", so not-sexist is not evidence of hate=0 or toxicity=0.
Splits: the ``split`` column (dev -> validation).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.corpora._common import make_example, normalise_split, read_csv_dicts
from training.examples import LabelledText

_TOXIC_VECTORS: tuple[str, ...] = ("2.2", "2.3", "3.1")


def edos_labels(label_sexist: str, category: str, vector: str) -> dict[str, int]:
    """Labels for one row (empty when not sexist)."""
    if label_sexist.strip().lower() != "sexist":
        return {}
    labels = {"hate": 1}
    if vector.split(" ", 1)[0] in _TOXIC_VECTORS:
        labels["toxicity"] = 1
    if category.startswith("1."):
        labels["threat"] = 1
    return labels


@dataclass(frozen=True)
class EdosLoader:
    """``edos_labelled_aggregated.csv`` (aggregated expert labels)."""

    name: str = "edos_sexism"
    folder: str = "edos_sexism"
    mapping: str = "sexist->hate=1; vectors 2.2/2.3/3.1->toxicity=1; category 1->threat=1; not sexist skipped"

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        path = root / self.folder / "edos_labelled_aggregated.csv"
        if not path.is_file():
            return
        for row_no, row in enumerate(read_csv_dicts(path)):
            row_split = normalise_split(row.get("split", ""))
            if row_split is None or (split is not None and row_split != split):
                continue
            category, vector = row.get("label_category", ""), row.get("label_vector", "")
            labels = edos_labels(row.get("label_sexist", ""), category, vector)
            meta = {"label_category": category, "label_vector": vector}
            orig_id = row.get("rewire_id") or str(row_no)
            example = make_example(self.name, orig_id, row.get("text", ""), labels, row_split, meta)
            if example is not None:
                yield example
