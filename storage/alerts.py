"""Urgent items the safeguarding lead has not acknowledged, and SLA breaches raised as events (once each)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage import audit, outbox
from storage.tables import ReviewItem, Screening, utcnow


def unacknowledged_urgent(
    session: Session, *, org: str, limit: int = 20
) -> list[tuple[ReviewItem, Screening]]:
    """Pending urgent items nobody has acknowledged yet, oldest first (the console's banner)."""
    rows = session.execute(
        select(ReviewItem, Screening)
        .join(Screening, Screening.id == ReviewItem.screening_id)
        .where(
            ReviewItem.org == org,
            ReviewItem.status == "pending",
            ReviewItem.priority == "urgent",
            ReviewItem.acknowledged_at.is_(None),
        )
        .order_by(ReviewItem.created_at, ReviewItem.id)
        .limit(limit)
    ).all()
    return [(it, s) for it, s in rows]


def acknowledge(
    session: Session, *, org: str, review_id: str, actor: str, now: datetime | None = None
) -> bool:
    """The lead has seen an urgent item: recorded once, on the audit trail, and counted as the first action
    (the SLA clock stops). False when it is not an unacknowledged urgent item of this organisation. ``now``
    backdates it (the demo seed only; the audit entry keeps the real time)."""
    now = now or utcnow()
    result = session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.id == review_id,
            ReviewItem.org == org,
            ReviewItem.priority == "urgent",
            ReviewItem.acknowledged_at.is_(None),
        )
        .values(
            acknowledged_at=now,
            acknowledged_by=actor,
            first_action_at=func.coalesce(ReviewItem.first_action_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    audit.append(session, org=org, actor=actor, action="review.acknowledge", subject=f"review:{review_id}")
    return True


def _breached(now: datetime):  # type: ignore[no-untyped-def]
    return (
        ReviewItem.status == "pending",
        ReviewItem.first_action_at.is_(None),
        ReviewItem.due_at < now,
        ReviewItem.sla_notified_at.is_(None),
    )


def has_unnotified_breach(session: Session, *, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return session.execute(select(ReviewItem.id).where(*_breached(now)).limit(1)).first() is not None


def emit_sla_breaches(session: Session, *, limit: int = 200) -> int:
    """``review.sla_breached`` for each item nobody acted on by its due time, exactly once: the conditional
    UPDATE marks it in the same transaction as its event, so concurrent replicas cannot both emit it."""
    now = utcnow()
    rows = session.execute(
        select(ReviewItem, Screening.post_id)
        .join(Screening, Screening.id == ReviewItem.screening_id)
        .where(*_breached(now))
        .order_by(ReviewItem.due_at)
        .limit(limit)
    ).all()
    emitted = 0
    for item, post_id in rows:
        result = session.execute(
            update(ReviewItem)
            .where(ReviewItem.id == item.id, ReviewItem.sla_notified_at.is_(None))
            .values(sla_notified_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        data = {
            "review_id": item.id,
            "post_id": post_id,
            "kind": item.kind,
            "priority": item.priority,
            "categories": list(item.categories or []),
            "created_at": item.created_at.isoformat(),
            "due_at": item.due_at.isoformat(),
        }
        outbox.emit(
            session, org=item.org, events=[outbox.NewEvent("review.sla_breached", data, post_id=post_id)]
        )
        emitted += 1
    return emitted
