"""How the PII evaluation scores a system: span matching, precision/recall per type and role, identifiers that
survive redaction, staff names kept, and ``analyze`` latency."""

from __future__ import annotations

import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from evaluation.pii_data import OUR_TYPES, ROLES, Example, Span, System
from models.metrics import percentile

_COMPATIBLE: Final[frozenset[frozenset[str]]] = frozenset(
    {frozenset({"STREET_ADDRESS", "UK_POSTCODE"}), frozenset({"STREET_ADDRESS", "ROOM"})}
)
#: Words that may remain of a redacted span without identifying anyone ("Mrs [RESIDENT]", "[ROOM]").
_HARMLESS: Final[frozenset[str]] = frozenset(
    {
        "mr",
        "mrs",
        "miss",
        "ms",
        "mx",
        "dr",
        "room",
        "rm",
        "bed",
        "flat",
        "bay",
        "no",
        "dob",
        "nhs",
        "the",
        "s",
    }
)


def compatible(a: str, b: str) -> bool:
    """Same type, or an address and one of its parts."""
    return a == b or frozenset({a, b}) in _COMPATIBLE


def _overlap(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _prf(tp_gold: int, n_gold: int, tp_pred: int, n_pred: int) -> dict[str, Any]:
    p = tp_pred / n_pred if n_pred else None
    r = tp_gold / n_gold if n_gold else None
    f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else None
    return {"precision": p, "recall": r, "f1": f1, "n_gold": n_gold, "n_pred": n_pred}


def _survives(text: str, gold: Span, redacted: Sequence[Span]) -> bool:
    """Does an identifying part of the gold span remain in place after redaction?"""
    chars = list(text[gold.start : gold.end])
    for r in redacted:
        for i in range(max(r.start, gold.start), min(r.end, gold.end)):
            chars[i - gold.start] = " "
    left = "".join(chars)
    return any(ch.isdigit() for ch in left) or any(
        w.lower() not in _HARMLESS for w in re.findall(r"[A-Za-z]{2,}", left)
    )


@dataclass
class _Tally:
    gold: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    gold_tp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pred: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pred_tp: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def table(self, keys: Iterable[str]) -> dict[str, Any]:
        return {
            k: _prf(self.gold_tp[k], self.gold[k], self.pred_tp[k], self.pred[k])
            for k in keys
            if self.gold[k] or self.pred[k]
        }


def score_system(
    system: System, examples: Sequence[Example], types: Sequence[str] = OUR_TYPES
) -> dict[str, Any]:
    """Per-type and per-role P/R, leakage of resident/family identifiers, staff names kept."""
    by_type, by_role, role_detect = _Tally(), _Tally(), _Tally()
    total_gold = total_gold_tp = total_pred = total_pred_tp = 0
    sensitive = sensitive_leaked = staff_total = staff_kept = 0
    for ex in examples:
        staff_names = sorted(
            {ex.text[g.start : g.end] for g in ex.gold if g.role == "staff" and g.type == "PERSON"}
        )
        out = system.run(ex.text, staff_names)
        preds = [p for p in out.redacted + out.kept if p.type in types]
        preds = [
            p
            for p in preds
            if not any(_overlap(p, ig) for ig in ex.ignore) or any(_overlap(p, g) for g in ex.gold)
        ]
        for g in ex.gold:
            hit = [p for p in preds if _overlap(p, g) and compatible(p.type, g.type)]
            by_type.gold[g.type] += 1
            role_detect.gold[g.role] += 1
            by_role.gold[g.role] += 1
            total_gold += 1
            if hit:
                by_type.gold_tp[g.type] += 1
                role_detect.gold_tp[g.role] += 1
                total_gold_tp += 1
                if any(p.role == g.role for p in hit):
                    by_role.gold_tp[g.role] += 1
            if g.role in ("resident", "family"):
                sensitive += 1
                sensitive_leaked += _survives(ex.text, g, out.redacted)
            if g.role == "staff" and g.type == "PERSON":
                staff_total += 1
                staff_kept += not any(_overlap(r, g) for r in out.redacted)
        for p in preds:
            hit_gold = [g for g in ex.gold if _overlap(p, g) and compatible(p.type, g.type)]
            by_type.pred[p.type] += 1
            by_role.pred[p.role] += 1
            total_pred += 1
            if hit_gold:
                by_type.pred_tp[p.type] += 1
                total_pred_tp += 1
                if any(g.role == p.role for g in hit_gold):
                    by_role.pred_tp[p.role] += 1
    return {
        "n_texts": len(examples),
        "overall": _prf(total_gold_tp, total_gold, total_pred_tp, total_pred),
        "per_type": by_type.table(types),
        "per_role": by_role.table(ROLES),
        "per_role_detection_recall": {
            r: role_detect.gold_tp[r] / role_detect.gold[r] for r in ROLES if role_detect.gold[r]
        },
        "resident_family_surviving": sensitive_leaked / sensitive if sensitive else None,
        "n_resident_family_gold": sensitive,
        "staff_names_kept": staff_kept / staff_total if staff_total else None,
        "n_staff_gold": staff_total,
    }


def forty_word_posts(texts: Iterable[str], n: int = 50) -> list[str]:
    """Concatenate posts and cut into 40-word chunks: a fixed size so latency is comparable across runs."""
    words: list[str] = []
    for t in texts:
        words.extend(t.split())
    if len(words) < 40:
        words = (words or ["Found", "Mrs", "Hughes", "in", "room", "14", "at", "3am."]) * 40
    posts = [" ".join(words[i : i + 40]) for i in range(0, len(words) - 39, 40)]
    return posts[:n]


def time_analyze(fn: Callable[[str], object], posts: Sequence[str], repeats: int = 3) -> dict[str, float]:
    """Median/p95 wall time of one ``analyze`` call, single process (spaCy/thinc on CPU, no torch)."""
    for p in posts[:5]:
        fn(p)  # warm-up
    times = []
    for _ in range(repeats):
        for p in posts:
            t0 = time.perf_counter()
            fn(p)
            times.append((time.perf_counter() - t0) * 1000)
    p95 = percentile(times, 0.95)
    return {
        "median_ms": statistics.median(times),
        "p95_ms": float("nan") if p95 is None else p95,
        "n_calls": float(len(times)),
    }
