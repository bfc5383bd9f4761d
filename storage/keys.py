"""API keys: created once (only a hash is stored), looked up by prefix, revoked at once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from storage import audit
from storage.tables import ApiKey, utcnow

#: ``manager``: read-only, culture evidence reports only (never posts, the queue, risk reports or admin).
ROLES = ("poster", "moderator", "safeguarding_lead", "admin", "manager")


def _hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    session: Session,
    *,
    org: str,
    role: str,
    label: str | None = None,
    expires_at: datetime | None = None,
    actor: str = "cli",
) -> tuple[ApiKey, str]:
    """Create a key; returns (row, plaintext). Only the hash is stored: the plaintext is shown once."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if not org or len(org) > 100:
        raise ValueError("org must be 1-100 characters")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    plaintext = f"cs_{prefix}_{secret}"
    row = ApiKey(
        org=org, role=role, prefix=prefix, key_hash=_hash_key(plaintext), label=label, expires_at=expires_at
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        org=org,
        actor=actor,
        action="key.create",
        subject=f"key:{row.id}",
        details={
            "role": role,
            "label": label or "",
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return row, plaintext


def authenticate(session: Session, *, plaintext: str) -> ApiKey | None:
    """Look the key up by its public prefix, then compare hashes in constant time."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != "cs":
        return None
    row = session.execute(select(ApiKey).where(ApiKey.prefix == parts[1])).scalar_one_or_none()
    if (
        row is None
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= utcnow())
    ):
        hmac.compare_digest(_hash_key(plaintext), _hash_key("cs_dummy_dummy"))  # same work either way
        return None
    return row if hmac.compare_digest(row.key_hash, _hash_key(plaintext)) else None


def list_api_keys(session: Session, *, org: str | None = None) -> list[ApiKey]:
    """Keys (never their secrets: only the hash is stored), oldest first."""
    q = select(ApiKey).order_by(ApiKey.id)
    if org is not None:
        q = q.where(ApiKey.org == org)
    return list(session.execute(q).scalars())


def revoke_api_key(session: Session, *, org: str, key_id: int, actor: str = "cli") -> bool:
    row = session.get(ApiKey, key_id)
    if row is None or row.org != org or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    audit.append(session, org=org, actor=actor, action="key.revoke", subject=f"key:{key_id}")
    return True


#: ``last_used_at`` is written at most this often per key (not a write on every request).
TOUCH_EVERY = timedelta(minutes=1)


def needs_touch(row: ApiKey) -> bool:
    return row.last_used_at is None or utcnow() - row.last_used_at >= TOUCH_EVERY


def touch(session: Session, *, key_id: int) -> None:
    """Record that the key was used now (at most once a minute; a conditional UPDATE, cheap under races)."""
    now = utcnow()
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - TOUCH_EVERY)
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def get_api_key(session: Session, *, org: str, key_id: int) -> ApiKey | None:
    row = session.get(ApiKey, key_id)
    return row if row is not None and row.org == org else None


def rotate_api_key(
    session: Session, *, org: str, key_id: int, grace: timedelta, actor: str
) -> tuple[ApiKey, str] | None:
    """A new key with the same role and label; the old one keeps working until ``grace`` has passed (so the
    caller can deploy the new one without an outage), then is refused. None if no such active key."""
    old = get_api_key(session, org=org, key_id=key_id)
    if (
        old is None
        or old.revoked_at is not None
        or (old.expires_at is not None and old.expires_at <= utcnow())
    ):
        return None
    new, plaintext = create_api_key(
        session, org=org, role=old.role, label=old.label, expires_at=None, actor=actor
    )
    until = utcnow() + grace
    old.expires_at = min(old.expires_at, until) if old.expires_at else until
    old.replaced_by = new.id
    audit.append(
        session,
        org=org,
        actor=actor,
        action="key.rotate",
        subject=f"key:{key_id}",
        details={"replaced_by": new.id, "old_expires_at": old.expires_at.isoformat()},
    )
    return new, plaintext
