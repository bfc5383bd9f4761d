"""Charts of the culture evidence report: this period against the one before, week by week, and themes.

Same approach as the risk report's charts (``service/console/charts.py``: matplotlib's Agg canvas, no pyplot
state, PNG ``data:`` URIs the CSP allows). Hidden values ("<5", "[c]") are gaps in a line, never estimated;
a chart with nothing to draw says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from service.console.charts import ACCENT, GRID, INK, _empty, _png, _style

PREVIOUS = "#9aa5b1"


def weekly_compare(
    current: Sequence[float | None], previous: Sequence[float | None], *, ylabel: str, share: bool = False
) -> str:
    """Two lines by week of the period (week 1, 2 ...): this period solid, the previous one dashed grey."""
    fig = Figure(figsize=(7.2, 2.6))
    ax = _style(fig)
    if not any(v is not None for v in [*current, *previous]):
        _empty(ax, "Every week is under 5 or hidden to protect small numbers")
        return _png(fig)
    x = list(range(1, len(current) + 1))
    for values, colour, style, label in (
        (previous, PREVIOUS, "--", "Previous period"),
        (current, ACCENT, "-", "This period"),
    ):
        ys = [math.nan if v is None else float(v) for v in values]
        ax.plot(x[: len(ys)], ys, style, color=colour, marker="o", markersize=3.5, linewidth=1.8, label=label)
    ax.set_xticks(x if len(x) <= 14 else x[:: max(1, len(x) // 12)])
    ax.set_xlim(0.5, len(x) + 0.5)
    ax.set_xlabel("Week of the period", color=INK, fontsize=9)
    ax.set_ylabel(ylabel, color=INK, fontsize=9)
    if share:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.legend(frameon=False, fontsize=8, ncols=2, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _png(fig)


def theme_bars(names: Sequence[str], current: Sequence[int | None], previous: Sequence[int | None]) -> str:
    """Published posts per theme, this period beside the previous one (hidden counts drawn at zero and
    labelled "<5")."""
    fig = Figure(figsize=(7.2, 0.36 * len(names) + 0.9))
    ax = _style(fig)
    if not names or not any(v for v in [*current, *previous]):
        _empty(ax, "No theme reached 5 published posts in either period")
        return _png(fig)
    y = list(range(len(names)))[::-1]
    height = 0.38
    cur = [v or 0 for v in current]
    prev = [v or 0 for v in previous]
    ax.barh([v + height / 2 for v in y], cur, height=height, color=ACCENT, label="This period")
    ax.barh([v - height / 2 for v in y], prev, height=height, color=PREVIOUS, label="Previous period")
    top = max([*cur, *prev, 1])
    for yi, shown, v in zip(y, current, cur, strict=True):
        ax.text(v + top * 0.01, yi + height / 2, "<5" if shown is None else str(v), va="center", fontsize=7)
    ax.set_yticks(y, list(names))
    ax.set_xlim(0, top * 1.15)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Published posts", color=INK, fontsize=9)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.legend(frameon=False, fontsize=8, ncols=2, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _png(fig)
