"""The transactional outbox and webhook endpoints: events are written in the caller's transaction (so an
event exists exactly when the change that caused it was committed), fanned out to one delivery row per
subscribed endpoint, and claimed by delivery workers under a lease (``SKIP LOCKED`` on PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, insert, select, update
from sqlalchemy.orm import Session, aliased

from storage import audit
from storage.tables import OutboxEvent, WebhookDelivery, WebhookEndpoint, utcnow

EVENT_TYPES = (
    "post.published",
    "post.rejected",
    "post.escalated",
    "review.sla_breached",
    "appeal.decided",
    "model.promoted",
)
SERVICE_WIDE = "*"  # the org of events that concern every organisation (model.promoted)


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


# --- events ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEvent:
    type: str
    data: dict[str, Any]
    post_id: str | None = None
    id: str | None = None


def emit(session: Session, *, org: str, events: Sequence[NewEvent]) -> list[str]:
    """Write events and their deliveries in the caller's transaction; returns the event ids.

    Only endpoints subscribed to an event's type (in its organisation; every organisation for service-wide
    events) get a delivery. One SELECT for the endpoints and one multi-row INSERT per table.
    """
    if not events:
        return []
    for e in events:
        if e.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {e.type!r}")
    q = select(WebhookEndpoint.id, WebhookEndpoint.org, WebhookEndpoint.events).where(
        WebhookEndpoint.deleted_at.is_(None)
    )
    if org != SERVICE_WIDE:
        q = q.where(WebhookEndpoint.org == org)
    endpoints = session.execute(q).all()
    now = utcnow()
    rows: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for e in events:
        eid = e.id or new_event_id()
        rows.append(
            {
                "id": eid,
                "org": org,
                "type": e.type,
                "post_id": e.post_id,
                "payload": e.data,
                "created_at": now,
            }
        )
        for ep_id, ep_org, ep_events in endpoints:
            if e.type in (ep_events or []):
                deliveries.append(
                    {
                        "event_id": eid,
                        "endpoint_id": ep_id,
                        "org": ep_org,
                        "ordering_key": e.post_id,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "window_start": now,
                        "created_at": now,
                    }
                )
    session.execute(insert(OutboxEvent), rows)
    if deliveries:
        session.execute(insert(WebhookDelivery), deliveries)
    return [r["id"] for r in rows]


def event_exists(session: Session, *, event_id: str) -> bool:
    return session.get(OutboxEvent, event_id) is not None


# --- endpoints ---------------------------------------------------------------------------------------------


def create_endpoint(
    session: Session,
    *,
    org: str,
    url: str,
    events: Sequence[str],
    secret_enc: str,
    description: str | None,
    actor: str,
) -> WebhookEndpoint:
    row = WebhookEndpoint(
        id=str(uuid.uuid4()),
        org=org,
        url=url,
        events=sorted(set(events)),
        description=description,
        secret_enc=secret_enc,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        org=org,
        actor=actor,
        action="webhook.create",
        subject=f"webhook:{row.id}",
        details={"url": url, "events": row.events},
    )
    return row


def list_endpoints(session: Session, *, org: str) -> list[WebhookEndpoint]:
    return list(
        session.execute(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.org == org, WebhookEndpoint.deleted_at.is_(None))
            .order_by(WebhookEndpoint.created_at)
        ).scalars()
    )


def get_endpoint(session: Session, *, org: str, endpoint_id: str) -> WebhookEndpoint | None:
    row = session.get(WebhookEndpoint, endpoint_id)
    return row if row is not None and row.org == org and row.deleted_at is None else None


def delete_endpoint(session: Session, *, org: str, endpoint_id: str, actor: str) -> bool:
    """Soft delete; its undelivered events are cancelled (an admin removed the receiver on purpose)."""
    row = get_endpoint(session, org=org, endpoint_id=endpoint_id)
    if row is None:
        return False
    row.deleted_at = utcnow()
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(status="cancelled", lease_owner=None, lease_until=None)
    )
    audit.append(session, org=org, actor=actor, action="webhook.delete", subject=f"webhook:{endpoint_id}")
    return True


def rotate_secret(
    session: Session, *, org: str, endpoint_id: str, secret_enc: str, grace: timedelta, actor: str
) -> WebhookEndpoint | None:
    """The new secret signs from now on; the old one also signs until the grace period ends."""
    row = get_endpoint(session, org=org, endpoint_id=endpoint_id)
    if row is None:
        return None
    row.previous_secret_enc = row.secret_enc
    row.previous_valid_until = utcnow() + grace
    row.secret_enc = secret_enc
    audit.append(
        session,
        org=org,
        actor=actor,
        action="webhook.rotate_secret",
        subject=f"webhook:{endpoint_id}",
        details={"previous_valid_until": row.previous_valid_until.isoformat()},
    )
    return row


# --- deliveries --------------------------------------------------------------------------------------------


def list_deliveries(
    session: Session, *, org: str, endpoint_id: str, status: str | None, limit: int
) -> list[tuple[WebhookDelivery, OutboxEvent]]:
    q = (
        select(WebhookDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.org == org, WebhookDelivery.endpoint_id == endpoint_id)
    )
    if status:
        q = q.where(WebhookDelivery.status == status)
    return [(d, e) for d, e in session.execute(q.order_by(WebhookDelivery.id.desc()).limit(limit)).all()]


def get_delivery(session: Session, *, org: str, endpoint_id: str, delivery_id: int) -> WebhookDelivery | None:
    row = session.get(WebhookDelivery, delivery_id)
    return row if row is not None and row.org == org and row.endpoint_id == endpoint_id else None


def redeliver(session: Session, *, org: str, endpoint_id: str, delivery_id: int, actor: str) -> bool:
    """Queue a delivery again (a dead one, or a delivered one the receiver lost), with a fresh retry window."""
    now = utcnow()
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.org == org,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status.in_(("dead", "delivered")),
        )
        .values(status="pending", next_attempt_at=now, window_start=now, lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    audit.append(session, org=org, actor=actor, action="webhook.redeliver", subject=f"delivery:{delivery_id}")
    return True


def has_due(session: Session, *, now: datetime | None = None) -> bool:
    """A cheap read: is anything due? (Lets idle workers poll without taking the write lock.)"""
    now = now or utcnow()
    return (
        session.execute(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .limit(1)
        ).first()
        is not None
    )


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    attempts: int
    window_start: datetime
    event: OutboxEvent
    endpoint: WebhookEndpoint


def claim_due(session: Session, *, owner: str, lease: timedelta, limit: int) -> list[Claimed]:
    """Lease due deliveries to ``owner``. A delivery waits while an earlier one for the same endpoint and
    post is still pending, so each post's events arrive in order; on PostgreSQL ``SKIP LOCKED`` lets several
    replicas claim at once without ever taking the same row."""
    now = utcnow()
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        and_(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.ordering_key == WebhookDelivery.ordering_key,
            earlier.id < WebhookDelivery.id,
            earlier.status == "pending",
        )
    )
    q = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            (WebhookDelivery.lease_until.is_(None)) | (WebhookDelivery.lease_until < now),
            (WebhookDelivery.ordering_key.is_(None)) | ~blocked,
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True, of=WebhookDelivery)
    ids = list(session.execute(q).scalars())
    if not ids:
        return []
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(lease_owner=owner, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(WebhookDelivery, OutboxEvent, WebhookEndpoint)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.id)
    ).all()
    return [Claimed(d.id, d.attempts, d.window_start, e, ep) for d, e, ep in rows]


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    ok: bool
    status: int | None
    error: str | None
    #: When to try again (failed attempts); None with ``ok`` False means the retry window is over: dead.
    retry_at: datetime | None


def record_attempts(session: Session, *, owner: str, attempts: Sequence[Attempt]) -> int:
    """Store each attempt's outcome, only where ``owner`` still holds the lease (a lease that lapsed and was
    taken over is the new holder's to record). Returns how many were recorded."""
    now = utcnow()
    recorded = 0
    for a in attempts:
        if a.ok:
            values: dict[str, Any] = {"status": "delivered", "delivered_at": now}
        elif a.retry_at is None:
            values = {"status": "dead"}
        else:
            values = {"next_attempt_at": a.retry_at}
        result = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == a.delivery_id,
                WebhookDelivery.lease_owner == owner,
                WebhookDelivery.status == "pending",
            )
            .values(
                **values,
                attempts=WebhookDelivery.attempts + 1,
                last_attempt_at=now,
                last_status=a.status,
                last_error=(a.error or "")[:300] or None,
                lease_owner=None,
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )
        recorded += result.rowcount  # type: ignore[attr-defined]
    return recorded


def delivery_counts(session: Session, *, org: str | None = None) -> dict[str, int]:
    from sqlalchemy import func

    q = select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    if org is not None:
        q = q.where(WebhookDelivery.org == org)
    return {s: int(n) for s, n in session.execute(q).all()}
