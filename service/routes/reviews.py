"""The human review queue: list, claim (a lease), decide (exactly once), stats; lead-only reads."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from models.taxonomy import CATEGORIES
from service.deps import Lead, Moderator, SessionDep, StateDep
from service.schemas import (
    ClaimOut,
    DecisionBody,
    DecisionOut,
    RevealBody,
    ReviewOut,
    ReviewPage,
    written_reason,
)
from service.screening import identifiers_in_correction
from storage import audit, reviews
from storage.tables import utcnow

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])
OWN_DECISION = "this is an appeal against your own decision; another moderator must decide it"


def sla_state(row: reviews.ReviewRow, now: datetime) -> str:
    item = row.item
    if reviews.sla_breached(item, now):
        return "breached"
    if item.first_action_at is None and item.due_at - now < (item.due_at - item.created_at) * 0.25:
        return "due_soon"
    return "ok"


def review_out(row: reviews.ReviewRow, key_id: int, now: datetime | None = None) -> ReviewOut:
    now = now or utcnow()
    it, s = row.item, row.screening
    active = it.claimed_by is not None and it.lease_expires_at is not None and it.lease_expires_at > now
    return ReviewOut(
        id=it.id,
        post_id=s.post_id,
        status=it.status,
        priority=it.priority,  # type: ignore[arg-type]
        risk=it.risk,
        decision=s.decision,  # type: ignore[arg-type]
        redacted_text=s.redacted_text,
        scores=s.scores,
        flags=list(s.flags),
        entities=[{k: e[k] for k in ("type", "start", "end", "score", "role")} for e in s.entities],  # type: ignore[misc]
        circle=s.circle,
        kind=s.kind,
        anonymous=s.anonymous,
        author_id=None if s.anonymous else s.author_id,
        created_at=it.created_at.isoformat(),
        age_seconds=(now - it.created_at).total_seconds(),
        due_at=it.due_at.isoformat(),
        sla_state=sla_state(row, now),  # type: ignore[arg-type]
        claimed_by_me=active and it.claimed_by == key_id,
        claimed=active,
        lease_expires_at=it.lease_expires_at.isoformat() if active and it.lease_expires_at else None,
        moderator_decision=row.decision.action if row.decision else None,
        reasons=list(s.reasons or []),
        kind_of_review=it.kind,  # type: ignore[arg-type]
        appeal_reason=row.appeal.reason if row.appeal else None,
        acknowledged_at=it.acknowledged_at.isoformat() if it.acknowledged_at else None,
    )


def _encode_cursor(row: reviews.ReviewRow) -> str:
    it = row.item
    raw = json.dumps([it.priority_rank, it.risk, it.created_at.isoformat(), it.id])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, float, datetime, str]:
    try:
        rank, risk, created, rid = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        out = int(rank), float(risk), datetime.fromisoformat(created), str(rid)
    except Exception as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid cursor") from exc
    # A crafted cursor that parses but cannot be a row (an overflowing integer, a NaN, a date out of range) must
    # be a 422 too, not a database error answered as "unavailable".
    if not (0 <= out[0] <= 9 and 0.0 <= out[1] <= 1.0 and 1900 <= out[2].year <= 9000 and len(out[3]) <= 64):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid cursor")
    return out


@router.get("", response_model=ReviewPage)
def list_reviews(
    principal: Moderator,
    session: SessionDep,
    status_: Annotated[str | None, Query(alias="status", pattern="^(pending|decided)$")] = "pending",
    priority: Annotated[str | None, Query(pattern="^(urgent|high|normal)$")] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ReviewPage:
    """Pending items, urgent first, then by risk and age. Anonymous posts never show the author."""
    if category is not None and category not in CATEGORIES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown category {category!r}")
    rows = reviews.list_reviews(
        session,
        org=principal.org,
        status=status_,
        priority=priority,
        category=category,
        limit=limit + 1,
        cursor=_decode_cursor(cursor) if cursor else None,
    )
    now = utcnow()
    page = rows[:limit]
    return ReviewPage(
        items=[review_out(r, principal.key_id, now) for r in page],
        next_cursor=_encode_cursor(page[-1]) if len(rows) > limit else None,
    )


@router.get("/stats")
def stats(principal: Moderator, session: SessionDep) -> dict[str, object]:
    """Counts by state and priority, the oldest pending age and SLA breaches."""
    return reviews.review_stats(session, org=principal.org)


@router.post("/claim-next", response_model=ReviewOut | None)
def claim_next(principal: Moderator, session: SessionDep, state: StateDep) -> ReviewOut | None:
    """Claim the most urgent free item (what the console's "next" does)."""
    item = reviews.claim_next(
        session,
        org=principal.org,
        key_id=principal.key_id,
        lease_seconds=state.settings.review_lease_seconds,
        actor=principal.actor,
    )
    if item is None:
        return None
    row = reviews.get_review(session, org=principal.org, review_id=item.id)
    assert row is not None
    return review_out(row, principal.key_id)


@router.get("/{review_id}", response_model=ReviewOut)
def get_review(review_id: str, principal: Moderator, session: SessionDep) -> ReviewOut:
    row = reviews.get_review(session, org=principal.org, review_id=review_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "review not found")
    return review_out(row, principal.key_id)


@router.post(
    "/{review_id}/claim", response_model=ClaimOut, responses={409: {"description": "Held by someone else"}}
)
def claim(review_id: str, principal: Moderator, session: SessionDep, state: StateDep) -> ClaimOut:
    """Take a lease so two moderators never work the same item; 409 when someone else holds it."""
    if reviews.get_review(session, org=principal.org, review_id=review_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "review not found")
    try:
        item = reviews.claim_review(
            session,
            org=principal.org,
            review_id=review_id,
            key_id=principal.key_id,
            lease_seconds=state.settings.review_lease_seconds,
            actor=principal.actor,
        )
    except reviews.SameModerator as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, OWN_DECISION) from exc
    except reviews.ClaimConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, "claimed by someone else or already decided") from exc
    assert item.lease_expires_at is not None
    return ClaimOut(id=item.id, lease_expires_at=item.lease_expires_at.isoformat())


