"""The review queue: pending items, leases (claims), decisions exactly once, stats and SLAs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from storage import audit, outbox, outcomes
from storage.db import chunks
from storage.tables import Appeal, Decision, ReviewItem, Screening, utcnow

PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2}


def reviews_for_screenings(session: Session, *, screening_ids: Sequence[str]) -> dict[str, ReviewItem]:
    out: dict[str, ReviewItem] = {}
    for chunk in chunks(screening_ids):
        rows = session.execute(
            select(ReviewItem).where(ReviewItem.screening_id.in_(chunk), ReviewItem.kind == "screen")
        )
        out.update({r.screening_id: r for r in rows.scalars()})
    return out


def review_for_screening(session: Session, *, screening_id: str) -> ReviewItem | None:
    return reviews_for_screenings(session, screening_ids=[screening_id]).get(screening_id)


def review_item_values(
    *,
    org: str,
    screening_id: str,
    priority: str,
    risk: float,
    categories: Sequence[str],
    now: datetime,
    sla_due_minutes: int,
) -> dict[str, Any]:
    """Column values of a pending review item for a stored screening, due by its SLA."""
    return {
        "id": str(uuid.uuid4()),
        "org": org,
        "screening_id": screening_id,
        "status": "pending",
        "priority": priority,
        "priority_rank": PRIORITY_RANK[priority],
        "risk": risk,
        "categories": list(categories),
        "created_at": now,
        "due_at": now + timedelta(minutes=sla_due_minutes),
        "claimed_by": None,
        "claimed_at": None,
        "lease_expires_at": None,
        "first_action_at": None,
        "decided_at": None,
    }


def new_review_item(
    *,
    org: str,
    screening: Screening,
    priority: str,
    risk: float,
    categories: Sequence[str],
    now: datetime,
    sla_due_minutes: int,
) -> ReviewItem:
    """A pending review item for a stored screening, due by its SLA."""
    return ReviewItem(
        **review_item_values(
            org=org,
            screening_id=screening.id,
            priority=priority,
            risk=risk,
            categories=categories,
            now=now,
            sla_due_minutes=sla_due_minutes,
        )
    )


@dataclass(frozen=True)
class ReviewRow:
    item: ReviewItem
    screening: Screening
    decision: Decision | None
    appeal: Appeal | None = None  # set when this item decides an author's appeal


def list_reviews(
    session: Session,
    *,
    org: str,
    status: str | None = "pending",
    priority: str | None = None,
    category: str | None = None,
    limit: int = 50,
    cursor: tuple[int, float, datetime, str] | None = None,
) -> list[ReviewRow]:
    """Urgent first, then by risk (highest first), then oldest first. Keyset pagination by that order."""
    q = (
        select(ReviewItem, Screening, Decision, Appeal)
        .join(Screening, Screening.id == ReviewItem.screening_id)
        .outerjoin(Decision, Decision.review_id == ReviewItem.id)
        .outerjoin(Appeal, Appeal.review_id == ReviewItem.id)
        .where(ReviewItem.org == org)
    )
    if status:
        q = q.where(ReviewItem.status == status)
    if priority:
        q = q.where(ReviewItem.priority == priority)
    if cursor is not None:
        rank, risk, created, rid = cursor
        q = q.where(
            or_(
                ReviewItem.priority_rank > rank,
                and_(ReviewItem.priority_rank == rank, ReviewItem.risk < risk),
                and_(
                    ReviewItem.priority_rank == rank, ReviewItem.risk == risk, ReviewItem.created_at > created
                ),
                and_(
                    ReviewItem.priority_rank == rank,
                    ReviewItem.risk == risk,
                    ReviewItem.created_at == created,
                    ReviewItem.id > rid,
                ),
            )
        )
    q = q.order_by(ReviewItem.priority_rank, ReviewItem.risk.desc(), ReviewItem.created_at, ReviewItem.id)
    rows: list[ReviewRow] = []
    # Category filtering is done in Python (JSON containment differs between SQLite and PostgreSQL).
    batch = limit if category is None else limit * 10
    for item, scr, dec, appeal in session.execute(q.limit(batch)).all():
        if category is not None and category not in (item.categories or []):
            continue
        rows.append(ReviewRow(item, scr, dec, appeal))
        if len(rows) >= limit:
            break
    return rows


def get_review(session: Session, *, org: str, review_id: str) -> ReviewRow | None:
    row = session.execute(
        select(ReviewItem, Screening, Decision, Appeal)
        .join(Screening, Screening.id == ReviewItem.screening_id)
        .outerjoin(Decision, Decision.review_id == ReviewItem.id)
        .outerjoin(Appeal, Appeal.review_id == ReviewItem.id)
        .where(ReviewItem.id == review_id, ReviewItem.org == org)
    ).first()
    return ReviewRow(row[0], row[1], row[2], row[3]) if row else None


class ClaimConflict(Exception):
    """Someone else holds the lease, or the item is already decided."""


class SameModerator(ClaimConflict):
    """An appeal must be decided by someone other than the moderator whose decision is appealed."""


def _not_excluded(key_id: int) -> Any:
    return or_(ReviewItem.excluded_moderator.is_(None), ReviewItem.excluded_moderator != key_id)


def _open_to(*, review_id: str, org: str, key_id: int, now: datetime) -> tuple[Any, ...]:
    """The item is pending, free or leased to this moderator (or its lease lapsed), and not an appeal against
    their own decision: who may claim it and who may decide it, in one place."""
    return (
        ReviewItem.id == review_id,
        ReviewItem.org == org,
        ReviewItem.status == "pending",
        or_(
            ReviewItem.claimed_by.is_(None),
            ReviewItem.lease_expires_at < now,
            ReviewItem.claimed_by == key_id,
        ),
        _not_excluded(key_id),
    )


def claim_review(
    session: Session, *, org: str, review_id: str, key_id: int, lease_seconds: int, actor: str
) -> ReviewItem:
    """Atomic conditional UPDATE: race-free on PostgreSQL with many replicas and on SQLite alike."""
    now = utcnow()
    result = session.execute(
        update(ReviewItem)
        .where(
            *_open_to(review_id=review_id, org=org, key_id=key_id, now=now),
        )
        .values(
            claimed_by=key_id,
            claimed_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            first_action_at=func.coalesce(ReviewItem.first_action_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        _raise_conflict(session, review_id, key_id)
    audit.append(session, org=org, actor=actor, action="review.claim", subject=f"review:{review_id}")
    item = session.get(ReviewItem, review_id, populate_existing=True)
    assert item is not None
    return item


def claim_next(
    session: Session, *, org: str, key_id: int, lease_seconds: int, actor: str
) -> ReviewItem | None:
    """Claim the most urgent free item. On PostgreSQL, SKIP LOCKED lets replicas hand out different items."""
    now = utcnow()
    q = (
        select(ReviewItem.id)
        .where(
            ReviewItem.org == org,
            ReviewItem.status == "pending",
            or_(ReviewItem.claimed_by.is_(None), ReviewItem.lease_expires_at < now),
            _not_excluded(key_id),
        )
        .order_by(ReviewItem.priority_rank, ReviewItem.risk.desc(), ReviewItem.created_at, ReviewItem.id)
        .limit(5)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Lock only the row we take: locking five would hide four free items from concurrent moderators.
        q = q.limit(1).with_for_update(skip_locked=True)
    for rid in session.execute(q).scalars().all():
        try:
            return claim_review(
                session, org=org, review_id=rid, key_id=key_id, lease_seconds=lease_seconds, actor=actor
            )
        except ClaimConflict:
            continue
    return None


def decide_review(
    session: Session,
    *,
    org: str,
    review_id: str,
    key_id: int,
    action: str,
    labels: dict[str, bool],
    redacted_text: str | None,
    note: str | None,
    actor: str,
    now: datetime | None = None,
) -> Decision:
    """Record a decision exactly once. A second decision, or one under someone else's lease, conflicts.
    ``now`` backdates it (the demo seed only; the audit entry keeps the real time)."""
    now = now or utcnow()
    result = session.execute(
        update(ReviewItem)
        .where(
            *_open_to(review_id=review_id, org=org, key_id=key_id, now=now),
        )
        .values(
            status="decided", decided_at=now, first_action_at=func.coalesce(ReviewItem.first_action_at, now)
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        _raise_conflict(session, review_id, key_id)
    dec = Decision(
        id=str(uuid.uuid4()),
        review_id=review_id,
        org=org,
        moderator_key_id=key_id,
        action=action,
        labels={k: bool(v) for k, v in labels.items()},
        redacted_text=redacted_text,
        note=note,
        decided_at=now,
    )
    session.add(dec)
    session.flush()
    audit.append(
        session,
        org=org,
        actor=actor,
        action="review.decide",
        subject=f"review:{review_id}",
        details={"action": action, "labels": dec.labels, "corrected_redaction": redacted_text is not None},
    )
    # The posting flow learns the outcome from an event committed with the decision itself.
    item = session.get(ReviewItem, review_id, populate_existing=True)
    assert item is not None
    scr = session.get(Screening, item.screening_id)
    assert scr is not None
    rec = outcomes.load_for_screening(session, screening=scr)
    outbox.emit(session, org=org, events=outcomes.decision_events(rec, item, dec))
    return dec


def _raise_conflict(session: Session, review_id: str, key_id: int) -> None:
    item = session.get(ReviewItem, review_id)
    if item is not None and item.excluded_moderator == key_id and item.status == "pending":
        raise SameModerator(review_id)
    raise ClaimConflict(review_id)


def review_stats(session: Session, *, org: str) -> dict[str, Any]:
    now = utcnow()
    by_state: dict[str, int] = {}
    for status, n in session.execute(
        select(ReviewItem.status, func.count()).where(ReviewItem.org == org).group_by(ReviewItem.status)
    ).all():
        by_state[status] = int(n)
    pending = list(
        session.execute(
            select(ReviewItem).where(ReviewItem.org == org, ReviewItem.status == "pending")
        ).scalars()
    )
    by_priority: dict[str, int] = {}
    for it in pending:
        by_priority[it.priority] = by_priority.get(it.priority, 0) + 1
    claimed = sum(
        1 for it in pending if it.claimed_by is not None and it.lease_expires_at and it.lease_expires_at > now
    )
    oldest = min((it.created_at for it in pending), default=None)
    breaches = sum(
        1
        for it in session.execute(select(ReviewItem).where(ReviewItem.org == org)).scalars()
        if sla_breached(it, now)
    )
    return {
        "by_state": by_state | {"claimed": claimed},
        "pending_by_priority": by_priority,
        "oldest_pending_seconds": (now - oldest).total_seconds() if oldest else None,
        "sla_breaches": breaches,
    }


@dataclass(frozen=True)
class QueueGauge:
    """One priority's pending items across all organisations (the service's metrics; no org, no content)."""

    pending: int
    oldest_pending_seconds: float
    overdue: int


def queue_gauges(session: Session, *, now: datetime | None = None) -> dict[str, QueueGauge]:
    """Pending items per priority, the oldest one's age and how many are past their SLA with no action yet:
    one aggregate over the pending rows (``status`` is indexed), cheap enough for every metrics scrape."""
    now = now or utcnow()
    overdue = func.sum(
        case((and_(ReviewItem.first_action_at.is_(None), ReviewItem.due_at < now), 1), else_=0)
    )
    rows = session.execute(
        select(ReviewItem.priority, func.count(), func.min(ReviewItem.created_at), overdue)
        .where(ReviewItem.status == "pending")
        .group_by(ReviewItem.priority)
    ).all()
    out = {p: QueueGauge(0, 0.0, 0) for p in PRIORITY_RANK}
    for priority, n, oldest, late in rows:
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        out[priority] = QueueGauge(int(n), age, int(late or 0))
    return out


def sla_breached(item: ReviewItem, now: datetime | None = None) -> bool:
    """Breached when the first action came after the due time, or has not come and the due time has passed."""
    now = now or utcnow()
    if item.first_action_at is not None:
        return item.first_action_at > item.due_at
    return now > item.due_at


def release_review(session: Session, *, org: str, review_id: str, key_id: int, actor: str) -> bool:
    """Give an item back (a moderator skips it), so it is not stuck behind their lease for ten minutes."""
    result = session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.id == review_id,
            ReviewItem.org == org,
            ReviewItem.status == "pending",
            ReviewItem.claimed_by == key_id,
        )
        .values(claimed_by=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    audit.append(session, org=org, actor=actor, action="review.release", subject=f"review:{review_id}")
    return True
