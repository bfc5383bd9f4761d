"""Charts for the printable risk report: matplotlib (Agg canvas, no pyplot state) rendered to PNG ``data:`` URIs.

``data:`` images are allowed by the CSP's ``img-src``, so the report is one self-contained page that prints to
PDF. Suppressed counts ("<5") are drawn as zero and labelled, never estimated.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend, safe in worker threads
from matplotlib.ticker import MaxNLocator

from models.policy import DECISIONS
from models.taxonomy import URGENT_CATEGORIES
from service.reporting import SUPPRESSED

DECISION_ORDER = DECISIONS
DECISION_LABELS = {
    "allow": "Allowed",
    "allow_redacted": "Allowed (redacted)",
    "hold": "Held",
    "escalate": "Escalated",
    "block": "Blocked",
}
DECISION_COLOURS = {
    "allow": "#3f7d5c",
    "allow_redacted": "#8cc0a2",
    "hold": "#d69a2d",
    "escalate": "#b8322a",
    "block": "#5b6170",
}
INK = "#1f2933"
GRID = "#d9dee5"
ACCENT = "#2f5d8a"


def _num(v: Any) -> int:
    return 0 if v == SUPPRESSED or v is None else int(v)


def _style(fig: Figure) -> Any:
    ax = fig.add_subplot(1, 1, 1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GRID)
    ax.tick_params(colors=INK, labelsize=9)
    ax.set_axisbelow(True)
    return ax


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _empty(ax: Any, message: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.text(0.5, 0.5, message, ha="center", va="center", color="#52606d", fontsize=10, transform=ax.transAxes)


def decisions_over_time(over_time: Mapping[str, Mapping[str, Any]]) -> str:
    """Stacked bars by ISO week: what the service decided, week by week."""
    fig = Figure(figsize=(7.2, 3.0))
    ax = _style(fig)
    weeks = list(over_time)
    if not weeks:
        _empty(ax, "No screenings in this period")
        return _png(fig)
    bottoms = [0] * len(weeks)
    x = list(range(len(weeks)))
    for d in DECISION_ORDER:
        heights = [_num(over_time[w].get(d, 0)) for w in weeks]
        if not any(heights) and not any(over_time[w].get(d) == SUPPRESSED for w in weeks):
            continue
        ax.bar(x, heights, bottom=bottoms, color=DECISION_COLOURS[d], label=DECISION_LABELS[d], width=0.6)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for i, w in enumerate(weeks):
        if any(v == SUPPRESSED for v in over_time[w].values()):
            ax.annotate(
                "includes <5",
                (i, bottoms[i]),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=7,
                color="#52606d",
            )
    ax.set_xticks(x, weeks, rotation=0 if len(weeks) < 8 else 45)
    pad = max(0.0, (6 - len(weeks)) / 2)  # a week or two still draws as bars, not a wall of colour
    ax.set_xlim(-0.6 - pad, len(weeks) - 0.4 + pad)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("Posts screened", color=INK, fontsize=9)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_ylim(0, max([*bottoms, 1]) * 1.12)
    ax.legend(frameon=False, fontsize=8, ncols=5, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _png(fig)


def flags_by_category(by_category: Mapping[str, Any]) -> str:
    """Horizontal bars per category (suppressed counts are labelled "<5" at zero length)."""
    cats = list(by_category)
    fig = Figure(figsize=(7.2, 0.32 * len(cats) + 0.8))
    ax = _style(fig)
    values = [_num(by_category[c]) for c in cats]
    labels = [c.replace("_", " ").capitalize() for c in cats]
    y = list(range(len(cats)))[::-1]
    colours = [DECISION_COLOURS["escalate"] if c in URGENT_CATEGORIES else ACCENT for c in cats]
    ax.barh(y, values, color=colours, height=0.6)
    ax.set_yticks(y, labels)
    top = max([*values, 1])
    for yi, c, v in zip(y, cats, values, strict=True):
        text = SUPPRESSED if by_category[c] == SUPPRESSED else str(v)
        ax.text(v + top * 0.01, yi, text, va="center", fontsize=8, color=INK)
    ax.set_xlim(0, top * 1.15)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Posts flagged", color=INK, fontsize=9)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    return _png(fig)


def escalation_speed(time_to_first_action: Mapping[str, Any], sla_minutes: int) -> str:
    """Median and 90th-percentile minutes from escalation to first moderator action, against the SLA."""
    fig = Figure(figsize=(7.2, 1.9))
    ax = _style(fig)
    median, p90 = time_to_first_action.get("median"), time_to_first_action.get("p90")
    if not time_to_first_action.get("n") or median is None:
        _empty(ax, "No escalations were acted on in this period")
        return _png(fig)
    vals = [float(p90 or 0), float(median)]
    cols = [DECISION_COLOURS["escalate"] if v > sla_minutes else DECISION_COLOURS["allow"] for v in vals]
    ax.barh([0, 1], vals, color=cols, height=0.55)
    ax.set_yticks([0, 1], ["90th percentile", "Median"])
    ax.axvline(sla_minutes, color=INK, linestyle="--", linewidth=1)
    top = max([*vals, float(sla_minutes)])
    ax.text(sla_minutes, 1.45, f"SLA {sla_minutes} min", fontsize=8, color=INK, ha="center")
    for yi, v in zip([0, 1], vals, strict=True):
        ax.text(v + top * 0.01, yi, f"{v:.1f} min", va="center", fontsize=8, color=INK)
    ax.set_xlim(0, top * 1.2)
    ax.set_ylim(-0.5, 1.8)
    ax.set_xlabel("Minutes to first action", color=INK, fontsize=9)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    return _png(fig)
