"""Stored screenings: the idempotency look-up and the one multi-row write per batch of posts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from storage import audit, outbox, outcomes
from storage.db import chunks
from storage.reviews import review_item_values
from storage.tables import ReviewItem, Screening, utcnow


def get_screening(session: Session, *, org: str, post_id: str) -> Screening | None:
    return get_screenings(session, org=org, post_ids=[post_id]).get(post_id)


def get_screenings(session: Session, *, org: str, post_ids: Sequence[str]) -> dict[str, Screening]:
    """Stored screenings by post id: the idempotency check of ``/v1/screen`` and ``/v1/screen/batch``."""
    out: dict[str, Screening] = {}
    for chunk in chunks(post_ids):
        rows = session.execute(select(Screening).where(Screening.org == org, Screening.post_id.in_(chunk)))
        out.update({r.post_id: r for r in rows.scalars()})
    return out


@dataclass(frozen=True)
class NewScreening:
    """One screening to store (``record_screenings``); ``review_priority`` None means it was published."""

    post_id: str
    fields: dict[str, Any]
    review_priority: str | None
    risk: float
    categories: Sequence[str]
    sla_due_minutes: int


def _omitted_values(table: Any) -> dict[str, Callable[[], Any]]:
    """For each column an INSERT may leave out, how to make what it would store: the column's own default, or
    NULL. Read from the table definition, so a multi-row INSERT can give every row the same keys without
    restating the table's defaults."""
    out: dict[str, Callable[[], Any]] = {}
    for col in table.columns:
        default = col.default
        if default is not None and default.is_callable:
            out[col.key] = partial(default.arg, None)  # e.g. ``list``: a fresh value per row
        elif (default is not None and default.is_scalar) or col.nullable:
            out[col.key] = _constant(default.arg if default is not None else None)
    return out


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


_SCREENING_OMITTED = _omitted_values(Screening.__table__)


def record_screenings(
    session: Session,
    *,
    org: str,
    screenings: Sequence[NewScreening],
    actor: str,
    created_at: Sequence[datetime] | None = None,
) -> list[tuple[Screening, ReviewItem | None]]:
    """Store screenings, their review items and their audit entries: one multi-row INSERT per table and one
    audit-chain extension, whatever the number of posts. Returns the rows as (unattached) ORM objects.

    ``created_at`` (one per screening) backdates the screenings and their review items (the demo seed,
    ``evaluation/demo_seed.py``; never the API): the audit entries keep the real time, so the chain stays in
    order."""
    now = utcnow()
    times = list(created_at) if created_at is not None else [now] * len(screenings)
    if len(times) != len(screenings):
        raise ValueError("created_at needs one time per screening")
    rows: list[dict[str, Any]] = []
    items: list[dict[str, Any] | None] = []
    for new, at in zip(screenings, times, strict=True):
        row = {k: make() for k, make in _SCREENING_OMITTED.items() if k not in new.fields} | new.fields
        row.update(id=str(uuid.uuid4()), org=org, post_id=new.post_id, created_at=at)
        rows.append(row)
        items.append(
            None
            if new.review_priority is None
            else review_item_values(
                org=org,
                screening_id=row["id"],
                priority=new.review_priority,
                risk=new.risk,
                categories=new.categories,
                now=at,
                sla_due_minutes=new.sla_due_minutes,
            )
        )
    if not rows:
        return []
    session.execute(insert(Screening), rows)
    pending = [i for i in items if i is not None]
    if pending:
        session.execute(insert(ReviewItem), pending)
    audit.append_many(
        session,
        org=org,
        actor=actor,
        entries=[
            (
                "screen",
                f"post:{row['post_id']}",
                {
                    "decision": row["decision"],
                    "flags": row["flags"],
                    "model_version": row["model_version"],
                    "policy_version": row["policy_version"],
                    "review_id": item["id"] if item else None,
                },
            )
            for row, item in zip(rows, items, strict=True)
        ],
    )
    stored = [
        (Screening(**row), ReviewItem(**item) if item else None)
        for row, item in zip(rows, items, strict=True)
    ]
    # Every escalation alerts at once: its event is committed with the screening (the outbox).
    outbox.emit(
        session,
        org=org,
        events=[
            outcomes.post_event(outcomes.PostRecord(scr, item, None, None, None), "post.escalated")
            for scr, item in stored
            if scr.decision == "escalate"
        ],
    )
    return stored
