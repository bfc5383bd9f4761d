"""API keys: created once (only a hash is stored), looked up by prefix, revoked at once."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.tables import ApiKey, utcnow

ROLES = ("poster", "moderator", "safeguarding_lead", "admin")


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


def list_api_keys(session: Session, *, org: str | None = None) -> list[ApiKey]:
    """Keys (never their secrets: only the hash is stored), oldest first."""
    q = select(ApiKey).order_by(ApiKey.id)
    if org is not None:
        q = q.where(ApiKey.org == org)
    return list(session.execute(q).scalars())


def revoke_api_key(session: Session, *, org: str, key_id: int) -> bool:
    row = session.get(ApiKey, key_id)
    if row is None or row.org != org:
        return False
    row.revoked_at = utcnow()
    audit.append(session, org=org, actor="cli", action="key.revoke", subject=f"key:{key_id}")
    return True
