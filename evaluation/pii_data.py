"""What the PII evaluation scores: the entity types and roles compared, the gold/predicted span shapes, the
interface a redaction system offers, and the loaders that turn each dataset into examples."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

REPO_ROOT: Final[Path] = Path(__file__).resolve().parents[1]
CARE_POSTS: Final[Path] = REPO_ROOT / "datasets" / "care_posts" / "posts.jsonl"

OUR_TYPES: Final[tuple[str, ...]] = (
    "PERSON",
    "NHS_NUMBER",
    "UK_NI_NUMBER",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "UK_POSTCODE",
    "STREET_ADDRESS",
    "DATE_OF_BIRTH",
    "ROOM",
    "ACCESS_CODE",
)
ROLES: Final[tuple[str, ...]] = ("resident", "family", "staff", "other")
#: Vanilla Presidio entity -> our entity, for comparison only.
SYNTH_TYPES: Final[tuple[str, ...]] = ("PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "STREET_ADDRESS")


@dataclass(frozen=True)
class Span:
    """A gold or predicted span; role is "other" when a system does not infer roles."""

    start: int
    end: int
    type: str
    role: str = "other"


@dataclass(frozen=True)
class Example:
    """Text + gold spans; ``ignore`` spans (types outside the comparison) neither reward nor penalise."""

    id: str
    text: str
    gold: tuple[Span, ...]
    ignore: tuple[Span, ...] = ()


@dataclass
class Output:
    """What a system did to one text."""

    redacted: list[Span]
    kept: list[Span]
    redacted_text: str


class System(Protocol):
    """Anything that can redact a post given a staff directory."""

    name: str

    def run(self, text: str, staff_names: Collection[str]) -> Output: ...

    def analyze_only(self, text: str) -> object: ...


# ---------------------------------------------------------------------------------------------------- loaders
# Thin adapters over the single implementations in ``training`` (care corpus, presidio_synth_pii, WNUT-17).


def load_care_posts(path: Path = CARE_POSTS, split: str | None = "test") -> tuple[list[Example], str]:
    """The built care corpus (gold spans with roles); ``([], "absent")`` when the file is missing."""
    from training.care_corpus import load_posts

    if not path.exists():
        return [], "absent"
    examples = [
        Example(p.id, p.text, tuple(Span(e["start"], e["end"], e["type"], e["role"]) for e in p.entities))
        for p in load_posts(path, split=split)
    ]
    return examples, f"{path.name} split={split}"


def load_synth(root: Path, limit: int | None = None) -> list[Example]:
    """Presidio's synthetic set; only PERSON/PHONE/EMAIL/STREET_ADDRESS are scored, other gold spans ignored."""
    from training.corpora import load_pii_spans

    examples = []
    for i, sample in enumerate(load_pii_spans(root, limit=limit)):
        spans = [Span(a, b, t) for a, b, t in sample.spans]
        examples.append(
            Example(
                sample.id or f"synth-{i}",
                sample.text,
                tuple(s for s in spans if s.type in SYNTH_TYPES),
                tuple(s for s in spans if s.type not in SYNTH_TYPES),
            )
        )
    return examples


def load_wnut_persons(root: Path, limit: int | None = None) -> list[Example]:
    """WNUT-17 test sentences with their person spans (tokens joined by single spaces)."""
    from training.corpora import load_wnut17_persons

    return [
        Example(s.id or f"wnut-{i}", s.text, tuple(Span(a, b, "PERSON") for a, b, _ in s.spans))
        for i, s in enumerate(load_wnut17_persons(root, split="test", limit=limit))
    ]
