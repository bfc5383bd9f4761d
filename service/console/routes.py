"""The moderator console: sign-in, the review queue (refreshing itself), one item at a time, acknowledging.

Server-rendered (Jinja2) with plain forms, so it works without JavaScript; one static script adds keyboard
shortcuts and the self-refresh. Everything is served under the strict CSP: no inline script or style anywhere.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from models.taxonomy import CATEGORIES
from service.console.pages import (
    check_csrf,
    claim_next,
    console_db,
    console_path,
    forbidden,
    fragment,
    moderator,
    not_a_moderator,
    redirect,
    render,
    to_login,
    urgent,
)
from service.console.session import (
    ConsoleUser,
    current_user,
)
from service.console.views import ACTIONS, age, item_view
from service.deps import StateDep
from service.screening import identifiers_in_correction
from service.state import AppState
from storage import alerts, reviews
from storage.reviews import PRIORITY_RANK
from storage.tables import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)


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
        return to_login()
    if not user.can_moderate:  # a read-only manager: their home is the culture report
        if request.url.path == "/console":
            return RedirectResponse(user.home, status_code=status.HTTP_303_SEE_OTHER)
        return not_a_moderator(request, user)
    return render(
        request,
        "queue.html",
        {"title": "Review queue", "active": "queue", **queue_context(state, user, priority, category)},
        user=user,
    )


def queue_context(
    state: AppState, user: ConsoleUser, priority: str | None, category: str | None
) -> dict[str, Any]:
    priority = priority if priority in PRIORITY_RANK else None
    category = category if category in CATEGORIES else None
    now = utcnow()
    with console_db(state) as s:
        rows = reviews.list_reviews(
            s, org=user.principal.org, status="pending", priority=priority, category=category, limit=100
        )
        stats = reviews.review_stats(s, org=user.principal.org)
        items = [item_view(r, user.principal.key_id, now) for r in rows]
    oldest = stats.get("oldest_pending_seconds")
    summary = {
        "pending": stats["by_state"].get("pending", 0),
        "urgent": stats["pending_by_priority"].get("urgent", 0),
        "claimed": stats["by_state"].get("claimed", 0),
        "breaches": stats.get("sla_breaches", 0),
        "oldest": age(oldest) if oldest is not None else "—",
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
    if not user.can_moderate:
        return PlainTextResponse("not allowed", status_code=status.HTTP_403_FORBIDDEN)
    return fragment(request, "_queue_live.html", queue_context(state, user, priority, category))


@router.get("/live/banner", response_class=HTMLResponse)
def live_banner(
    request: Request, state: StateDep, back: Annotated[str, Query(max_length=300)] = "/console"
) -> Response:
    """The lead's urgent banner, refreshed the same way on every console page."""
    user = current_user(request, state)
    if user is None:
        return PlainTextResponse("signed out", status_code=status.HTTP_401_UNAUTHORIZED)
    return fragment(
        request, "_banner.html", {"user": user, "urgent": urgent(state, user), "back": console_path(back)}
    )


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
        return to_login()
    if (bad := check_csrf(request, user, csrf)) is not None:
        return bad
    if user.principal.role != "safeguarding_lead":
        return forbidden(request, user, "Only the safeguarding lead acknowledges urgent items.")
    with console_db(state) as s:
        done = alerts.acknowledge(s, org=user.principal.org, review_id=review_id, actor=user.principal.actor)
    target = console_path(back)
    if not done:
        return redirect(target, state, "That item was already acknowledged, or is not urgent.", "error")
    return redirect(target, state, "Acknowledged. It is recorded in the audit trail.")


@router.post("/next")
def start_reviewing(
    request: Request,
    state: StateDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    skip: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Claim the most urgent free item; with ``skip``, give the current one back after claiming the next."""
    user = moderator(request, state)
    if not isinstance(user, ConsoleUser):
        return user
    if (bad := check_csrf(request, user, csrf)) is not None:
        return bad
    nxt = claim_next(state, user)  # claimed while still holding the skipped one, so it is not handed back
    if skip:
        with console_db(state) as s:
            reviews.release_review(
                s,
                org=user.principal.org,
                review_id=skip,
                key_id=user.principal.key_id,
                actor=user.principal.actor,
            )
    if nxt is None:
        return redirect("/console", state, "Nothing else is waiting for review.")
    return redirect(f"/console/reviews/{nxt}", state)


@router.get("/reviews/{review_id}", response_class=HTMLResponse)
def review_page(review_id: str, request: Request, state: StateDep) -> Response:
    """Open an item, claiming it if it is free; someone else's hold or a past decision is said plainly."""
    user = moderator(request, state)
    if not isinstance(user, ConsoleUser):
        return user
    p = user.principal
    notice: str | None = None
    code = status.HTTP_200_OK
    with console_db(state) as s:
        row = reviews.get_review(s, org=p.org, review_id=review_id)
        if row is None:
            return render(
                request,
                "error.html",
                {"title": "Not found", "message": "No such review item."},
                user=user,
                status_code=status.HTTP_404_NOT_FOUND,
            )
        if row.item.status == "pending":
            try:
                reviews.claim_review(
                    s,
                    org=p.org,
                    review_id=review_id,
                    key_id=p.key_id,
                    lease_seconds=state.settings.review_lease_seconds,
                    actor=p.actor,
                )
            except reviews.ClaimConflict:
                notice = (
                    "Another moderator is working on this item (409: held by someone else). You can read "
                    "it, but you cannot decide it until their hold expires."
                )
                code = status.HTTP_409_CONFLICT
            row = reviews.get_review(s, org=p.org, review_id=review_id)
            assert row is not None
        view = item_view(row, p.key_id, utcnow())
    return render(
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
    user = moderator(request, state)
    if not isinstance(user, ConsoleUser):
        return user
    if (bad := check_csrf(request, user, csrf)) is not None:
        return bad
    p = user.principal
    if action not in ACTIONS:
        return render(
            request,
            "error.html",
            {"title": "Choose an action", "message": "Choose Approve, Approve redacted, Reject or Escalate."},
            user=user,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    chosen = set(label or [])
    labels = {c: c in chosen for c in CATEGORIES}
    now = utcnow()
    with console_db(state) as s:
        row = reviews.get_review(s, org=p.org, review_id=review_id)
        if row is None:
            return render(
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
            return render(
                request,
                "review.html",
                {
                    "title": "Review item",
                    "item": item_view(row, p.key_id, now),
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
            return render(
                request,
                "conflict.html",
                {
                    "title": "Already decided",
                    "item": item_view(row, p.key_id, now),
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
            return render(
                request,
                "conflict.html",
                {
                    "title": "Your hold expired",
                    "item": item_view(row, p.key_id, now),
                    "form": form,
                    "expired": True,
                    "message": "Your hold on this item expired; someone else may be working on it. Decide anyway?",
                },
                user=user,
                status_code=status.HTTP_409_CONFLICT,
            )
        try:
            reviews.decide_review(
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
        except reviews.ClaimConflict:
            conflict = True
        else:
            conflict = False
    if conflict:
        return redirect(
            f"/console/reviews/{review_id}",
            state,
            "Another moderator holds this item now; your decision was not recorded.",
            "error",
        )
    nxt = claim_next(state, user)
    done = f"Decision recorded: {ACTIONS[action]}."
    if nxt is None:
        return redirect("/console", state, done + " Nothing else is waiting.")
    return redirect(f"/console/reviews/{nxt}", state, done)
