"""The culture evidence report over the API (issue 21): for the safeguarding lead, admins and managers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from service.console.culture_view import print_page
from service.culture import clean_filter, load_culture_report
from service.culture_book import report_csv
from service.culture_period import PeriodError, parse_period
from service.deps import CultureReader, StateDep

router = APIRouter(prefix="/v1", tags=["reports"])


@router.get("/reports/culture")
def get_culture_report(
    principal: CultureReader,
    state: StateDep,
    start: Annotated[str | None, Query(max_length=20, description="First day, YYYY-MM-DD (UK time).")] = None,
    end: Annotated[str | None, Query(max_length=20, description="Last day, inclusive.")] = None,
    location: Annotated[str | None, Query(max_length=200)] = None,
    circle: Annotated[str | None, Query(max_length=200)] = None,
    format: Annotated[Literal["json", "csv", "html"], Query()] = "json",
) -> Response:
    """Culture evidence for a period beside the period of equal length before it: recognition, staff voice,
    shared practice, culture health and wellbeing, each tied to the inspection question it evidences.

    Counts only; every count under 5 is hidden, and so is any count it could be worked out from. Without
    ``start`` and ``end`` the last 12 weeks; at most 366 days. ``format=csv``: one row per (section,
    metric, period, key, value, suppressed); ``format=html``: a self-contained printable page with charts.
    """
    try:
        period = parse_period(start, end)
    except PeriodError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    report = load_culture_report(
        state,
        principal=principal,
        period=period,
        location=clean_filter(location),
        circle=clean_filter(circle),
        fmt=format,
    )
    name = f"culture-report-{period.first.isoformat()}-{period.last.isoformat()}"
    if format == "csv":
        return PlainTextResponse(
            report_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "html":
        html, csp = print_page(report)
        return HTMLResponse(
            html,
            headers={
                "Content-Security-Policy": csp,
                "Content-Disposition": f'inline; filename="{name}.html"',
            },
        )
    return JSONResponse(report)
