"""Keyword-only data access. Every function takes the caller's session: the caller owns the transaction."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from storage import audit, outbox, outcomes
from storage.tables import ApiKey, Appeal, Decision, OrgSettings, ReviewItem, Screening, StaffName, utcnow

ROLES = ("poster", "moderator", "safeguarding_lead", "admin")
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2}


# --- API keys ---------------------------------------------------------------------------------------------


def _hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(session: Session, *, org: str, role: str, label: str | None = None) -> tuple[ApiKey, str]:
    """Create a key; returns (row, plaintext). Only the hash is stored: the plaintext is shown once."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if not org or len(org) > 100:
        raise ValueError("org must be 1-100 characters")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    plaintext = f"cs_{prefix}_{secret}"
    row = ApiKey(org=org, role=role, prefix=prefix, key_hash=_hash_key(plaintext), label=label)
    session.add(row)
    session.flush()
    audit.append(
        session,
        org=org,
        actor="cli",
        action="key.create",
        subject=f"key:{row.id}",
        details={"role": role, "label": label or ""},
    )
    return row, plaintext


def authenticate(session: Session, *, plaintext: str) -> ApiKey | None:
    """Look the key up by its public prefix, then compare hashes in constant time."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != "cs":
        return None
    row = session.execute(select(ApiKey).where(ApiKey.prefix == parts[1])).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        hmac.compare_digest(_hash_key(plaintext), _hash_key("cs_dummy_dummy"))  # same work either way
        return None
    return row if hmac.compare_digest(row.key_hash, _hash_key(plaintext)) else None


def revoke_api_key(session: Session, *, org: str, key_id: int) -> bool:
    row = session.get(ApiKey, key_id)
    if row is None or row.org != org:
        return False
    row.revoked_at = utcnow()
    audit.append(session, org=org, actor="cli", action="key.revoke", subject=f"key:{key_id}")
    return True


# --- staff directory ---------------------------------------------------------------------------------------


def replace_staff_directory(session: Session, *, org: str, names: Sequence[str], actor: str) -> int:
    session.query(StaffName).filter(StaffName.org == org).delete()
    clean = sorted({" ".join(n.split()) for n in names if n and n.strip()})
    session.add_all(StaffName(org=org, name=n) for n in clean)
    audit.append(
        session,
        org=org,
        actor=actor,
        action="staff_directory.replace",
        subject=f"org:{org}",
        details={"count": len(clean)},
    )
    return len(clean)


def staff_directory(session: Session, *, org: str) -> list[str]:
    return list(session.execute(select(StaffName.name).where(StaffName.org == org)).scalars())


# --- screenings and the review queue -------------------------------------------------------------------------


def get_screening(session: Session, *, org: str, post_id: str) -> Screening | None:
    return get_screenings(session, org=org, post_ids=[post_id]).get(post_id)


def _chunks(ids: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """Distinct ids in chunks small enough for any database's bound-parameter limit."""
    distinct = list(dict.fromkeys(ids))
    for i in range(0, len(distinct), size):
        yield distinct[i : i + size]


def get_screenings(session: Session, *, org: str, post_ids: Sequence[str]) -> dict[str, Screening]:
    """Stored screenings by post id: the idempotency check of ``/v1/screen`` and ``/v1/screen/batch``."""
    out: dict[str, Screening] = {}
    for chunk in _chunks(post_ids):
        rows = session.execute(select(Screening).where(Screening.org == org, Screening.post_id.in_(chunk)))
        out.update({r.post_id: r for r in rows.scalars()})
    return out


def reviews_for_screenings(session: Session, *, screening_ids: Sequence[str]) -> dict[str, ReviewItem]:
    out: dict[str, ReviewItem] = {}
    for chunk in _chunks(screening_ids):
        rows = session.execute(
            select(ReviewItem).where(ReviewItem.screening_id.in_(chunk), ReviewItem.kind == "screen")
        )
        out.update({r.screening_id: r for r in rows.scalars()})
    return out


