"""NHS Friends & Family Test feedback labelled with the pxtextmining v6 framework (``v6framework_230831``).

Domain caveat: these are patients/carers reviewing a service, not staff posting to colleagues, and the
framework labels *topics* of feedback, not risk. So it is used narrowly:
- ``Safeguarding concerns?`` = 1 -> safeguarding = 1 (the NHS coder read the comment as raising a
  safeguarding concern; only 4 rows).
- safeguarding = 0 for clearly positive feedback: ``Comment sentiment`` 1 (very positive) and ``Positive
  experience & gratitude`` = 1, with none of Feeling safe / Safeguarding concerns? / Mental Health Act /
  Negative experience & dissatisfaction set. Praise of a service is not a safeguarding disclosure.
- Everything else masked, including negative feedback about care: a poor experience may or may not be
  neglect, and coders were not asked. ``Feeling safe`` alone is not mapped (it covers praise for feeling safe
  as well as complaints). Rows with "Labelling not possible" or an empty answer are skipped.
``phase_1_text_data.csv`` is not used (upstream: kept for historical interest; no safeguarding label).
Split: 80/10/10 by a hash of ``Comment ID``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.corpora._common import hash_split, make_example, read_csv_dicts
from training.examples import LabelledText

_RISK_COLUMNS: tuple[str, ...] = (
    "Feeling safe",
    "Safeguarding concerns?",
    "Mental Health Act",
    "Negative experience & dissatisfaction",
)


def _flag(row: dict[str, str], column: str) -> bool:
    return row.get(column, "").strip() in ("1", "1.0")


def nhs_labels(row: dict[str, str]) -> dict[str, int]:
    """safeguarding label for one v6 row, or ``{}`` (masked)."""
    if _flag(row, "Labelling not possible"):
        return {}
    if _flag(row, "Safeguarding concerns?"):
        return {"safeguarding": 1}
    positive = row.get("Comment sentiment", "").strip() == "1" and _flag(
        row, "Positive experience & gratitude"
    )
    if positive and not any(_flag(row, c) for c in _RISK_COLUMNS):
        return {"safeguarding": 0}
    return {}


@dataclass(frozen=True)
class NhsPatientExperienceLoader:
    """The v6-framework CSV: one row per comment, 50 one-hot framework columns (blank = 0)."""

    name: str = "nhs_patient_experience_pxtextmining"
    folder: str = "nhs_patient_experience_pxtextmining"
    mapping: str = (
        "'Safeguarding concerns?'->safeguarding=1; very positive praise->safeguarding=0; else masked"
    )

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        path = root / self.folder / "v6framework_230831.csv"
        if not path.is_file():
            return
        for row_no, row in enumerate(read_csv_dicts(path)):
            orig_id = row.get("Comment ID") or str(row_no)
            row_split = hash_split(orig_id, self.name)
            if split is not None and row_split != split:
                continue
            meta = {
                "trust": row.get("Trust", ""),
                "service_type": row.get("Service type 1", ""),
                "sentiment": row.get("Comment sentiment", ""),
            }
            example = make_example(
                self.name, orig_id, row.get("FFT answer", ""), nhs_labels(row), row_split, meta
            )
            if example is not None:
                yield example
