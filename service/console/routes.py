"""The moderator console: sign-in, the review queue, one item at a time, and the lead's printable report.

Server-rendered (Jinja2) with plain forms, so it works without JavaScript; one static script adds keyboard
shortcuts. Everything is served under the strict CSP: no inline script or style anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import update
from sqlalchemy.orm import Session

from models.pii.findings import placeholder_for
from models.taxonomy import CATEGORIES
from service.console import charts
from service.console.session import (
    CONSOLE_ROLES,
    ConsoleUser,
    clear_flash,
    csrf_ok,
    current_user,
    end_session,
    login_csrf,
    login_csrf_from_cookie,
    read_flash,
    set_flash,
    set_login_csrf,
    start_session,
)
from service.deps import StateDep, authenticate_token, db_or_503
from service.reporting import SUPPRESSED, report_csv, risk_report
from service.routes.reviews import sla_state
from service.screening import identifiers_in_correction
from service.state import AppState
from storage import alerts, audit, crud
from storage.tables import ReviewItem, utcnow

router = APIRouter(prefix="/console", include_in_schema=False)
STATIC_DIR = Path(__file__).with_name("static")
TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
LONDON = ZoneInfo("Europe/London")

ACTIONS = {
    "approve": "Approved",
    "approve_redacted": "Approved (redacted)",
    "reject": "Rejected",
    "escalate": "Escalated",
}
CATEGORY_LABELS = {c: c.replace("_", " ").capitalize() for c in CATEGORIES}
DECISION_LABELS = charts.DECISION_LABELS
#: Which rule held a post, in words a moderator can act on (reasons that are not a model flag).
RULE_LABELS = {
    "special_category": "Confidentiality rule: a health or other special-category detail about someone we care for",
    "access_details": "Confidentiality rule: how to get into someone's home (a code, or where a key is kept)",
    "hidden_text": "Hidden text: reversed or invisible characters make the post read differently from its code",
    "unjudgeable": "The model cannot judge this post (for example, not in English)",
    "confidentiality": "Confidentiality: private details the redaction could not remove",
}
SLA_LABELS = {"ok": "On time", "due_soon": "Due soon", "breached": "SLA breached"}
SNIPPET_CHARS = 160


def static_files() -> StaticFiles:
    STATIC_DIR.mkdir(exist_ok=True)
    return StaticFiles(directory=STATIC_DIR)


# --- helpers -------------------------------------------------------------------------------------------------


@contextmanager
def _db(state: AppState) -> Iterator[Session]:
    """One committed transaction; a database outage is a 503 (never a half-done decision)."""
    with db_or_503(state).session() as s:
        yield s


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if hours < 6 else f"{hours} h"
    return f"{hours // 24} days"


def _local(dt: datetime | None) -> str:
    return dt.astimezone(LONDON).strftime("%d %b %Y, %H:%M") if dt else ""


def _render(
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
        "urgent": _urgent(state, user),
        "refresh_seconds": state.settings.console_refresh_seconds,
        # Where the banner's forms come back to: this page, if it can be fetched again.
        "back": _console_path(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
        if request.method == "GET"
        else "/console",
        **context,
    }
    resp = TEMPLATES.TemplateResponse(request, template, ctx, status_code=status_code)
    clear_flash(request, resp)
    return resp


@dataclass(frozen=True)
class UrgentView:
    id: str
    age: str
    flags: list[str]
    snippet: str


def _urgent(state: AppState, user: ConsoleUser | None) -> list[UrgentView] | None:
    """The lead's banner: urgent items nobody has acknowledged (None for everyone else)."""
    if user is None or user.principal.role != "safeguarding_lead":
        return None
    now = utcnow()
    with _db(state) as s:
        rows = alerts.unacknowledged_urgent(s, org=user.principal.org)
        return [
            UrgentView(
                id=it.id,
                age=_age((now - it.created_at).total_seconds()),
                flags=[str(f) for f in (scr.flags or it.categories or [])],
                snippet=_snippet(scr.redacted_text),
            )
            for it, scr in rows
        ]


def _fragment(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """A piece of a page for the console's self-refresh (no flash consumed, nothing cached)."""
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"category_labels": CATEGORY_LABELS, **context},
        headers={"Cache-Control": "no-store"},
    )


