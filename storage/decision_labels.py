"""Moderator decisions as labelled examples: what retraining reads (through storage, never the service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.tables import Decision, ReviewItem, Screening


def decisions_for_training(
    session: Session, *, org: str | None = None, since: datetime | None = None
) -> list[tuple[Decision, Screening]]:
    """Moderator decisions joined with the (redacted) post: the labelled examples retraining reads."""
    q = (
        select(Decision, Screening)
        .join(ReviewItem, ReviewItem.id == Decision.review_id)
        .join(Screening, Screening.id == ReviewItem.screening_id)
        .order_by(Decision.decided_at)
    )
    if org is not None:
        q = q.where(Decision.org == org)
    if since is not None:
        q = q.where(Decision.decided_at > since)
    return [(d, s) for d, s in session.execute(q).all()]
