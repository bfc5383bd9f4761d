"""What the culture pages show, built from the report object itself (``service.culture_report``), so the
console page, the printable page and the JSON can never disagree: every number on a page is a cell's
``shown`` text, tagged with its (section, metric, period, key) for the browser test to check against the JSON.

The printable page (``GET /v1/reports/culture?format=html``) is one self-contained file: the console's
stylesheet is inlined and allowed by its hash in the page's own Content-Security-Policy (the service's default
forbids inline styles), images are ``data:`` URIs, there is no script.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from service.console import culture_charts
from service.console.pages import STATIC_DIR, TEMPLATES

TABLE_SKIP = {"role_matrix", "themes", "themes_by_week", "spanning_circles"}
CHARTS = {
    "recognition": ("recognitions", "Special Mentions and OOOs", False),
    "staff_voice": ("concerns_raised", "Concerns raised", False),
    "culture_health": ("held_share", "Share of posts held", True),
    "wellbeing": ("wellbeing_share", "Share of published posts", True),
}


def _week_cells(metric: Mapping[str, Any], weeks: list[str], period: str) -> list[dict[str, Any] | None]:
    return [metric[period].get(w) for w in weeks]


def _label(key: str, labels: Mapping[str, Mapping[str, str]]) -> str:
    if key.startswith("circle:"):
        return key.removeprefix("circle:")
    return labels["keys"].get(key) or labels["themes"].get(key) or labels["roles"].get(key) or key


def page_context(report: Mapping[str, Any], *, charts: bool = True) -> dict[str, Any]:
    """Sections with their summary rows (period totals and breakdowns, this period beside the previous one),
    weekly tables aligned by week of the period, the role matrix, themes, and the charts."""
    labels = report["labels"]
    cur_weeks = [w["key"] for w in report["period"]["weeks"]]
    prev_weeks = [w["key"] for w in report["previous_period"]["weeks"]]
    weeks = [
        {"n": i + 1, "current": c, "previous": p, "days": w["days"]}
        for i, (c, p, w) in enumerate(zip(cur_weeks, prev_weeks, report["period"]["weeks"], strict=True))
    ]
    sections = []
    for sec in report["sections"]:
        by_id = {m["id"]: m for m in sec["metrics"]}
        summary, weekly = [], []
        for m in sec["metrics"]:
            if m["id"] in TABLE_SKIP:
                continue
            if any(w in m["current"] for w in cur_weeks):
                weekly.append(m)
            keys = [
                k for k in dict.fromkeys([*m["current"], *m["previous"]]) if k not in cur_weeks + prev_weeks
            ]
            for k in keys:
                label = m["label"] if k == "total" or len(keys) == 1 else _label(k, labels)
                summary.append(
                    {
                        "label": label,
                        "metric": m["id"],
                        "key": k,
                        "cur": m["current"].get(k),
                        "prev": m["previous"].get(k),
                    }
                )
        view: dict[str, Any] = {**sec, "summary": summary, "weekly": weekly}
        view["matrix"] = _matrix(by_id["role_matrix"], labels) if "role_matrix" in by_id else None
        view["themes"] = _themes(by_id, labels) if "themes" in by_id else None
        view["circles"] = _circles(by_id.get("spanning_circles"), labels)
        view["theme_weeks"] = (
            _theme_weeks(by_id.get("themes_by_week"), cur_weeks, labels) if "themes" in by_id else None
        )
        view["chart"] = _chart(sec["id"], by_id, view, cur_weeks, prev_weeks) if charts else None
        sections.append(view)
    return {"report": report, "sections": sections, "weeks": weeks}


def _matrix(metric: Mapping[str, Any], labels: Mapping[str, Any]) -> dict[str, Any]:
    """Rows: who recognised (author role); columns: who was recognised; the last row and column are totals."""
    out: dict[str, Any] = {}
    for period in ("current", "previous"):
        keys = list(metric[period])
        givers = list(dict.fromkeys(k.split(">")[0] for k in keys if not k.startswith("all>")))
        receivers = list(dict.fromkeys(k.split(">")[1] for k in keys if not k.endswith(">all")))
        rows = [
            {
                "label": labels["roles"].get(g, g),
                "cells": [(f"{g}>{r}", metric[period].get(f"{g}>{r}")) for r in [*receivers, "all"]],
            }
            for g in [*givers, "all"]
        ]
        out[period] = {
            "columns": [labels["roles"].get(r, r) for r in [*receivers, "all"]],
            "rows": rows if givers else [],
        }
    return out


def _themes(by_id: Mapping[str, Any], labels: Mapping[str, Any]) -> list[dict[str, Any]]:
    metric = by_id["themes"]
    return [
        {
            "key": t,
            "label": labels["themes"].get(t, t),
            "cur": metric["current"].get(t),
            "prev": metric["previous"].get(t),
        }
        for t in metric["current"]
    ]


def _theme_weeks(
    metric: Mapping[str, Any] | None, weeks: list[str], labels: Mapping[str, Any]
) -> dict[str, Any] | None:
    if metric is None:
        return None
    themes = list(dict.fromkeys(k.split("/")[0] for k in metric["current"]))
    rows = [
        {"week": w, "cells": [(f"{t}/{w}", metric["current"].get(f"{t}/{w}")) for t in themes]} for w in weeks
    ]
    return {"columns": [labels["themes"].get(t, t) for t in themes], "rows": rows}


def _circles(metric: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> list[dict[str, Any]]:
    if metric is None:
        return []
    keys = list(dict.fromkeys([*metric["current"], *metric["previous"]]))
    return [
        {
            "key": k,
            "label": _label(k, labels),
            "cur": metric["current"].get(k),
            "prev": metric["previous"].get(k),
        }
        for k in keys
    ]


def _chart(
    sid: str, by_id: Mapping[str, Any], view: Mapping[str, Any], cur: list[str], prev: list[str]
) -> dict[str, str] | None:
    if sid == "shared_practice" and view["themes"] is not None:
        rows = view["themes"]
        return {
            "src": culture_charts.theme_bars(
                [r["label"] for r in rows],
                [r["cur"]["value"] if r["cur"] else None for r in rows],
                [r["prev"]["value"] if r["prev"] else None for r in rows],
            ),
            "alt": "Bar chart of published posts per theme, this period beside the previous one; the table "
            "below gives the numbers.",
        }
    if sid not in CHARTS or CHARTS[sid][0] not in by_id:
        return None
    metric_id, ylabel, share = CHARTS[sid]
    metric = by_id[metric_id]
    values = {
        p: [c["value"] if c else None for c in _week_cells(metric, w, p)]
        for p, w in (("current", cur), ("previous", prev))
    }
    return {
        "src": culture_charts.weekly_compare(
            values["current"], values["previous"], ylabel=ylabel, share=share
        ),
        "alt": f"Line chart of {metric['label'].lower()} by week, this period against the previous one; "
        "the weekly table gives the numbers.",
    }


@lru_cache(maxsize=1)
def _inline_css() -> str:
    return (STATIC_DIR / "console.css").read_text()


def print_page(report: Mapping[str, Any]) -> tuple[str, str]:
    """The standalone printable page and the Content-Security-Policy that lets its one inline stylesheet in."""
    css = _inline_css()
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    html = TEMPLATES.get_template("culture_print.html").render({**page_context(report), "css": css})
    csp = (
        f"default-src 'none'; img-src data:; style-src 'sha256-{digest}'; frame-ancestors 'none'; "
        "form-action 'none'; base-uri 'none'"
    )
    return html, csp
