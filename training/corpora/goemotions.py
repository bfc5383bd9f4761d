"""GoEmotions (Demszky et al., 2020): Reddit comments with 27 emotions + neutral.

GoEmotions has no self-harm, threat or abuse label, so it is used only as *easy negative* evidence, and
narrowly:
- self_harm = 0 and threat = 0 when every emotion on the comment is clearly positive or benign
  (admiration, amusement, approval, gratitude, joy, love, optimism, pride, relief, excitement) AND the text
  has no risk word (die/kill/suicide/cut/hurt/overdose/...). Such comments are not crisis posts or threats.
- Everything else is masked (skipped). In particular ``neutral`` is NOT a negative: neutral-labelled
  comments include flat statements about suicide ("if he does off himself ..."), and sadness, grief, fear,
  nervousness, remorse, anger and disgust may be distress or hostility that the emotion labels do not grade.
- toxicity, hate, sexual etc. are masked: positive comments still contain profanity and jokes.
Splits: train/dev/test files (dev -> validation).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.corpora._common import make_example, read_csv_rows, read_text
from training.examples import LabelledText

_FILES: dict[str, str] = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}

#: labels.txt order, used when the file is missing (fixtures, partial copies).
DEFAULT_LABELS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity", "desire",
    "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear", "gratitude", "grief",
    "joy", "love", "nervousness", "optimism", "pride", "realization", "relief", "remorse", "sadness",
    "surprise", "neutral",
)  # fmt: skip

BENIGN_EMOTIONS: frozenset[str] = frozenset(
    {
        "admiration",
        "amusement",
        "approval",
        "gratitude",
        "joy",
        "love",
        "optimism",
        "pride",
        "relief",
        "excitement",
    }
)

#: Words that make a "happy" comment unsafe as a self-harm/threat negative (sarcasm, jokes about dying).
RISK_WORDS = re.compile(
    r"\b(die[sd]?|dying|dead|death|kill\w*|suicid\w*|overdos\w*|cut(ting)?|self[- ]?harm\w*|hurt\w*|"
    r"harm\w*|wrists?|pills?|hang(ing)?|shoot\w*|shot|stab\w*|gun\w*|knife|murder\w*|end (it|my life))\b",
    re.IGNORECASE,
)


def _label_names(base: Path) -> tuple[str, ...]:
    path = base / "labels.txt"
    if path.is_file():
        names = tuple(line.strip() for line in read_text(path).splitlines() if line.strip())
        if names:
            return names
    return DEFAULT_LABELS


def goemotions_labels(emotions: list[str], text: str) -> dict[str, int]:
    """``{"self_harm": 0, "threat": 0}`` for clearly benign comments, else ``{}`` (masked)."""
    if not emotions or not set(emotions) <= BENIGN_EMOTIONS or RISK_WORDS.search(text):
        return {}
    return {"self_harm": 0, "threat": 0}


@dataclass(frozen=True)
class GoEmotionsLoader:
    """Headerless TSVs ``text<TAB>label_ids<TAB>comment_id``."""

    name: str = "goemotions"
    folder: str = "goemotions"
    mapping: str = "only-benign emotions and no risk words -> self_harm=0,threat=0; everything else masked"

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        base = root / self.folder
        names = _label_names(base)
        for split_name, filename in _FILES.items():
            if split is not None and split_name != split:
                continue
            path = base / filename
            if not path.is_file():
                continue
            for row_no, row in enumerate(read_csv_rows(path, delimiter="\t", quoting=csv.QUOTE_NONE)):
                if len(row) < 2:
                    continue
                text = row[0]
                ids = [int(i) for i in row[1].split(",") if i.strip().isdigit()]
                emotions = [names[i] for i in ids if 0 <= i < len(names)]
                orig_id = row[2].strip() if len(row) > 2 and row[2].strip() else f"{split_name}-{row_no}"
                labels = goemotions_labels(emotions, text)
                example = make_example(self.name, orig_id, text, labels, split_name, {"emotions": emotions})
                if example is not None:
                    yield example
