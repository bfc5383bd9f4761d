"""The lead's risk report in the console: a printable page with charts, and the same numbers as CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from service.console import charts
from service.console.pages import console_db, forbidden, render, to_login
from service.console.session import (
    ConsoleUser,
    current_user,
)
from service.console.views import ACTIONS, DECISION_LABELS, LONDON, local
from service.deps import StateDep
from service.reporting import SUPPRESSED, report_csv, risk_report
from service.schemas import StorableQuery
from service.state import AppState
from storage import audit
from storage.tables import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)


def report_range(start: str | None, end: str | None) -> tuple[date, date]:
    """Dates from the form (inclusive); the default is the last twelve weeks."""
    today = datetime.now(LONDON).date()

    def parse(v: str | None, default: date) -> date:
        try:
            return date.fromisoformat(v) if v else default
        except ValueError:
            return default

    d_from, d_to = parse(start, today - timedelta(days=83)), parse(end, today)
    return (d_to, d_from) if d_from > d_to else (d_from, d_to)


def bounds(d_from: date, d_to: date) -> tuple[datetime, datetime]:
    start = datetime(d_from.year, d_from.month, d_from.day, tzinfo=LONDON).astimezone(UTC)
    end = datetime(d_to.year, d_to.month, d_to.day, tzinfo=LONDON) + timedelta(days=1)
    return start, end.astimezone(UTC)


def load_report(
    state: AppState, user: ConsoleUser, d_from: date, d_to: date, circle: str | None, fmt: str
) -> dict[str, Any]:
    start, end = bounds(d_from, d_to)
    with console_db(state) as s:
        report = risk_report(s, org=user.principal.org, start=start, end=end, circle=circle)
        audit.append(
            s,
            org=user.principal.org,
            actor=user.principal.actor,
            action="report.risk",
            subject="report:risk",
            details={"from": d_from.isoformat(), "to": d_to.isoformat(), "circle": circle, "format": fmt},
        )
    return report


def reporter(request: Request, state: AppState) -> ConsoleUser | Response:
    """The signed-in lead or admin, or the response that sends anyone else away."""
    user = current_user(request, state)
    if user is None:
        return to_login()
    if not user.can_report:
        return forbidden(request, user, "Reports are for the safeguarding lead and admins.")
    return user


@router.get("/reports", response_class=HTMLResponse)
def reports(
    request: Request,
    state: StateDep,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
    circle: Annotated[StorableQuery, Query(max_length=200)] = None,
) -> Response:
    """The safeguarding lead's risk report as a printable page with charts (leads and admins only)."""
    user = reporter(request, state)
    if isinstance(user, Response):
        return user
    d_from, d_to = report_range(from_, to)
    circle = (circle or "").strip() or None
    report = load_report(state, user, d_from, d_to, circle, "html")
    esc = report["escalations"]
    images = {
        "over_time": charts.decisions_over_time(report["over_time"]),
        "by_category": charts.flags_by_category(report["by_category"]),
        "escalation": charts.escalation_speed(
            esc["time_to_first_action_minutes"], state.settings.sla_urgent_minutes
        ),
    }
    weeks = list(report["over_time"])
    decisions = [d for d in charts.DECISION_ORDER if any(d in report["over_time"][w] for w in weeks)]
    query = {"from": d_from.isoformat(), "to": d_to.isoformat(), **({"circle": circle} if circle else {})}
    return render(
        request,
        "report.html",
        {
            "title": "Risk report",
            "active": "reports",
            "report": report,
            "images": images,
            "d_from": d_from,
            "d_to": d_to,
            "circle": circle or "",
            "weeks": weeks,
            "outcome_labels": {**ACTIONS, "pending": "Still pending"},
            "decisions": decisions,
            "decision_labels": DECISION_LABELS,
            "csv_url": "/console/reports.csv?" + urlencode(query),
            "suppressed": SUPPRESSED,
            "generated": local(utcnow()),
            "sla_urgent": state.settings.sla_urgent_minutes,
            "period": f"{d_from.strftime('%d %b %Y')} – {d_to.strftime('%d %b %Y')}",
        },
        user=user,
    )


@router.get("/reports.csv")
def reports_csv(
    request: Request,
    state: StateDep,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
    circle: Annotated[StorableQuery, Query(max_length=200)] = None,
) -> Response:
    """The same report as CSV, for the session (the /v1 route needs a bearer key)."""
    user = reporter(request, state)
    if isinstance(user, Response):
        return user
    d_from, d_to = report_range(from_, to)
    report = load_report(state, user, d_from, d_to, (circle or "").strip() or None, "csv")
    name = f"risk-report-{d_from.isoformat()}-{d_to.isoformat()}.csv"
    return PlainTextResponse(
        report_csv(report),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
