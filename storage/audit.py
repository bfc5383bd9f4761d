"""The tamper-evident audit trail: an append-only hash chain.

Each entry's hash is SHA-256 over the previous hash and the entry's canonical JSON. Editing a row breaks its
hash; deleting or reordering rows breaks the ``prev_hash`` links or the sequence; deleting the tail breaks the
match with ``audit_head``. ``verify`` reports the first problem found.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from storage.tables import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64


def _entry_hash(
    prev_hash: str,
    *,
    seq: int,
    org: str,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "org": org,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def append(
    session: Session,
    *,
    org: str,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Append within the caller's transaction, so the audited act and its entry commit together."""
    append_many(session, org=org, actor=actor, entries=[(action, subject, details or {})])


def append_many(
    session: Session, *, org: str, actor: str, entries: Sequence[tuple[str, str, dict[str, Any]]]
) -> None:
    """Extend the chain by several ``(action, subject, details)`` entries: the head row is locked and moved
    once, and the entries go in as one multi-row INSERT (a batch of screenings costs one chain extension)."""
    if not entries:
        return
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_seq=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    at = utcnow()
    rows: list[dict[str, Any]] = []
    prev, seq = head.last_hash, head.last_seq
    for action, subject, details in entries:
        seq += 1
        digest = _entry_hash(
            prev, seq=seq, org=org, at=at, actor=actor, action=action, subject=subject, details=details
        )
        rows.append(
            {
                "seq": seq,
                "org": org,
                "at": at,
                "actor": actor,
                "action": action,
                "subject": subject,
                "details": details,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    session.execute(insert(AuditEntry), rows)
    head.last_seq, head.last_hash = seq, prev
    session.flush()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    problem: str | None = None
    seq: int | None = None


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain in sequence order and recompute every hash."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
        count += 1
        if e.seq != expected_seq:
            return VerifyResult(False, count, f"sequence gap: expected {expected_seq}, found {e.seq}", e.seq)
        if e.prev_hash != prev:
            return VerifyResult(
                False, count, "entry does not link to the one before (deleted or reordered)", e.seq
            )
        digest = _entry_hash(
            prev,
            seq=e.seq,
            org=e.org,
            at=e.at,
            actor=e.actor,
            action=e.action,
            subject=e.subject,
            details=e.details,
        )
        if digest != e.hash:
            return VerifyResult(False, count, "entry content does not match its hash (edited)", e.seq)
        prev = e.hash
        expected_seq += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != prev):
        return VerifyResult(
            False, count, "chain tip does not match the head (entries removed from the end)", None
        )
    return VerifyResult(True, count)


def export_csv(session: Session, *, org: str | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["seq", "at", "org", "actor", "action", "subject", "details", "prev_hash", "hash"])
    q = select(AuditEntry).order_by(AuditEntry.seq)
    if org is not None:
        q = q.where(AuditEntry.org == org)
    for e in session.execute(q).scalars():
        w.writerow(
            [
                e.seq,
                e.at.isoformat(),
                e.org,
                e.actor,
                e.action,
                e.subject,
                json.dumps(e.details, sort_keys=True),
                e.prev_hash,
                e.hash,
            ]
        )
    return buf.getvalue()
