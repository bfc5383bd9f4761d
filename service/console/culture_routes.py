"""The culture evidence report in the console (``/console/culture``): for the safeguarding lead, admins and
read-only managers (a manager's console home). The page renders the same report object as the API's JSON,
with the console's layout, a period/location/circle form, charts, and print styles for a PDF."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from service.console.culture_view import page_context
from service.console.pages import forbidden, render, to_login
from service.console.session import ConsoleUser, current_user
from service.console.views import local
from service.culture import clean_filter, known_locations, load_culture_report
from service.culture_book import report_csv
from service.culture_period import Period, PeriodError, parse_period
from service.deps import StateDep
from service.state import AppState
from storage.tables import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)

Day = Annotated[str | None, Query(max_length=20)]
Filter = Annotated[str | None, Query(max_length=200)]


def reader(request: Request, state: AppState) -> ConsoleUser | Response:
    """The signed-in lead, admin or manager, or the response that sends anyone else away."""
    user = current_user(request, state)
    if user is None:
        return to_login()
    if not user.can_read_culture:
        return forbidden(
            request, user, "The culture report is for the safeguarding lead, admins and managers."
        )
    return user


def _label(p: Period) -> str:
    return f"{p.first.strftime('%d %b %Y')} – {p.last.strftime('%d %b %Y')}"


@router.get("/culture", response_class=HTMLResponse)
def culture_page(
    request: Request,
    state: StateDep,
    start: Day = None,
    end: Day = None,
    location: Filter = None,
    circle: Filter = None,
) -> Response:
    """The report as a page: the numbers of ``GET /v1/reports/culture`` for the same query, with charts."""
    user = reader(request, state)
    if isinstance(user, Response):
        return user
    location, circle = clean_filter(location), clean_filter(circle)
    ctx: dict[str, object] = {
        "title": "Culture evidence",
        "active": "culture",
        "org": user.principal.org,
        "location": location or "",
        "circle": circle or "",
        "locations": known_locations(state, org=user.principal.org),
        "report": None,
        "error": None,
        "start": start or "",
        "end": end or "",
        "period_label": "",
        "previous_label": "",
        "generated": local(utcnow()),
    }
    try:
        period = parse_period(start, end)
    except PeriodError as exc:
        ctx["error"] = f"{exc}. Choose another period."
        return render(
            request, "culture.html", ctx, user=user, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    report = load_culture_report(
        state, principal=user.principal, period=period, location=location, circle=circle, fmt="console"
    )
    query = {
        "start": period.first.isoformat(),
        "end": period.last.isoformat(),
        **({"location": location} if location else {}),
        **({"circle": circle} if circle else {}),
    }
    ctx.update(
        page_context(report),
        start=period.first.isoformat(),
        end=period.last.isoformat(),
        period_label=_label(period),
        previous_label=_label(period.previous()),
        csv_url="/console/culture.csv?" + urlencode(query),
    )
    return render(request, "culture.html", ctx, user=user)


@router.get("/culture.csv")
def culture_csv(
    request: Request,
    state: StateDep,
    start: Day = None,
    end: Day = None,
    location: Filter = None,
    circle: Filter = None,
) -> Response:
    """The same report as CSV, for the session (the /v1 route needs a bearer key)."""
    user = reader(request, state)
    if isinstance(user, Response):
        return user
    try:
        period = parse_period(start, end)
    except PeriodError as exc:
        return PlainTextResponse(str(exc), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    report = load_culture_report(
        state,
        principal=user.principal,
        period=period,
        location=clean_filter(location),
        circle=clean_filter(circle),
        fmt="csv",
    )
    name = f"culture-report-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    return PlainTextResponse(
        report_csv(report),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
