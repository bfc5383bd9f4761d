"""The culture report's cells: every published count goes into one book with the totals it adds up to, is
suppressed once (``models.disclosure.suppress``) across the whole report, and only then are rates worked out.

One book for the whole report, not one per table: a count that appears in two tables (a week's posts, beside
the week's themes and beside the week's held posts) is one cell, so it cannot be hidden in one table and shown
in the other. Never enter the same number twice under two keys: a reader would see one copy.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from models.disclosure import Line, Reason, shown, suppress
from service.culture_text import METRICS, UNITS

#: (section, metric, period, key): also the CSV's first four columns.
Key = tuple[str, str, str, str]
TOTAL = "total"


class Book:
    """Counts (with the lines they add up along), then derived values, then cells."""

    def __init__(self) -> None:
        self.values: dict[Key, int] = {}
        self.private: set[Key] = set()
        self.lines: list[Line[Key]] = []
        self.hidden: dict[Key, Reason] | None = None
        self.derived: dict[Key, tuple[float | None, tuple[Key, ...]]] = {}

    def count(self, key: Key, n: int, *, private: bool = False) -> Key:
        """A published count (``private``: derivable from published ones, so it must be protected like them,
        but never printed: the complement of a part in its whole)."""
        if key in self.values:
            raise ValueError(f"count entered twice: {key}")
        if key[:2] not in METRICS and not private:
            raise ValueError(f"no label for metric {key[:2]}")
        self.values[key] = int(n)
        if private:
            self.private.add(key)
        return key

    def line(self, members: Iterable[Key], total: Key) -> None:
        self.lines.append(Line(tuple(members), total))

    def series(self, section: str, metric: str, period: str, weekly: Mapping[str, int]) -> Key:
        """A count per week and its period total (the weeks add up to it)."""
        keys = [self.count((section, metric, period, w), n) for w, n in weekly.items()]
        total = self.count((section, metric, period, TOTAL), sum(weekly.values()))
        self.line(keys, total)
        return total

    def part(self, part: Key, whole: Key) -> None:
        """``part`` is a subset of ``whole``: the rest is derivable, so it joins the line privately."""
        rest = (part[0], part[1] + ":rest", part[2], part[3])
        self.count(rest, self.values[whole] - self.values[part], private=True)
        self.line([part, rest], whole)

    def suppress(self) -> None:
        self.hidden = suppress(self.values, self.lines)

    def ok(self, key: Key) -> bool:
        """Whether a count is shown (after ``suppress``)."""
        assert self.hidden is not None, "suppress() first"
        return key not in self.hidden

    def derive(
        self, key: Key, sources: Sequence[Key], compute: Callable[..., float | None], *, digits: int = 4
    ) -> None:
        """A rate or share from counts: hidden when any of its counts is hidden (``[c]``)."""
        assert self.hidden is not None, "suppress() first"
        if key[:2] not in METRICS:
            raise ValueError(f"no label for metric {key[:2]}")
        if all(self.ok(s) for s in sources):
            value = compute(*(self.values[s] for s in sources))
            self.derived[key] = (None if value is None else round(value, digits), tuple(sources))
        else:
            self.derived[key] = (None, tuple(sources))

    def cell(self, key: Key) -> dict[str, Any]:
        """``{"value", "suppressed", "shown"}``: value None when hidden, ``shown`` as printed."""
        assert self.hidden is not None, "suppress() first"
        fmt = UNITS[METRICS[key[:2]][1]]
        if key in self.derived:
            value, sources = self.derived[key]
            hidden = not all(self.ok(s) for s in sources)
            return {
                "value": value,
                "suppressed": hidden,
                "shown": shown(value, "derived" if hidden else None, fmt),
            }
        reason = self.hidden.get(key)
        value = None if reason else self.values[key]
        return {"value": value, "suppressed": reason is not None, "shown": shown(value, reason, fmt)}

    def published_keys(self) -> list[Key]:
        """Every printed cell, in the order entered (counts, then derived values)."""
        return [k for k in self.values if k not in self.private] + list(self.derived)


def metric_cells(book: Book, periods: Sequence[str]) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(section, metric) -> period -> key -> cell, in the order the book holds them."""
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for key in book.published_keys():
        section, metric, period, k = key
        by_period = out.setdefault((section, metric), {p: {} for p in periods})
        by_period[period][k] = book.cell(key)
    return out


def report_csv(report: Mapping[str, Any]) -> str:
    """One row per (section, metric, period, key, value, suppressed): a spreadsheet can pivot it. Text cells
    that a spreadsheet would run as a formula (circle names, locations) get a leading quote."""
    from service.reporting import csv_cell

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["section", "metric", "period", "key", "value", "suppressed"])
    for section in report["sections"]:
        for metric in section["metrics"]:
            for period in ("current", "previous"):
                for k, cell in metric[period].items():
                    value = "" if cell["value"] is None else cell["value"]
                    row = [section["id"], metric["id"], period, k, value, str(cell["suppressed"]).lower()]
                    w.writerow([csv_cell(v) for v in row])
    return buf.getvalue()
