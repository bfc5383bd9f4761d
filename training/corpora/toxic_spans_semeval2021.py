"""SemEval-2021 Task 5 Toxic Spans: Civil Comments posts with crowd-marked toxic character offsets.

Mapping: toxicity=1 when the span list is non-empty (raters agreed on concrete toxic words). Rows with ``[]``
are masked (skipped): every post was sampled as toxic, but with no agreed span the post-level judgement is
the weakest in the set, and there are no negatives to set 0 from. Other categories are masked (insults and
threats are mixed, with no per-category labels). The character offsets go to ``meta["toxic_offsets"]`` for
explanation/redaction work.
Splits: tsd_train -> train, tsd_trial -> validation, tsd_test -> test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.corpora._common import make_example, read_csv_dicts
from training.examples import LabelledText

_FILES: dict[str, str] = {"train": "tsd_train.csv", "validation": "tsd_trial.csv", "test": "tsd_test.csv"}


def parse_offsets(value: str) -> list[int] | None:
    """``"[1, 2, 3]"`` -> ``[1, 2, 3]``; None when the cell is malformed (row skipped)."""
    try:
        parsed = ast.literal_eval(value.strip() or "[]")
    except (ValueError, SyntaxError):
        return None
    if not isinstance(parsed, list) or not all(isinstance(i, int) for i in parsed):
        return None
    return parsed


@dataclass(frozen=True)
class ToxicSpansLoader:
    """Three CSVs with ``spans,text``."""

    name: str = "toxic_spans_semeval2021"
    folder: str = "toxic_spans_semeval2021"
    mapping: str = "non-empty toxic spans->toxicity=1; empty span list masked; others masked"

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        for split_name, filename in _FILES.items():
            if split is not None and split_name != split:
                continue
            path = root / self.folder / filename
            if not path.is_file():
                continue
            for row_no, row in enumerate(read_csv_dicts(path, strip=False)):
                offsets = parse_offsets(row.get("spans", ""))
                if not offsets:
                    continue
                raw = row.get("text", "")
                text = raw.strip()
                # make_example strips the text; shift the offsets so they still index the same characters.
                lead = len(raw) - len(raw.lstrip())
                shifted = [i - lead for i in offsets if 0 <= i - lead < len(text)]
                orig_id = f"{split_name}-{row_no}"
                meta = {"toxic_offsets": shifted}
                example = make_example(self.name, orig_id, text, {"toxicity": 1}, split_name, meta)
                if example is not None:
                    yield example