def sla_minutes(
    session: Session, *, org: str, priority: str, default_urgent: int, default_normal: int
) -> int:
    row = session.get(OrgSettings, org)
    if priority == "urgent":
        return (row.sla_urgent_minutes if row and row.sla_urgent_minutes else None) or default_urgent
    return (row.sla_normal_minutes if row and row.sla_normal_minutes else None) or default_normal


def set_org_sla(
    session: Session, *, org: str, urgent_minutes: int | None, normal_minutes: int | None
) -> None:
    row = session.get(OrgSettings, org) or OrgSettings(org=org)
    row.sla_urgent_minutes = urgent_minutes
    row.sla_normal_minutes = normal_minutes
    session.merge(row)


CONFIDENTIALITY_HOLDS = ("special_category", "access_details")


def confidentiality_holds_off(session: Session, *, org: str) -> frozenset[str]:
    """The confidentiality-rule holds an organisation has switched off (none by default)."""
    row = session.get(OrgSettings, org)
    conf = (row.confidentiality if row else None) or {}
    return frozenset(k for k in CONFIDENTIALITY_HOLDS if conf.get(k) is False)


def set_confidentiality_holds(session: Session, *, org: str, holds: dict[str, bool]) -> None:
    row = session.get(OrgSettings, org) or OrgSettings(org=org)
    row.confidentiality = {k: bool(holds.get(k, True)) for k in CONFIDENTIALITY_HOLDS}
    session.merge(row)


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


def record_screening(
    session: Session,
    *,
    org: str,
    post_id: str,
    fields: dict[str, Any],
    review_priority: str | None,
    risk: float,
    categories: Sequence[str],
    sla_due_minutes: int,
    actor: str,
) -> tuple[Screening, ReviewItem | None]:
    """Store a screening and, when it is not published, its review item, plus the audit entry."""
    new = NewScreening(post_id, fields, review_priority, risk, categories, sla_due_minutes)
    return record_screenings(session, org=org, screenings=[new], actor=actor)[0]


def record_screenings(
    session: Session, *, org: str, screenings: Sequence[NewScreening], actor: str
) -> list[tuple[Screening, ReviewItem | None]]:
    """Store screenings, their review items and their audit entries: one multi-row INSERT per table and one
    audit-chain extension, whatever the number of posts. Returns the rows as (unattached) ORM objects."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    items: list[dict[str, Any] | None] = []
    for new in screenings:
        row = {k: make() for k, make in _SCREENING_OMITTED.items() if k not in new.fields} | new.fields
        row.update(id=str(uuid.uuid4()), org=org, post_id=new.post_id, created_at=now)
        rows.append(row)
        items.append(
            None
            if new.review_priority is None
            else _review_item_values(
                org=org,
                screening_id=row["id"],
                priority=new.review_priority,
                risk=new.risk,
                categories=new.categories,
                now=now,
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


def _review_item_values(
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


def _new_review_item(
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
        **_review_item_values(
            org=org,
            screening_id=screening.id,
            priority=priority,
            risk=risk,
            categories=categories,
            now=now,
            sla_due_minutes=sla_due_minutes,
        )
    )


def review_for_screening(session: Session, *, screening_id: str) -> ReviewItem | None:
    return reviews_for_screenings(session, screening_ids=[screening_id]).get(screening_id)


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


def claim_review(
    session: Session, *, org: str, review_id: str, key_id: int, lease_seconds: int, actor: str
) -> ReviewItem:
    """Atomic conditional UPDATE: race-free on PostgreSQL with many replicas and on SQLite alike."""
    now = utcnow()
    result = session.execute(
        update(ReviewItem)
        .where(
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
) -> Decision:
    """Record a decision exactly once. A second decision, or one under someone else's lease, conflicts."""
    now = utcnow()
    result = session.execute(
        update(ReviewItem)
        .where(
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


def sla_breached(item: ReviewItem, now: datetime | None = None) -> bool:
    """Breached when the first action came after the due time, or has not come and the due time has passed."""
    now = now or utcnow()
    if item.first_action_at is not None:
        return item.first_action_at > item.due_at
    return now > item.due_at


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
    item = _new_review_item(
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
