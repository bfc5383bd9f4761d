"""A published post reported by a reader goes to the queue: how missed posts become labels."""

from __future__ import annotations

from sqlalchemy.orm import Session

from storage import audit, outbox, outcomes
from storage.reviews import new_review_item, review_for_screening
from storage.screenings import get_screening
from storage.tables import ReviewItem, utcnow


def open_review_for_reported_post(
    session: Session, *, org: str, post_id: str, reason: str, urgent: bool, sla_due_minutes: int, actor: str
) -> ReviewItem | None:
    """A published post reported by a reader goes to the queue (how missed posts become labels).

    Returns the (new or existing) review item, or None when the post was never screened here.
    """
    scr = get_screening(session, org=org, post_id=post_id)
    if scr is None:
        return None
    existing = review_for_screening(session, screening_id=scr.id)
    if existing is not None:
        return existing
    priority = "urgent" if urgent else "normal"
    item = new_review_item(
        org=org,
        screening=scr,
        priority=priority,
        risk=max(scr.scores.values(), default=0.0),
        categories=scr.flags,
        now=utcnow(),
        sla_due_minutes=sla_due_minutes,
    )
    session.add(item)
    session.flush()
    audit.append(
        session,
        org=org,
        actor=actor,
        action="post.report",
        subject=f"post:{post_id}",
        details={"review_id": item.id, "urgent": urgent, "reason": reason[:500]},
    )
    if urgent:  # a reader's urgent report alerts the lead like an escalation at screening
        rec = outcomes.PostRecord(scr, item, None, None, None)
        outbox.emit(session, org=org, events=[outcomes.post_event(rec, "post.escalated")])
    return item
