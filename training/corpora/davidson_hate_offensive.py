"""Davidson et al. (2017) hate / offensive / neither tweets.

Mapping: class 0 (hate speech) -> hate=1, toxicity=1; class 1 (offensive, not hate) -> toxicity=1, hate=0;
class 2 (neither) -> toxicity=0, hate=0. Everything else is masked. Hate speech is by definition also
offensive, so it is toxic too. No official split, so 80/10/10 by a hash of the row id.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.corpora._common import hash_split, make_example, read_csv_dicts, to_int
from training.examples import LabelledText

_LABELS: dict[int, dict[str, int]] = {
    0: {"hate": 1, "toxicity": 1},
    1: {"hate": 0, "toxicity": 1},
    2: {"hate": 0, "toxicity": 0},
}


@dataclass(frozen=True)
class DavidsonLoader:
    """``labeled_data.csv``: majority ``class`` + per-class vote counts (in ``meta``, for soft labels)."""

    name: str = "davidson_hate_offensive"
    folder: str = "davidson_hate_offensive"
    mapping: str = (
        "hate->hate=1,toxicity=1; offensive->toxicity=1,hate=0; neither->both 0; hash split 80/10/10"
    )

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        path = root / self.folder / "labeled_data.csv"
        if not path.is_file():
            return
        for row_no, row in enumerate(read_csv_dicts(path)):
            cls = to_int(row.get("class", ""), default=-1)
            if cls not in _LABELS:
                continue
            orig_id = row.get("") or str(row_no)
            row_split = hash_split(orig_id, self.name)
            if split is not None and row_split != split:
                continue
            votes = {
                k: to_int(row.get(k, "")) for k in ("count", "hate_speech", "offensive_language", "neither")
            }
            # Tweets keep HTML entities (``&amp;``, ``&#128514;``); decode so the text reads like a post.
            text = html.unescape(row.get("tweet", ""))
            example = make_example(self.name, orig_id, text, _LABELS[cls], row_split, votes)
            if example is not None:
                yield example
