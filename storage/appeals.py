"""Appeals: an author contests a hold, a block or a rejection, and someone other than the first decider
decides again. Overturns are labels like any decision, so they feed retraining."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit, outcomes
from storage.reviews import PRIORITY_RANK
from storage.tables import Appeal, ReviewItem, utcnow


class AppealRefused(Exception):
    """The post cannot be appealed (published, with the lead, or appealed already): a 409 with this text."""


def create_appeal(
    session: Session,
    *,
    org: str,
    post_id: str,
    reason: str,
    sla_due_minutes: int,
    actor: str,
) -> Appeal | None:
    """Open the appeal; None when this organisation screened no such post.

    A post still waiting for its first review keeps that item (the reason is shown with it); after a
    moderator's decision a new ``appeal`` item opens that the same moderator may not decide.
    """
    rec = outcomes.load_post(session, org=org, post_id=post_id)
    if rec is None:
        return None
    if rec.appeal is not None:
        raise AppealRefused("this post has already been appealed; each post may be appealed once")
    state = outcomes.post_status(rec)["status"]
    if state in ("published", "published_redacted"):
        raise AppealRefused("this post was published; there is nothing to appeal")
    if state == "escalated":
        raise AppealRefused("this post is with the safeguarding lead; it cannot be appealed while they act")
    now = utcnow()
    if rec.decision is None and rec.item is not None and rec.item.status == "pending":
        item = rec.item
    else:
        assert rec.item is not None and rec.decision is not None
        item = ReviewItem(
            id=str(uuid.uuid4()),
            org=org,
            screening_id=rec.screening.id,
            kind="appeal",
            status="pending",
            priority="normal",
            priority_rank=PRIORITY_RANK["normal"],
            risk=rec.item.risk,
            categories=list(rec.item.categories or []),
            created_at=now,
            due_at=now + timedelta(minutes=sla_due_minutes),
            excluded_moderator=rec.decision.moderator_key_id,
        )
        session.add(item)
        session.flush()
    appeal = Appeal(
        id=str(uuid.uuid4()),
        org=org,
        screening_id=rec.screening.id,
        post_id=post_id,
        review_id=item.id,
        reason=reason,
        created_at=now,
    )
    session.add(appeal)
    session.flush()
    audit.append(
        session,
        org=org,
        actor=actor,
        action="appeal.create",
        subject=f"post:{post_id}",
        details={"appeal_id": appeal.id, "review_id": item.id},
    )
    return appeal


def appeal_for_review(session: Session, *, review_id: str) -> Appeal | None:
    return session.execute(select(Appeal).where(Appeal.review_id == review_id)).scalar_one_or_none()
