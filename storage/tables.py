"""Tables. Times are timezone-aware UTC. JSON columns hold scores, flags, spans and labels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns aware datetimes (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Refused from this time on (None: no expiry).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Updated at most once a minute per key (not on every request).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: After a rotation: the key that replaced this one.
    replaced_by: Mapped[int | None] = mapped_column(Integer)


class StaffName(Base):
    __tablename__ = "staff_names"
    __table_args__ = (UniqueConstraint("org", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: One of ``models.culture_signals.STAFF_ROLES`` (None: not given).
    role: Mapped[str | None] = mapped_column(String(40))
    #: The home, branch or service the colleague works at (None: not given).
    location: Mapped[str | None] = mapped_column(String(200))


class Screening(Base):
    """One post as screened. ``redacted_text`` is safe to show; the original is only stored encrypted."""

    __tablename__ = "screenings"
    __table_args__ = (
        UniqueConstraint("org", "post_id"),
        Index("ix_screenings_org_created_at", "org", "created_at"),
        Index("ix_screenings_org_location_created_at", "org", "location", "created_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    post_id: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str | None] = mapped_column(String(10))
    redacted_text: Mapped[str] = mapped_column(Text)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    flags: Mapped[list[Any]] = mapped_column(JSON)
    entities: Mapped[list[Any]] = mapped_column(JSON)
    kept: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    degraded: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: Per flag, the [start, end) span of ``redacted_text`` whose score raised it (the console highlights it).
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)
    author_message: Mapped[str] = mapped_column(Text, default="")
    model_version: Mapped[str] = mapped_column(String(100))
    policy_version: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20), default="post")
    circle: Mapped[str | None] = mapped_column(String(200))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    author_id: Mapped[str | None] = mapped_column(String(200))  # only for named (non-anonymous) posts
    author_enc: Mapped[str | None] = mapped_column(Text)  # anonymous posts: author encrypted, never plain
    original_enc: Mapped[str | None] = mapped_column(Text)  # original text, encrypted at rest
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Culture evidence (issue 21, migration 0005). JSON columns store Python None as SQL NULL.
    #: The author's role as the posting service sent it (``models.culture_signals.STAFF_ROLES``).
    author_role: Mapped[str | None] = mapped_column(String(40))
    #: The home, branch or service the post came from (whitespace collapsed).
    location: Mapped[str | None] = mapped_column(String(200))
    #: The ``post_id`` this comment answers (questions answered are counted through it).
    reply_to: Mapped[str | None] = mapped_column(String(200))
    #: Whether the post asks something (``models.culture_signals.is_question``).
    is_question: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Theme ids the pipeline tagged (``ScreenResult.themes``); None where no tagger ran.
    themes: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    #: Special mentions and OOOs only: per directory colleague named, their directory role ("unknown" without
    #: one), their location (None without one) and a keyed pseudonym (``storage.crypto.recipient_key``), in
    #: the same order; never a name. None for other kinds, or when the PII stage failed.
    recipient_roles: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    recipient_locations: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    recipient_keys: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))


class ReviewItem(Base):
    __tablename__ = "review_items"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    screening_id: Mapped[str] = mapped_column(ForeignKey("screenings.id"), index=True)
    #: "screen" (the screening's own item: a hold, an escalation, a reader's report) or "appeal".
    kind: Mapped[str] = mapped_column(String(10), default="screen", server_default="screen")
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    priority: Mapped[str] = mapped_column(String(10))
    priority_rank: Mapped[int] = mapped_column(Integer)  # 0 urgent, 1 high, 2 normal: sortable
    risk: Mapped[float] = mapped_column(Float)
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[int | None] = mapped_column(Integer)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The moderator who made the decision under appeal: they may not decide the appeal too.
    excluded_moderator: Mapped[int | None] = mapped_column(Integer)
    #: An urgent item acknowledged by the safeguarding lead (the console's banner): who and when.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    #: When ``review.sla_breached`` was emitted for it (once per item).
    sla_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Decision(Base):
    """A moderator's decision: the outcome and the per-category labels (the training signal)."""

    __tablename__ = "decisions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    review_id: Mapped[str] = mapped_column(ForeignKey("review_items.id"), unique=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    moderator_key_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    redacted_text: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class AuditEntry(Base):
    """Append-only, hash-chained: each entry's hash covers its content and the previous entry's hash."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    org: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: The keyed per-organisation chain: position in the organisation's chain and HMAC over the previous MAC
    #: and this entry (None on entries written before the chain was keyed).
    org_seq: Mapped[int | None] = mapped_column(Integer)
    mac: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the chain's tip. Locked for update while appending, so replicas append one at a time."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class EndedSession(Base):
    """A console session signed out on the server: its cookie is refused from then on, even if replayed."""

    __tablename__ = "ended_sessions"
    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrgSettings(Base):
    """Per-organisation SLA targets (minutes); absent rows use the service defaults."""

    __tablename__ = "org_settings"
    org: Mapped[str] = mapped_column(String(100), primary_key=True)
    sla_urgent_minutes: Mapped[int | None] = mapped_column(Integer)
    sla_normal_minutes: Mapped[int | None] = mapped_column(Integer)
    #: The confidentiality rule's holds this organisation switched off ({"special_category": false, ...}).
    confidentiality: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Appeal(Base):
    """An author's appeal against a hold, block or rejection (one per post). ``review_id`` is the item that
    decides it: a new ``appeal`` item after a moderator's decision, or the still-pending item of a held post."""

    __tablename__ = "appeals"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    screening_id: Mapped[str] = mapped_column(ForeignKey("screenings.id"), unique=True)
    post_id: Mapped[str] = mapped_column(String(200))
    review_id: Mapped[str] = mapped_column(ForeignKey("review_items.id"), index=True)
    #: The author's reason, redacted by the same path as a post (residents' identifiers never stored plain).
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookEndpoint(Base):
    """An organisation's receiver of outbound events. The signing secret is stored encrypted (it must be
    read to sign); after a rotation the previous one also signs until ``previous_valid_until``."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[Any]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(200))
    secret_enc: Mapped[str] = mapped_column(Text)
    previous_secret_enc: Mapped[str | None] = mapped_column(Text)
    previous_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxEvent(Base):
    """An event, committed in the same transaction as the change that caused it (the transactional outbox).
    ``org`` is "*" for service-wide events (``model.promoted``)."""

    __tablename__ = "outbox_events"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    type: Mapped[str] = mapped_column(String(40))
    post_id: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """One event to one endpoint. The integer id is the delivery order; deliveries with the same
    ``ordering_key`` (the post) go out one at a time, in that order."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "endpoint_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    ordering_key: Mapped[str | None] = mapped_column(String(200))
    #: pending, delivered, dead (retries ran out) or cancelled (the endpoint was deleted)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    #: Retries run for the retry window from here (the creation, or an admin's redelivery).
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RateLimitBucket(Base):
    """A key's token bucket, shared by every replica (PostgreSQL); ``updated_at`` is epoch seconds."""

    __tablename__ = "rate_limit_buckets"
    key_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class AuditOrgHead(Base):
    """The tip of one organisation's keyed audit chain (locked while appending)."""

    __tablename__ = "audit_org_heads"
    org: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_mac: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement of an organisation's chain head at a time: exported and kept elsewhere, it lets a
    verifier prove that nothing up to that point was rewritten, even by someone who holds the database."""

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org: Mapped[str] = mapped_column(String(100), index=True)
    org_seq: Mapped[int] = mapped_column(Integer)
    mac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    signature: Mapped[str] = mapped_column(String(128))
