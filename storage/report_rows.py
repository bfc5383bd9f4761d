"""What the risk report counts, read in one query each (the report itself is ``service.reporting``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.tables import Appeal, Decision, ReviewItem, Screening


def screening_rows(
    session: Session, *, org: str, start: datetime | None, end: datetime | None, circle: str | None
) -> list[tuple[Screening, ReviewItem | None, Decision | None]]:
    """Screenings in the period (by when they were screened) with their own review item and its decision."""
    q = (
        select(Screening, ReviewItem, Decision)
        .outerjoin(ReviewItem, (ReviewItem.screening_id == Screening.id) & (ReviewItem.kind == "screen"))
        .outerjoin(Decision, Decision.review_id == ReviewItem.id)
        .where(Screening.org == org)
    )
    if start is not None:
        q = q.where(Screening.created_at >= start)
    if end is not None:
        q = q.where(Screening.created_at < end)
    if circle is not None:
        q = q.where(Screening.circle == circle)
    return [(s, it, d) for s, it, d in session.execute(q).all()]


def appeal_rows(
    session: Session, *, org: str, start: datetime | None, end: datetime | None, circle: str | None
) -> list[tuple[Appeal, Screening, Decision | None]]:
    """Appeals filed in the period with their post and the decision on the appeal (None while pending)."""
    q = (
        select(Appeal, Screening, Decision)
        .join(Screening, Screening.id == Appeal.screening_id)
        .outerjoin(Decision, Decision.review_id == Appeal.review_id)
        .where(Appeal.org == org)
    )
    if start is not None:
        q = q.where(Appeal.created_at >= start)
    if end is not None:
        q = q.where(Appeal.created_at < end)
    if circle is not None:
        q = q.where(Screening.circle == circle)
    return [(a, s, d) for a, s, d in session.execute(q).all()]
