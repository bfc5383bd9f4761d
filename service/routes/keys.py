"""API keys (admin, own organisation): list, create (optionally expiring), revoke, rotate with a grace period.

A key's secret is shown once, in the answer that creates it; only its hash is stored and it is never logged.
Every request looks its key up, so a revoked or expired key is refused at once by every replica.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field

from service.deps import Admin, SessionDep
from storage import keys
from storage.tables import ApiKey, utcnow

router = APIRouter(prefix="/v1/admin/keys", tags=["admin"])

Role = Literal["poster", "moderator", "safeguarding_lead", "admin", "manager"]


class KeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    label: str | None = Field(default=None, max_length=200)
    #: The key is refused after this many days (none: no expiry).
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class RotateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: How long the old key keeps working, so the new one can be deployed without an outage.
    grace_hours: float = Field(default=24.0, ge=0, le=24 * 30)


class KeyOut(BaseModel):
    id: int
    role: str
    label: str | None
    #: The public part of the key (``cs_<prefix>_…``), to tell keys apart; never the secret.
    prefix: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    replaced_by: int | None
    active: bool


class KeyCreated(KeyOut):
    #: Shown once: it cannot be read back.
    key: str


def _iso(v: object) -> str | None:
    return v.isoformat() if v is not None else None  # type: ignore[attr-defined]


def key_out(row: ApiKey) -> KeyOut:
    now = utcnow()
    return KeyOut(
        id=row.id,
        role=row.role,
        label=row.label,
        prefix=f"cs_{row.prefix}_…",
        created_at=row.created_at.isoformat(),
        expires_at=_iso(row.expires_at),
        last_used_at=_iso(row.last_used_at),
        revoked_at=_iso(row.revoked_at),
        replaced_by=row.replaced_by,
        active=row.revoked_at is None and (row.expires_at is None or row.expires_at > now),
    )


@router.get("", response_model=list[KeyOut])
def list_keys(principal: Admin, session: SessionDep) -> list[KeyOut]:
    """This organisation's keys, oldest first, with when each was last used."""
    return [key_out(r) for r in keys.list_api_keys(session, org=principal.org)]


@router.post("", response_model=KeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(body: KeyBody, principal: Admin, session: SessionDep) -> KeyCreated:
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    row, plaintext = keys.create_api_key(
        session,
        org=principal.org,
        role=body.role,
        label=body.label,
        expires_at=expires,
        actor=principal.actor,
    )
    return KeyCreated(**key_out(row).model_dump(), key=plaintext)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such active key"}},
)
def revoke_key(key_id: int, principal: Admin, session: SessionDep) -> Response:
    """Refused by every replica from the next request on."""
    if not 0 < key_id < 2**31 or not keys.revoke_api_key(
        session, org=principal.org, key_id=key_id, actor=principal.actor
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such active key")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{key_id}/rotate",
    response_model=KeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "No such active key"}},
)
def rotate_key(key_id: int, body: RotateBody, principal: Admin, session: SessionDep) -> KeyCreated:
    """A new key (shown once) with the same role and label; the old one expires after the grace period."""
    made = (
        keys.rotate_api_key(
            session,
            org=principal.org,
            key_id=key_id,
            grace=timedelta(hours=body.grace_hours),
            actor=principal.actor,
        )
        if 0 < key_id < 2**31
        else None
    )
    if made is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such active key")
    row, plaintext = made
    return KeyCreated(**key_out(row).model_dump(), key=plaintext)