@router.post(
    "/{review_id}/decision",
    response_model=DecisionOut,
    responses={409: {"description": "Already decided, or leased by someone else"}},
)
def decide(
    review_id: str, body: DecisionBody, principal: Moderator, session: SessionDep, state: StateDep
) -> DecisionOut:
    """Record the outcome and the per-category labels (the training signal). Deciding twice is a 409."""
    if body.unknown_labels():
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown categories {body.unknown_labels()}"
        )
    if body.redacted_text is not None and not body.redacted_text.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "redacted_text is empty")
    if body.redacted_text is not None and (
        leaks := identifiers_in_correction(state, principal.org, body.redacted_text)
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the corrected redaction still contains identifiers ({', '.join(leaks)}); replace them first",
        )
    if reviews.get_review(session, org=principal.org, review_id=review_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "review not found")
    try:
        dec = reviews.decide_review(
            session,
            org=principal.org,
            review_id=review_id,
            key_id=principal.key_id,
            action=body.action,
            labels=body.labels,
            redacted_text=body.redacted_text,
            note=body.note,
            actor=principal.actor,
        )
    except reviews.SameModerator as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, OWN_DECISION) from exc
    except reviews.ClaimConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, "already decided, or leased by someone else") from exc
    state.wake_deliveries()
    return DecisionOut(
        id=dec.id,
        review_id=review_id,
        action=dec.action,
        labels=dec.labels,
        decided_at=dec.decided_at.isoformat(),
    )


def _reason_query(
    reason: Annotated[str, Query(min_length=10, max_length=2_000, description="why the original is needed")],
) -> str:
    try:
        return written_reason(reason)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"reason {exc}") from exc


@router.get("/{review_id}/original")
def read_original(
    review_id: str,
    principal: Lead,
    session: SessionDep,
    state: StateDep,
    reason: Annotated[str, Depends(_reason_query)],
) -> dict[str, str]:
    """The unredacted text, for the safeguarding lead only, with a written reason; every read is audited."""
    row = reviews.get_review(session, org=principal.org, review_id=review_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "review not found")
    if not row.screening.original_enc:
        raise HTTPException(status.HTTP_410_GONE, "the original was purged under the retention policy")
    audit.append(
        session,
        org=principal.org,
        actor=principal.actor,
        action="original.read",
        subject=f"review:{review_id}",
        details={"reason": reason},
    )
    return {"review_id": review_id, "text": state.vault.decrypt(row.screening.original_enc)}


@router.post("/{review_id}/reveal-author")
def reveal_author(
    review_id: str, body: RevealBody, principal: Lead, session: SessionDep, state: StateDep
) -> dict[str, str]:
    """Who wrote an anonymous post: lead only, with a written reason, on the record. Never logged."""
    row = reviews.get_review(session, org=principal.org, review_id=review_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "review not found")
    s = row.screening
    if not s.anonymous:
        raise HTTPException(status.HTTP_409_CONFLICT, "this post is not anonymous")
    if not s.author_enc:
        raise HTTPException(status.HTTP_410_GONE, "no author stored (not given, or purged)")
    audit.append(
        session,
        org=principal.org,
        actor=principal.actor,
        action="author.reveal",
        subject=f"review:{review_id}",
        details={"reason": body.reason},
    )
    return {"review_id": review_id, "author_id": state.vault.decrypt(s.author_enc)}
