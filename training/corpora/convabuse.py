"""ConvAbuse (Cercas Curry et al., 2021): user messages to conversational agents, several annotators each.

Text: the ``user`` column (the judged utterance; context turns go to ``meta``).

Mapping, by annotator votes (an annotator counts when any of their ``is_abuse.*`` cells is filled):
- toxicity = 1 when a strict majority chose -1/-2/-3 (mildly..very strongly abusive), else 0. This
  reproduces the README's 331/108/123 abusive counts. "Ambiguous" (0) votes count as not abusive.
- sexual = 1 when a strict majority flagged ``sex_harassment``; 0 when nobody did; masked on a minority
  flag (annotators disagreed, so neither label is trustworthy).
- hate = same rule over the identity-based types ``racist, homophobic, transphobic, sexist, ableist``.
  ``intellectual`` (attacks on intelligence) is an insult, not hate, so it only feeds toxicity.
- bullying/threat/safeguarding/self_harm/confidentiality: masked (not annotated; the target is a bot).
Type flags were only given by annotators who chose an abusive level, so "nobody flagged" on a non-abusive
message means "not sexual harassment / not hate" in ConvAbuse's sense; note that benign sexual small talk
therefore counts as sexual=0 (our ``sexual`` policy may be stricter; see the data card).
Splits: the published train/valid/test files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.corpora._common import make_example, read_csv_dicts
from training.examples import LabelledText

_FILES: dict[str, str] = {
    "train": "ConvAbuseEMNLPtrain.csv",
    "validation": "ConvAbuseEMNLPvalid.csv",
    "test": "ConvAbuseEMNLPtest.csv",
}
_ABUSE_LEVELS: tuple[str, ...] = ("1", "0", "-1", "-2", "-3")
_ABUSIVE: tuple[str, ...] = ("-1", "-2", "-3")
_HATE_TYPES: tuple[str, ...] = ("racist", "homophobic", "transphobic", "sexist", "ableist")
_MAX_ANNOTATORS = 20  # the files have Annotator1..8; scan further so a re-export with more still loads


def _annotators(row: dict[str, str]) -> list[str]:
    prefixes = [f"Annotator{i}" for i in range(1, _MAX_ANNOTATORS + 1)]
    return [p for p in prefixes if any(row.get(f"{p}_is_abuse.{lvl}", "") != "" for lvl in _ABUSE_LEVELS)]


def _flagged(row: dict[str, str], annotator: str, types: tuple[str, ...]) -> bool:
    return any(row.get(f"{annotator}_{t}", "") == "1" for t in types)


def _vote(flags: int, total: int) -> int | None:
    """1 on a strict majority, 0 when nobody flagged, None (mask) on a minority flag."""
    if flags * 2 > total:
        return 1
    if flags == 0:
        return 0
    return None


def convabuse_labels(row: dict[str, str]) -> tuple[dict[str, int], dict[str, object]]:
    """Labels and vote meta for one split-file row (no annotators -> empty labels)."""
    annotators = _annotators(row)
    total = len(annotators)
    if total == 0:
        return {}, {}
    abusive = sum(1 for a in annotators if _flagged(row, a, tuple(f"is_abuse.{lvl}" for lvl in _ABUSIVE)))
    severities = [
        int(lvl) for a in annotators for lvl in _ABUSE_LEVELS if row.get(f"{a}_is_abuse.{lvl}", "") == "1"
    ]
    labels: dict[str, int] = {"toxicity": 1 if abusive * 2 > total else 0}
    sexual = _vote(sum(1 for a in annotators if _flagged(row, a, ("sex_harassment",))), total)
    hate = _vote(sum(1 for a in annotators if _flagged(row, a, _HATE_TYPES)), total)
    if sexual is not None:
        labels["sexual"] = sexual
    if hate is not None:
        labels["hate"] = hate
    meta: dict[str, object] = {
        "annotators": total,
        "abusive_votes": abusive,
        "min_severity": min(severities) if severities else None,
    }
    return labels, meta


@dataclass(frozen=True)
class ConvAbuseLoader:
    """One row per example in the split files, annotators side by side."""

    name: str = "convabuse"
    folder: str = "convabuse"
    mapping: str = "majority abusive->toxicity; majority sex_harassment->sexual; majority identity type->hate"

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        for split_name, filename in _FILES.items():
            if split is not None and split_name != split:
                continue
            path = root / self.folder / filename
            if not path.is_file():
                continue
            for row_no, row in enumerate(read_csv_dicts(path)):
                labels, votes = convabuse_labels(row)
                orig_id = row.get("example_id", "").removesuffix(".0") or f"{split_name}-{row_no}"
                meta = {
                    **votes,
                    "bot": row.get("bot", ""),
                    "prev_agent": row.get("prev_agent", ""),
                    "prev_user": row.get("prev_user", ""),
                    "agent": row.get("agent", ""),
                }
                example = make_example(self.name, orig_id, row.get("user", ""), labels, split_name, meta)
                if example is not None:
                    yield example
