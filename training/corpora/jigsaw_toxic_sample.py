"""101-comment sample of the Jigsaw Toxic Comment Classification test set (smoke test: too small to train).

Mapping: toxicity = 1 if any of toxic/severe_toxic/obscene/insult, else 0; threat = threat; hate =
identity_hate. Jigsaw raters judged all six flags on every comment, so zeros are real negatives for these
three categories. ``obscene`` is profanity, not sexual content, so sexual stays masked, as do the rest.
Split: everything is "test" (it comes from the Jigsaw test set).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.corpora._common import make_example, read_csv_dicts, to_int
from training.examples import LabelledText

_TOXIC_FLAGS: tuple[str, ...] = ("toxic", "severe_toxic", "obscene", "insult")


def jigsaw_labels(row: dict[str, str]) -> dict[str, int]:
    """Map the six Jigsaw flags (missing cells count as 0)."""
    flags = {k: to_int(row.get(k, "")) for k in (*_TOXIC_FLAGS, "threat", "identity_hate")}
    return {
        "toxicity": int(any(flags[k] for k in _TOXIC_FLAGS)),
        "threat": int(flags["threat"] > 0),
        "hate": int(flags["identity_hate"] > 0),
    }


@dataclass(frozen=True)
class JigsawSampleLoader:
    """``test_examples.csv``: ``comment_text`` + six binary flags."""

    name: str = "jigsaw_toxic_sample"
    folder: str = "jigsaw_toxic_sample"
    mapping: str = (
        "toxic|severe_toxic|obscene|insult->toxicity; threat->threat; identity_hate->hate; all test"
    )

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        path = root / self.folder / "test_examples.csv"
        if split not in (None, "test") or not path.is_file():
            return
        for row_no, row in enumerate(read_csv_dicts(path)):
            example = make_example(
                self.name, str(row_no), row.get("comment_text", ""), jigsaw_labels(row), "test"
            )
            if example is not None:
                yield example
