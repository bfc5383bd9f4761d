"""How console pages are rendered and answered: templates, redirects with a flash, CSRF, the urgent banner."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from service.console.session import (
    ConsoleUser,
    clear_flash,
    csrf_ok,
    current_user,
    read_flash,
    set_flash,
)
from service.console.views import CATEGORY_LABELS, UrgentView, age, snippet
from service.deps import db_or_503
from service.state import AppState
from storage import alerts, reviews
from storage.tables import utcnow

STATIC_DIR = Path(__file__).with_name("static")


TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))


def static_files() -> StaticFiles:
    STATIC_DIR.mkdir(exist_ok=True)
    return StaticFiles(directory=STATIC_DIR)


@contextmanager
def console_db(state: AppState) -> Iterator[Session]:
    """One committed transaction; a database outage is a 503 (never a half-done decision)."""
    with db_or_503(state).session() as s:
        yield s


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    user: ConsoleUser | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    state: AppState = request.app.state.cs
    flash = read_flash(request, state)
    ctx = {
        "user": user,
        "flash": flash,
        "category_labels": CATEGORY_LABELS,
        "urgent": urgent(state, user),
        "refresh_seconds": state.settings.console_refresh_seconds,
        # Where the banner's forms come back to: this page, if it can be fetched again.
        "back": console_path(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
        if request.method == "GET"
        else "/console",
        **context,
    }
    resp = TEMPLATES.TemplateResponse(request, template, ctx, status_code=status_code)
    clear_flash(request, resp)
    return resp


def urgent(state: AppState, user: ConsoleUser | None) -> list[UrgentView] | None:
    """The lead's banner: urgent items nobody has acknowledged (None for everyone else)."""
    if user is None or user.principal.role != "safeguarding_lead":
        return None
    now = utcnow()
    with console_db(state) as s:
        rows = alerts.unacknowledged_urgent(s, org=user.principal.org)
        return [
            UrgentView(
                id=it.id,
                age=age((now - it.created_at).total_seconds()),
                flags=[str(f) for f in (scr.flags or it.categories or [])],
                snippet=snippet(scr.redacted_text),
            )
            for it, scr in rows
        ]


def fragment(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """A piece of a page for the console's self-refresh (no flash consumed, nothing cached)."""
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"category_labels": CATEGORY_LABELS, **context},
        headers={"Cache-Control": "no-store"},
    )


def to_login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=status.HTTP_303_SEE_OTHER)


def redirect(url: str, state: AppState, message: str | None = None, kind: str = "ok") -> RedirectResponse:
    resp = RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
    if message:
        set_flash(resp, state, message, kind)
    return resp


def forbidden(request: Request, user: ConsoleUser | None, message: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"title": "Not allowed", "message": message},
        user=user,
        status_code=status.HTTP_403_FORBIDDEN,
    )


def moderator(request: Request, state: AppState) -> ConsoleUser | Response:
    """The signed-in moderator, lead or admin, or the response that sends anyone else away: sign-in, or 403 for
    a read-only manager (the queue and review pages are not theirs)."""
    user = current_user(request, state)
    if user is None:
        return to_login()
    return user if user.can_moderate else not_a_moderator(request, user)


def not_a_moderator(request: Request, user: ConsoleUser) -> HTMLResponse:
    return forbidden(
        request,
        user,
        "The review queue is for moderators, the safeguarding lead and admins. "
        "A manager's key reads the culture report (/console/culture).",
    )


def check_csrf(request: Request, user: ConsoleUser, token: str | None) -> HTMLResponse | None:
    if csrf_ok(user.csrf, token):
        return None
    return forbidden(
        request,
        user,
        "This form has expired or did not come from the console. Go back, reload the page and try again.",
    )


def console_path(back: str) -> str:
    """Only a console path may be the way back after a form (never an address elsewhere)."""
    return back if re.fullmatch(r"/console(/[\w\-/]*)?(\?[\w=&%.\-]*)?", back or "") else "/console"


def claim_next(state: AppState, user: ConsoleUser) -> str | None:
    with console_db(state) as s:
        item = reviews.claim_next(
            s,
            org=user.principal.org,
            key_id=user.principal.key_id,
            lease_seconds=state.settings.review_lease_seconds,
            actor=user.principal.actor,
        )
        return item.id if item else None