def _to_login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=status.HTTP_303_SEE_OTHER)


def _redirect(url: str, state: AppState, message: str | None = None, kind: str = "ok") -> RedirectResponse:
    resp = RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
    if message:
        set_flash(resp, state, message, kind)
    return resp


def _forbidden(request: Request, user: ConsoleUser | None, message: str) -> HTMLResponse:
    return _render(
        request,
        "error.html",
        {"title": "Not allowed", "message": message},
        user=user,
        status_code=status.HTTP_403_FORBIDDEN,
    )


def _check_csrf(request: Request, user: ConsoleUser, token: str | None) -> HTMLResponse | None:
    if csrf_ok(user.csrf, token):
        return None
    return _forbidden(
        request,
        user,
        "This form has expired or did not come from the console. Go back, reload the page and try again.",
    )


def _segments(text: str, entities: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """Split the redacted text into (text, is_placeholder) runs. Entity offsets point into the original,
    which is never shown, so the placeholders those entities became are what get highlighted."""
    marks = sorted(
        {placeholder_for(str(e.get("type", "")), str(e.get("role", "other"))) for e in entities},
        key=len,
        reverse=True,
    )
    if not marks:
        return [(text, False)]
    pattern = re.compile("|".join(re.escape(m) for m in marks))
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            out.append((text[pos : m.start()], False))
        out.append((m.group(0), True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def _evidence(text: str, evidence: dict[str, Any], flags: list[str]) -> list[tuple[str, str]]:
    """The sentence behind each flag, when it is a part of the post rather than the whole of it."""
    out: list[tuple[str, str]] = []
    for c in flags:
        span = evidence.get(c)
        if not span or len(span) != 2:
            continue
        start, end = int(span[0]), int(span[1])
        if 0 <= start < end <= len(text) and (start, end) != (0, len(text)):
            out.append((c, " ".join(text[start:end].split())))
    return out


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True)
class ItemView:
    """What a template may see of a review: the redacted text only, and no author for anonymous posts."""

    id: str
    status: str
    priority: str
    risk: float
    decision: str
    decision_label: str
    snippet: str
    segments: list[tuple[str, bool]]
    redacted_text: str
    scores: list[tuple[str, float, bool]]
    flags: list[str]
    entity_summary: list[str]
    reasons: list[str]
    #: (category, the sentence of the redacted text whose score raised that flag)
    evidence: list[tuple[str, str]]
    circle: str
    kind: str
    author: str
    age: str
    created: str
    due: str
    sla: str
    sla_label: str
    claimed_by_me: bool
    claimed_by_other: bool
    lease_expires_at: datetime | None
    lease_expires: str
    moderator_decision: str | None
    #: An author's appeal against an earlier decision (its redacted reason), when this item decides one.
    is_appeal: bool
    appeal_reason: str | None
    acknowledged: str


def _view(row: crud.ReviewRow, key_id: int, now: datetime) -> ItemView:
    it, s = row.item, row.screening
    active = it.claimed_by is not None and it.lease_expires_at is not None and it.lease_expires_at > now
    flags = [str(f) for f in s.flags]
    scores = [(c, float(s.scores.get(c, 0.0)), c in flags) for c in CATEGORIES if c in s.scores]
    types: dict[str, int] = {}
    for e in s.entities:
        label = (
            placeholder_for(str(e.get("type", "")), str(e.get("role", "other"))).strip("[]").replace("_", " ")
        )
        types[label.capitalize()] = types.get(label.capitalize(), 0) + 1
    sla = sla_state(row, now)
    return ItemView(
        id=it.id,
        status=it.status,
        priority=it.priority,
        risk=float(it.risk),
        decision=s.decision,
        decision_label=DECISION_LABELS.get(s.decision, s.decision),
        snippet=_snippet(s.redacted_text),
        segments=_segments(s.redacted_text, list(s.entities)),
        redacted_text=s.redacted_text,
        scores=scores,
        flags=flags,
        entity_summary=[f"{k} ×{n}" if n > 1 else k for k, n in sorted(types.items())],
        reasons=[RULE_LABELS.get(str(r), CATEGORY_LABELS.get(str(r), str(r))) for r in (s.reasons or [])],
        evidence=_evidence(s.redacted_text, s.evidence or {}, flags),
        circle=s.circle or "—",
        kind=s.kind.replace("_", " "),
        author="Anonymous" if s.anonymous else (s.author_id or "Not given"),
        age=_age((now - it.created_at).total_seconds()),
        created=_local(it.created_at),
        due=_local(it.due_at),
        sla=sla,
        sla_label=SLA_LABELS[sla],
        claimed_by_me=active and it.claimed_by == key_id,
        claimed_by_other=active and it.claimed_by != key_id,
        lease_expires_at=it.lease_expires_at,
        lease_expires=_local(it.lease_expires_at) if active else "",
        moderator_decision=ACTIONS.get(row.decision.action, row.decision.action) if row.decision else None,
        is_appeal=it.kind == "appeal",
        appeal_reason=row.appeal.reason if row.appeal else None,
        acknowledged=_local(it.acknowledged_at),
    )


def _release(session: Session, *, user: ConsoleUser, review_id: str) -> None:
    """Give an item back (skip) so it is not stuck behind this moderator's lease for ten minutes."""
    p = user.principal
    result = session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.id == review_id,
            ReviewItem.org == p.org,
            ReviewItem.status == "pending",
            ReviewItem.claimed_by == p.key_id,
        )
        .values(claimed_by=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        audit.append(
            session, org=p.org, actor=p.actor, action="review.release", subject=f"review:{review_id}"
        )


def _claim_next(state: AppState, user: ConsoleUser) -> str | None:
    with _db(state) as s:
        item = crud.claim_next(
            s,
            org=user.principal.org,
            key_id=user.principal.key_id,
            lease_seconds=state.settings.review_lease_seconds,
            actor=user.principal.actor,
        )
        return item.id if item else None


# --- sign-in -------------------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: StateDep) -> Response:
    if current_user(request, state) is not None:
        return RedirectResponse("/console", status_code=status.HTTP_303_SEE_OTHER)
    token, cookie = login_csrf(request, state)
    resp = _render(request, "login.html", {"title": "Sign in", "csrf": token, "error": None})
    if cookie:
        set_login_csrf(resp, state, cookie)
    return resp


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    state: StateDep,
    api_key: Annotated[str, Form(max_length=300)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Exchange an API key for a console session; the key itself is never stored in the cookie."""
    expected = login_csrf_from_cookie(request, state)
    if expected is None or not csrf_ok(expected, csrf):
        return _forbidden(request, None, "The sign-in form expired. Reload the page and try again.")

    def again(message: str, code: int) -> HTMLResponse:
        return _render(
            request, "login.html", {"title": "Sign in", "csrf": expected, "error": message}, status_code=code
        )

    if not api_key.strip():
        return again("Enter your API key.", status.HTTP_400_BAD_REQUEST)
    try:
        principal = authenticate_token(state, api_key.strip())
    except HTTPException as exc:
        if exc.status_code == status.HTTP_401_UNAUTHORIZED:
            return again("That key was not recognised, or it has been revoked.", exc.status_code)
        return again("Sign-in is unavailable at the moment; try again shortly.", exc.status_code)
    if principal.role not in CONSOLE_ROLES:
        return again(
            "Poster keys cannot sign in to the console. Use a moderator, safeguarding lead or admin key.",
            status.HTTP_403_FORBIDDEN,
        )
    with _db(state) as s:
        audit.append(
            s,
            org=principal.org,
            actor=principal.actor,
            action="console.login",
            subject=f"key:{principal.key_id}",
        )
    resp = _redirect("/console", state, "Signed in.")
    start_session(resp, state, principal)
    return resp


@router.post("/logout")
def logout(request: Request, state: StateDep, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    user = current_user(request, state)
    if user is None:
        return _to_login()
    if (bad := _check_csrf(request, user, csrf)) is not None:
        return bad
    resp = _redirect("/console/login", state, "Signed out.")
    end_session(resp, state, user)
    return resp


# --- the queue -----------------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request,
    state: StateDep,
    priority: Annotated[str | None, Query(max_length=10)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Pending items, urgent first, then risk, then age; with the queue's health at a glance."""
    user = current_user(request, state)
    if user is None:
        return _to_login()
    return _render(
        request,
        "queue.html",
        {"title": "Review queue", "active": "queue", **_queue_context(state, user, priority, category)},
        user=user,
    )


def _queue_context(
    state: AppState, user: ConsoleUser, priority: str | None, category: str | None
) -> dict[str, Any]:
    priority = priority if priority in ("urgent", "high", "normal") else None
    category = category if category in CATEGORIES else None
    now = utcnow()
    with _db(state) as s:
        rows = crud.list_reviews(
            s, org=user.principal.org, status="pending", priority=priority, category=category, limit=100
        )
        stats = crud.review_stats(s, org=user.principal.org)
        items = [_view(r, user.principal.key_id, now) for r in rows]
    oldest = stats.get("oldest_pending_seconds")
    summary = {
        "pending": stats["by_state"].get("pending", 0),
        "urgent": stats["pending_by_priority"].get("urgent", 0),
        "claimed": stats["by_state"].get("claimed", 0),
        "breaches": stats.get("sla_breaches", 0),
        "oldest": _age(oldest) if oldest is not None else "—",
    }
    query = urlencode({k: v for k, v in (("priority", priority), ("category", category)) if v})
    return {
        "user": user,
        "items": items,
        "summary": summary,
        "priority": priority,
        "category": category,
        "categories": CATEGORIES,
        "live_queue": "/console/live/queue" + (f"?{query}" if query else ""),
    }


# --- live fragments and the lead's acknowledgement ---------------------------------------------------------


@router.get("/live/queue", response_class=HTMLResponse)
def live_queue(
    request: Request,
    state: StateDep,
    priority: Annotated[str | None, Query(max_length=10)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The queue's summary and table, fetched by console.js every few seconds (no page reload)."""
    user = current_user(request, state)
    if user is None:
        return PlainTextResponse("signed out", status_code=status.HTTP_401_UNAUTHORIZED)
    return _fragment(request, "_queue_live.html", _queue_context(state, user, priority, category))


@router.get("/live/banner", response_class=HTMLResponse)
def live_banner(
    request: Request, state: StateDep, back: Annotated[str, Query(max_length=300)] = "/console"
) -> Response:
    """The lead's urgent banner, refreshed the same way on every console page."""
    user = current_user(request, state)
    if user is None:
        return PlainTextResponse("signed out", status_code=status.HTTP_401_UNAUTHORIZED)
    return _fragment(
        request, "_banner.html", {"user": user, "urgent": _urgent(state, user), "back": _console_path(back)}
    )


def _console_path(back: str) -> str:
    """Only a console path may be the way back after a form (never an address elsewhere)."""
    return back if re.fullmatch(r"/console(/[\w\-/]*)?(\?[\w=&%.\-]*)?", back or "") else "/console"


@router.post("/reviews/{review_id}/acknowledge")
def acknowledge(
    review_id: str,
    request: Request,
    state: StateDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """The lead has seen an urgent item: it leaves the banner, the SLA clock stops, the audit trail records it."""
    user = current_user(request, state)
    if user is None:
        return _to_login()
    if (bad := _check_csrf(request, user, csrf)) is not None:
        return bad
    if user.principal.role != "safeguarding_lead":
        return _forbidden(request, user, "Only the safeguarding lead acknowledges urgent items.")
    with _db(state) as s:
        done = alerts.acknowledge(s, org=user.principal.org, review_id=review_id, actor=user.principal.actor)
    target = _console_path(back)
    if not done:
        return _redirect(target, state, "That item was already acknowledged, or is not urgent.", "error")
    return _redirect(target, state, "Acknowledged. It is recorded in the audit trail.")


@router.post("/next")
def start_reviewing(
    request: Request,
    state: StateDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    skip: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Claim the most urgent free item; with ``skip``, give the current one back after claiming the next."""
    user = current_user(request, state)
    if user is None:
        return _to_login()
    if (bad := _check_csrf(request, user, csrf)) is not None:
        return bad
    nxt = _claim_next(state, user)  # claimed while still holding the skipped one, so it is not handed back
    if skip:
        with _db(state) as s:
            _release(s, user=user, review_id=skip)
    if nxt is None:
        return _redirect("/console", state, "Nothing else is waiting for review.")
    return _redirect(f"/console/reviews/{nxt}", state)


# --- one item ------------------------------------------------------------------------------------------------


@router.get("/reviews/{review_id}", response_class=HTMLResponse)
def review_page(review_id: str, request: Request, state: StateDep) -> Response:
    """Open an item, claiming it if it is free; someone else's hold or a past decision is said plainly."""
    user = current_user(request, state)
    if user is None:
        return _to_login()
    p = user.principal
    notice: str | None = None
    code = status.HTTP_200_OK
    with _db(state) as s:
        row = crud.get_review(s, org=p.org, review_id=review_id)
        if row is None:
            return _render(
                request,
                "error.html",
                {"title": "Not found", "message": "No such review item."},
                user=user,
                status_code=status.HTTP_404_NOT_FOUND,
            )
        if row.item.status == "pending":
            try:
                crud.claim_review(
                    s,
                    org=p.org,
                    review_id=review_id,
                    key_id=p.key_id,
                    lease_seconds=state.settings.review_lease_seconds,
                    actor=p.actor,
                )
            except crud.ClaimConflict:
                notice = (
                    "Another moderator is working on this item (409: held by someone else). You can read "
                    "it, but you cannot decide it until their hold expires."
                )
                code = status.HTTP_409_CONFLICT
            row = crud.get_review(s, org=p.org, review_id=review_id)
            assert row is not None
        view = _view(row, p.key_id, utcnow())
    return _render(
        request,
        "review.html",
        {
            "title": f"Review {view.priority} item",
            "item": view,
            "notice": notice,
            "categories": CATEGORIES,
            "actions": ACTIONS,
        },
        user=user,
        status_code=code,
    )


@router.post("/reviews/{review_id}/decide", response_class=HTMLResponse)
def decide(
    review_id: str,
    request: Request,
    state: StateDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    action: Annotated[str, Form(max_length=40)] = "",
    label: Annotated[list[str] | None, Form()] = None,
    redacted_text: Annotated[str, Form(max_length=10_000)] = "",
    note: Annotated[str, Form(max_length=2_000)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Record the decision, then move on to the next item. A lapsed hold asks before deciding."""
    user = current_user(request, state)
    if user is None:
        return _to_login()
    if (bad := _check_csrf(request, user, csrf)) is not None:
        return bad
    p = user.principal
    if action not in ACTIONS:
        return _render(
            request,
            "error.html",
            {"title": "Choose an action", "message": "Choose Approve, Approve redacted, Reject or Escalate."},
            user=user,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    chosen = set(label or [])
    labels = {c: c in chosen for c in CATEGORIES}
    now = utcnow()
    with _db(state) as s:
        row = crud.get_review(s, org=p.org, review_id=review_id)
        if row is None:
            return _render(
                request,
                "error.html",
                {"title": "Not found", "message": "No such review item."},
                user=user,
                status_code=status.HTTP_404_NOT_FOUND,
            )
        original = row.screening.redacted_text
        correction = redacted_text.replace("\r\n", "\n").strip()
        corrected = correction if correction and correction != original.strip() else None
        form = {"action": action, "labels": sorted(chosen), "redacted_text": redacted_text, "note": note}
        leaks = identifiers_in_correction(state, p.org, corrected) if corrected else []
        if leaks and row.item.status == "pending":
            return _render(
                request,
                "review.html",
                {
                    "title": "Review item",
                    "item": _view(row, p.key_id, now),
                    "form": form,
                    "categories": CATEGORIES,
                    "actions": ACTIONS,
                    "notice": "Your corrected text still contains identifiers ("
                    + ", ".join(t.replace("_", " ").lower() for t in leaks)
                    + "). Replace them with a placeholder such as [RESIDENT] before approving.",
                },
                user=user,
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
        if row.item.status != "pending":
            by = "you" if row.decision and row.decision.moderator_key_id == p.key_id else "another moderator"
            return _render(
                request,
                "conflict.html",
                {
                    "title": "Already decided",
                    "item": _view(row, p.key_id, now),
                    "form": form,
                    "expired": False,
                    "message": f"This item was already decided by {by}"
                    + (
                        f" ({ACTIONS.get(row.decision.action, row.decision.action)})."
                        if row.decision
                        else "."
                    )
                    + " Your decision was not recorded.",
                },
                user=user,
                status_code=status.HTTP_409_CONFLICT,
            )
        it = row.item
        mine = it.claimed_by == p.key_id and it.lease_expires_at is not None and it.lease_expires_at > now
        if not mine and not confirm:
            return _render(
                request,
                "conflict.html",
                {
                    "title": "Your hold expired",
                    "item": _view(row, p.key_id, now),
                    "form": form,
                    "expired": True,
                    "message": "Your hold on this item expired; someone else may be working on it. Decide anyway?",
                },
                user=user,
                status_code=status.HTTP_409_CONFLICT,
            )
        try:
            crud.decide_review(
                s,
                org=p.org,
                review_id=review_id,
                key_id=p.key_id,
                action=action,
                labels=labels,
                redacted_text=corrected,
                note=note.strip() or None,
                actor=p.actor,
            )
        except crud.ClaimConflict:
            conflict = True
        else:
            conflict = False
    if conflict:
        return _redirect(
            f"/console/reviews/{review_id}",
            state,
            "Another moderator holds this item now; your decision was not recorded.",
            "error",
        )
    nxt = _claim_next(state, user)
    done = f"Decision recorded: {ACTIONS[action]}."
    if nxt is None:
        return _redirect("/console", state, done + " Nothing else is waiting.")
    return _redirect(f"/console/reviews/{nxt}", state, done)


# --- reports -------------------------------------------------------------------------------------------------


def _report_range(start: str | None, end: str | None) -> tuple[date, date]:
    """Dates from the form (inclusive); the default is the last twelve weeks."""
    today = datetime.now(LONDON).date()

    def parse(v: str | None, default: date) -> date:
        try:
            return date.fromisoformat(v) if v else default
        except ValueError:
            return default

    d_from, d_to = parse(start, today - timedelta(days=83)), parse(end, today)
    return (d_to, d_from) if d_from > d_to else (d_from, d_to)


def _bounds(d_from: date, d_to: date) -> tuple[datetime, datetime]:
    start = datetime(d_from.year, d_from.month, d_from.day, tzinfo=LONDON).astimezone(UTC)
    end = datetime(d_to.year, d_to.month, d_to.day, tzinfo=LONDON) + timedelta(days=1)
    return start, end.astimezone(UTC)


def _load_report(
    state: AppState, user: ConsoleUser, d_from: date, d_to: date, circle: str | None, fmt: str
) -> dict[str, Any]:
    start, end = _bounds(d_from, d_to)
    with _db(state) as s:
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


def _reporter(request: Request, state: AppState) -> ConsoleUser | Response:
    """The signed-in lead or admin, or the response that sends anyone else away."""
    user = current_user(request, state)
    if user is None:
        return _to_login()
    if not user.can_report:
        return _forbidden(request, user, "Reports are for the safeguarding lead and admins.")
    return user


@router.get("/reports", response_class=HTMLResponse)
def reports(
    request: Request,
    state: StateDep,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
    circle: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The safeguarding lead's risk report as a printable page with charts (leads and admins only)."""
    user = _reporter(request, state)
    if isinstance(user, Response):
        return user
    d_from, d_to = _report_range(from_, to)
    circle = (circle or "").strip() or None
    report = _load_report(state, user, d_from, d_to, circle, "html")
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
    return _render(
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
            "generated": _local(utcnow()),
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
    circle: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The same report as CSV, for the session (the /v1 route needs a bearer key)."""
    user = _reporter(request, state)
    if isinstance(user, Response):
        return user
    d_from, d_to = _report_range(from_, to)
    report = _load_report(state, user, d_from, d_to, (circle or "").strip() or None, "csv")
    name = f"risk-report-{d_from.isoformat()}-{d_to.isoformat()}.csv"
    return PlainTextResponse(
        report_csv(report),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
