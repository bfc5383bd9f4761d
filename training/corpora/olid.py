"""OLID v1.0 (OffensEval 2019) offensive tweets.

Mapping (level A): OFF -> toxicity=1; NOT -> toxicity=0, hate=0, threat=0. OLID's "offensive" explicitly
includes hate speech and (veiled or direct) threats, so a NOT tweet was judged free of both. An OFF tweet is
not necessarily hateful or threatening, so hate/threat stay masked for OFF. Level B/C (TIN/UNT, IND/GRP/OTH)
go to ``meta`` only: a single targeted insult at an individual is not workplace bullying, and a group target
is often not a protected characteristic, so neither bullying nor hate can be inferred. Everything else masked.

Splits: the training file is split 90/10 train/validation by a hash of the tweet id; the published level-A
test set (``testset-levela.tsv`` + ``labels-levela.csv``, 860 tweets, 240 OFF) is exactly split "test".
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.corpora._common import hash_split, make_example, read_csv_dicts, read_csv_rows
from training.examples import LabelledText


def _labels(level_a: str) -> dict[str, int] | None:
    if level_a == "OFF":
        return {"toxicity": 1}
    if level_a == "NOT":
        return {"toxicity": 0, "hate": 0, "threat": 0}
    return None


def _read_label_file(path: Path) -> dict[str, str]:
    """``id,label`` files; tolerate a missing header row."""
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    for row in read_csv_rows(path):
        if len(row) >= 2 and row[0].strip().lower() != "id":
            out[row[0].strip()] = row[1].strip()
    return out


def _clean_level(value: str) -> str | None:
    return None if value in ("", "NULL") else value


@dataclass(frozen=True)
class OlidLoader:
    """Training TSV (QUOTE_NONE: tweets contain bare double quotes) plus the level-A test set."""

    name: str = "olid"
    folder: str = "olid"
    mapping: str = "OFF->toxicity=1; NOT->toxicity=0,hate=0,threat=0; official test set = split test"

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        base = root / self.folder
        if split in (None, "train", "validation"):
            yield from self._train(base, split)
        if split in (None, "test"):
            yield from self._test(base)

    def _train(self, base: Path, split: str | None) -> Iterator[LabelledText]:
        path = base / "olid-training-v1.0.tsv"
        if not path.is_file():
            return
        for row in read_csv_dicts(path, delimiter="\t", quoting=csv.QUOTE_NONE):
            labels = _labels(row.get("subtask_a", ""))
            if labels is None or not row.get("id"):
                continue
            row_split = hash_split(row["id"], self.name, train=90, validation=10)
            if split is not None and row_split != split:
                continue
            meta = {
                "subtask_a": row.get("subtask_a", ""),
                "subtask_b": _clean_level(row.get("subtask_b", "")),
                "subtask_c": _clean_level(row.get("subtask_c", "")),
            }
            example = make_example(self.name, row["id"], row.get("tweet", ""), labels, row_split, meta)
            if example is not None:
                yield example

    def _test(self, base: Path) -> Iterator[LabelledText]:
        path = base / "testset-levela.tsv"
        level_a = _read_label_file(base / "labels-levela.csv")
        if not path.is_file() or not level_a:
            return
        level_b = _read_label_file(base / "labels-levelb.csv")
        level_c = _read_label_file(base / "labels-levelc.csv")
        for row in read_csv_dicts(path, delimiter="\t", quoting=csv.QUOTE_NONE):
            tweet_id = row.get("id", "")
            labels = _labels(level_a.get(tweet_id, ""))
            if labels is None:
                continue
            meta = {
                "subtask_a": level_a[tweet_id],
                "subtask_b": level_b.get(tweet_id),
                "subtask_c": level_c.get(tweet_id),
            }
            example = make_example(self.name, tweet_id, row.get("tweet", ""), labels, "test", meta)
            if example is not None:
                yield example
