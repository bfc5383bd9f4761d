"""The one record every data source is turned into before training or evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from models.taxonomy import CATEGORIES


@dataclass(frozen=True)
class LabelledText:
    """A text with labels for *some* categories.

    ``labels`` holds only the categories the source actually judged (1 or 0). A category absent from
    ``labels`` is *masked*: its head learns nothing from this example (e.g. OLID says nothing about
    safeguarding, so it must not teach the safeguarding head that tweets are safe).
    """

    id: str
    text: str
    labels: Mapping[str, int]
    source: str
    split: str = "train"
    meta: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.labels) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)} in example {self.id}")
        bad = {k: v for k, v in self.labels.items() if v not in (0, 1)}
        if bad:
            raise ValueError(f"labels must be 0 or 1, got {bad} in example {self.id}")

    def target_and_mask(self) -> tuple[list[float], list[float]]:
        """Dense target and mask vectors in ``CATEGORIES`` order."""
        target = [float(self.labels.get(c, 0)) for c in CATEGORIES]
        mask = [1.0 if c in self.labels else 0.0 for c in CATEGORIES]
        return target, mask
