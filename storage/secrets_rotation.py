"""Re-encrypt what is stored under the current secret (after ``CARESCREEN_SECRET_KEY`` was changed and the old
one moved to ``CARESCREEN_PREVIOUS_SECRET_KEYS``): originals, anonymous authors and webhook signing secrets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage import audit
from storage.crypto import Vault
from storage.tables import Screening, WebhookEndpoint


def reencrypt_all(session: Session, *, vault: Vault, actor: str, batch: int = 500) -> dict[str, int]:
    """Rotate every ciphertext not already under the current key; returns counts per column. Idempotent: a
    second run finds nothing to do. Run it once per rotation; the caller's transaction covers all of it."""
    counts = {"original": 0, "author": 0, "webhook_secret": 0}
    last = ""
    while True:
        rows = list(
            session.execute(
                select(Screening)
                .where(
                    Screening.id > last,
                    or_(Screening.original_enc.is_not(None), Screening.author_enc.is_not(None)),
                )
                .order_by(Screening.id)
                .limit(batch)
            ).scalars()
        )
        if not rows:
            break
        for r in rows:
            if r.original_enc and not vault.is_current(r.original_enc):
                r.original_enc = vault.rotate(r.original_enc)
                counts["original"] += 1
            if r.author_enc and not vault.is_current(r.author_enc):
                r.author_enc = vault.rotate(r.author_enc)
                counts["author"] += 1
        last = rows[-1].id
        session.flush()
    for ep in session.execute(select(WebhookEndpoint)).scalars():
        changed: dict[str, Any] = {}
        for col in ("secret_enc", "previous_secret_enc"):
            token = getattr(ep, col)
            if token and not vault.is_current(token):
                changed[col] = vault.rotate(token)
        for col, value in changed.items():
            setattr(ep, col, value)
        counts["webhook_secret"] += len(changed)
    audit.append(
        session, org="service", actor=actor, action="secrets.rotate", subject="secrets", details=counts
    )
    return counts
