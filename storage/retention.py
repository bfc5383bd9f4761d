"""Retention: originals and authors are dropped after the retention period; labels and the audit trail stay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.tables import ReviewItem, Screening, utcnow


def purge_before(session: Session, *, cutoff: datetime, actor: str) -> dict[str, int]:
    """Retention: drop encrypted originals and authors of screenings older than ``cutoff`` whose review (if
    any) is decided. Redacted text, labels and audit entries stay."""
    pending = (
        select(ReviewItem.id)
        .where(ReviewItem.screening_id == Screening.id, ReviewItem.status != "decided")
        .exists()
    )
    rows = list(
        session.execute(
            select(Screening).where(Screening.created_at < cutoff, Screening.purged_at.is_(None), ~pending)
        ).scalars()
    )
    orgs: dict[str, int] = {}
    for s in rows:
        s.original_enc = None
        s.author_enc = None
        s.author_id = None
        s.purged_at = utcnow()
        orgs[s.org] = orgs.get(s.org, 0) + 1
    for org, n in orgs.items():
        audit.append(
            session,
            org=org,
            actor=actor,
            action="retention.purge",
            subject=f"org:{org}",
            details={"screenings": n, "cutoff": cutoff.isoformat()},
        )
    return orgs
