"""The safeguarding lead's risk report and its CSV: what was raised, how fast it was acted on, what became of it.

Small counts (< 5) in any breakdown are suppressed, so nobody can be identified by elimination.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from models.metrics import percentile
from models.taxonomy import CATEGORIES
from storage import report_rows
from storage.outcomes import APPROVALS
from storage.reviews import sla_breached
from storage.tables import utcnow

SUPPRESS_BELOW = 5
SUPPRESSED = "<5"


def _suppress(n: int) -> int | str:
    return SUPPRESSED if 0 < n < SUPPRESS_BELOW else n


def risk_report(
    session: Session, *, org: str, start: datetime | None, end: datetime | None, circle: str | None = None
) -> dict[str, Any]:
    rows = report_rows.screening_rows(session, org=org, start=start, end=end, circle=circle)
    now = utcnow()
    by_category: Counter[str] = Counter()
    by_decision: Counter[str] = Counter()
    by_circle: Counter[str] = Counter()
    by_week: dict[str, Counter[str]] = defaultdict(Counter)
    first_action: list[float] = []
    outcomes: Counter[str] = Counter()
    breaches = 0
    agree: dict[str, list[int]] = {c: [0, 0] for c in CATEGORIES}
    for s, item, dec in rows:
        by_decision[s.decision] += 1
        by_circle[s.circle or "(none)"] += 1
        week = s.created_at.strftime("%G-W%V")
        by_week[week][s.decision] += 1
        for f in s.flags:
            by_category[f] += 1
        if item is not None:
            if sla_breached(item, now):
                breaches += 1
            if s.decision == "escalate":
                if item.first_action_at is not None:
                    first_action.append((item.first_action_at - item.created_at).total_seconds() / 60)
                outcomes[dec.action if dec else "pending"] += 1
        if dec is not None:
            for c in CATEGORIES:
                if c in dec.labels:
                    agree[c][1] += 1
                    agree[c][0] += int((c in s.flags) == bool(dec.labels[c]))
    return {
        "org": org,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "circle": circle,
        "total_screened": len(rows),
        "by_category": {c: _suppress(by_category[c]) for c in CATEGORIES},
        "by_decision": {d: _suppress(n) for d, n in sorted(by_decision.items())},
        "by_circle": {c: _suppress(n) for c, n in sorted(by_circle.items())},
        "over_time": {w: {d: _suppress(n) for d, n in sorted(c.items())} for w, c in sorted(by_week.items())},
        "escalations": {
            "count": _suppress(sum(outcomes.values())),
            "time_to_first_action_minutes": {
                "median": statistics.median(first_action) if first_action else None,
                "p90": percentile(first_action, 0.9),
                "n": len(first_action),
            },
            "outcomes": {k: _suppress(v) for k, v in sorted(outcomes.items())},
        },
        "sla_breaches": _suppress(breaches),
        "model_moderator_agreement": {
            c: {"agreement": (a / n if n >= SUPPRESS_BELOW else None), "decisions": _suppress(n)}
            for c, (a, n) in agree.items()
        },
        "appeals": _appeals(session, org=org, start=start, end=end, circle=circle),
        "suppression": f"counts from 1 to {SUPPRESS_BELOW - 1} are shown as '{SUPPRESSED}'",
    }


def _appeals(
    session: Session, *, org: str, start: datetime | None, end: datetime | None, circle: str | None
) -> dict[str, Any]:
    """Appeals filed in the period, how many were overturned, per category the post was held for: where the
    model (or the first moderator) is most often wrong in the authors' eyes."""
    appeals: Counter[str] = Counter()
    overturned: Counter[str] = Counter()
    total = over = pending = 0
    for _, scr, dec in report_rows.appeal_rows(session, org=org, start=start, end=end, circle=circle):
        total += 1
        pending += dec is None
        won = dec is not None and dec.action in APPROVALS
        over += won
        for c in scr.flags or [r for r in (scr.reasons or []) if ":" not in r] or ["(none)"]:
            appeals[c] += 1
            overturned[c] += won
    return {
        "count": _suppress(total),
        "overturned": _suppress(over),
        "pending": _suppress(pending),
        "by_category": {
            c: {"appeals": _suppress(n), "overturned": _suppress(overturned[c])}
            for c, n in sorted(appeals.items())
        },
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting with = + - @ (or a tab/CR) gets a leading quote
    (OWASP CSV injection). Circle names and other keys come from posters, so every text cell goes through this."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _SafeWriter:
    def __init__(self, buf: io.StringIO) -> None:
        self._w = csv.writer(buf)

    def writerow(self, row: list[Any]) -> None:
        self._w.writerow([csv_cell(v) for v in row])


def report_csv(report: dict[str, Any]) -> str:
    """Flat rows (section, key, value) so a spreadsheet can pivot them."""
    buf = io.StringIO()
    w = _SafeWriter(buf)
    w.writerow(["section", "key", "value"])
    w.writerow(["summary", "total_screened", report["total_screened"]])
    for section in ("by_category", "by_decision", "by_circle"):
        for k, v in report[section].items():
            w.writerow([section, k, v])
    for week, counts in report["over_time"].items():
        for d, v in counts.items():
            w.writerow(["over_time", f"{week}:{d}", v])
    esc = report["escalations"]
    w.writerow(["escalations", "count", esc["count"]])
    for k, v in esc["time_to_first_action_minutes"].items():
        w.writerow(["escalations", f"time_to_first_action_minutes.{k}", "" if v is None else v])
    for k, v in esc["outcomes"].items():
        w.writerow(["escalations", f"outcome.{k}", v])
    w.writerow(["sla", "breaches", report["sla_breaches"]])
    appeals = report["appeals"]
    for k in ("count", "overturned", "pending"):
        w.writerow(["appeals", k, appeals[k]])
    for c, v in appeals["by_category"].items():
        w.writerow(["appeals", f"{c}.appeals", v["appeals"]])
        w.writerow(["appeals", f"{c}.overturned", v["overturned"]])
    for c, v in report["model_moderator_agreement"].items():
        w.writerow(["agreement", c, "" if v["agreement"] is None else round(v["agreement"], 3)])
    return buf.getvalue()
