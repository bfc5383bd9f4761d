"""The tamper-evident audit trail: an append-only chain, keyed, one per organisation, with signed checkpoints.

Every entry carries two links:
- the service-wide SHA-256 chain (``seq``, ``prev_hash``, ``hash``): orders everything, but anyone who can write
  to the database could recompute it;
- the organisation's keyed chain (``org_seq``, ``mac``): an HMAC-SHA256, under a key derived from the service
  secret and never stored in the database, of the previous MAC and the entry. Without the key an edited,
  inserted or reordered entry cannot be given a valid MAC.
Deleting the newest entries (and moving the heads back) is caught by a checkpoint: the organisation's head
signed with an Ed25519 key derived from the secret, exported and kept elsewhere. Entries written before the
chain was keyed (``mac`` NULL) are verified by the service-wide chain only.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from storage.crypto import AuditKeys
from storage.tables import AuditCheckpoint, AuditEntry, AuditHead, AuditOrgHead, utcnow

GENESIS = "0" * 64


def _canonical(**fields: Any) -> str:
    fields["at"] = fields["at"].isoformat(timespec="microseconds")
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


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
    body = _canonical(seq=seq, org=org, at=at, actor=actor, action=action, subject=subject, details=details)
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _entry_mac(
    key: bytes,
    prev_mac: str,
    *,
    org_seq: int,
    org: str,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
) -> str:
    body = _canonical(
        org_seq=org_seq, org=org, at=at, actor=actor, action=action, subject=subject, details=details
    )
    return hmac.new(key, (prev_mac + body).encode("utf-8"), hashlib.sha256).hexdigest()


def keys_for(session: Session) -> AuditKeys:
    """The audit keys of the session's database (``Database(secrets=...)``)."""
    keys = session.info.get("audit_keys")
    if not isinstance(keys, AuditKeys):
        raise RuntimeError("this session has no audit keys: open it through storage.db.Database")
    return keys


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
    org_head = session.execute(
        select(AuditOrgHead).where(AuditOrgHead.org == org).with_for_update()
    ).scalar_one_or_none()
    if org_head is None:
        org_head = AuditOrgHead(org=org, last_seq=0, last_mac=GENESIS)
        session.add(org_head)
        session.flush()
    key = keys_for(session).mac_keys[0]
    at = utcnow()
    rows: list[dict[str, Any]] = []
    prev, seq = head.last_hash, head.last_seq
    prev_mac, org_seq = org_head.last_mac, org_head.last_seq
    for action, subject, details in entries:
        seq += 1
        org_seq += 1
        fields: dict[str, Any] = {
            "org": org,
            "at": at,
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
        }
        digest = _entry_hash(prev, seq=seq, **fields)
        mac = _entry_mac(key, prev_mac, org_seq=org_seq, **fields)
        rows.append(fields | {"seq": seq, "prev_hash": prev, "hash": digest, "org_seq": org_seq, "mac": mac})
        prev, prev_mac = digest, mac
    session.execute(insert(AuditEntry), rows)
    head.last_seq, head.last_hash = seq, prev
    org_head.last_seq, org_head.last_mac = org_seq, prev_mac
    session.flush()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    problem: str | None = None
    seq: int | None = None
    #: Entries checked against their organisation's keyed chain, and signed checkpoints matched.
    keyed: int = 0
    checkpoints: int = 0


def _mac_ok(keys: AuditKeys, e: AuditEntry, prev_mac: str) -> bool:
    assert e.org_seq is not None and e.mac is not None
    fields: dict[str, Any] = {
        "org": e.org,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "subject": e.subject,
        "details": e.details,
    }
    return any(
        hmac.compare_digest(_entry_mac(k, prev_mac, org_seq=e.org_seq, **fields), e.mac)
        for k in keys.mac_keys
    )


def verify(
    session: Session, *, org: str | None = None, checkpoints: Sequence[dict[str, Any]] = ()
) -> VerifyResult:
    """Walk the chain and recompute every link: the service-wide hash chain (all organisations) and each
    organisation's keyed chain, or one organisation's keyed chain alone (``org``). ``checkpoints`` are signed
    heads exported earlier (``export_checkpoints``); those stored in the database are checked too.

    Reads stream in chunks; on SQLite pass a read session (a WAL snapshot): the walk never holds the write lock.
    """
    keys = keys_for(session)
    heads: dict[str, tuple[int, str]] = {}  # org -> (last org_seq, last mac) seen so far
    macs: dict[tuple[str, int], str] = {}  # (org, org_seq) -> mac, for checkpoint look-ups
    wanted = {(c["org"], int(c["org_seq"])) for c in checkpoints}
    prev, expected_seq, count, keyed = GENESIS, 1, 0, 0
    q = select(AuditEntry)
    q = q.where(AuditEntry.org == org).order_by(AuditEntry.org_seq) if org else q.order_by(AuditEntry.seq)
    for e in session.execute(q.execution_options(yield_per=2000)).scalars():
        count += 1
        if org is None:
            if e.seq != expected_seq:
                return VerifyResult(
                    False, count, f"sequence gap: expected {expected_seq}, found {e.seq}", e.seq
                )
            if e.prev_hash != prev:
                return VerifyResult(
                    False, count, "entry does not link to the one before (deleted or reordered)", e.seq
                )
            fields: dict[str, Any] = {
                "org": e.org,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
            }
            if _entry_hash(prev, seq=e.seq, details=e.details, **fields) != e.hash:
                return VerifyResult(False, count, "entry content does not match its hash (edited)", e.seq)
            prev, expected_seq = e.hash, expected_seq + 1
        if e.mac is None or e.org_seq is None:
            continue  # written before the chain was keyed: covered by the service-wide chain only
        last_seq, last_mac = heads.get(e.org, (0, GENESIS))
        if e.org_seq != last_seq + 1:
            return VerifyResult(False, count, f"{e.org}: keyed chain gap at {last_seq + 1}", e.seq)
        if not _mac_ok(keys, e, last_mac):
            return VerifyResult(
                False, count, f"{e.org}: entry {e.org_seq} fails its MAC (edited without the key)", e.seq
            )
        heads[e.org] = (e.org_seq, e.mac)
        keyed += 1
        if (e.org, e.org_seq) in wanted:
            macs[(e.org, e.org_seq)] = e.mac
    if org is None:
        head = session.get(AuditHead, 1)
        if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != prev):
            return VerifyResult(
                False, count, "chain tip does not match the head (entries removed from the end)"
            )
    org_heads = session.execute(
        select(AuditOrgHead) if org is None else select(AuditOrgHead).where(AuditOrgHead.org == org)
    ).scalars()
    for h in org_heads:
        if (h.last_seq, h.last_mac) != heads.get(h.org, (0, GENESIS)):
            return VerifyResult(
                False, count, f"{h.org}: keyed chain tip does not match its head", None, keyed
            )
    stored = [c for c in export_checkpoints(session, org=org)["checkpoints"]]
    matched = 0
    for c in [*checkpoints, *stored]:
        if org is not None and c["org"] != org:
            continue
        if not checkpoint_signature_ok(keys, c):
            return VerifyResult(
                False, count, f"{c['org']}: checkpoint {c['org_seq']} has a bad signature", None, keyed
            )
        seen = heads.get(c["org"], (0, GENESIS))
        at = macs.get((c["org"], int(c["org_seq"])))
        if seen[0] < int(c["org_seq"]) or (at is not None and at != c["mac"]):
            return VerifyResult(
                False,
                count,
                f"{c['org']}: the chain no longer contains checkpoint {c['org_seq']} (entries removed or rewritten)",
                None,
                keyed,
            )
        matched += 1
    return VerifyResult(True, count, None, None, keyed, matched)


def _checkpoint_message(org: str, org_seq: int, mac: str, created_at: str) -> bytes:
    return f"carescreen-audit-checkpoint|{org}|{org_seq}|{mac}|{created_at}".encode()


def checkpoint(session: Session, *, org: str) -> AuditCheckpoint | None:
    """Sign the organisation's current head, if it moved since the last checkpoint."""
    head = session.get(AuditOrgHead, org)
    if head is None or head.last_seq == 0:
        return None
    last = session.execute(
        select(AuditCheckpoint).where(AuditCheckpoint.org == org).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).scalar_one_or_none()
    if last is not None and last.org_seq >= head.last_seq:
        return None
    created = utcnow()
    msg = _checkpoint_message(org, head.last_seq, head.last_mac, created.isoformat(timespec="microseconds"))
    row = AuditCheckpoint(
        org=org,
        org_seq=head.last_seq,
        mac=head.last_mac,
        created_at=created,
        signature=keys_for(session).signing_key.sign(msg).hex(),
    )
    session.add(row)
    session.flush()
    return row


def checkpoint_all(session: Session) -> int:
    """A checkpoint for every organisation whose chain moved (the service does this periodically)."""
    orgs = list(session.execute(select(AuditOrgHead.org)).scalars())
    return sum(1 for o in orgs if checkpoint(session, org=o) is not None)


def export_checkpoints(session: Session, *, org: str | None = None) -> dict[str, Any]:
    """The signed heads, with the public key that verifies them: keep a copy outside the database."""
    q = select(AuditCheckpoint).order_by(AuditCheckpoint.id)
    if org is not None:
        q = q.where(AuditCheckpoint.org == org)
    return {
        "public_key": keys_for(session).public_key_hex(),
        "algorithm": "Ed25519",
        "message": "carescreen-audit-checkpoint|org|org_seq|mac|created_at",
        "checkpoints": [
            {
                "org": c.org,
                "org_seq": c.org_seq,
                "mac": c.mac,
                "created_at": c.created_at.isoformat(timespec="microseconds"),
                "signature": c.signature,
            }
            for c in session.execute(q).scalars()
        ],
    }


def checkpoint_signature_ok(keys: AuditKeys, c: dict[str, Any]) -> bool:
    msg = _checkpoint_message(c["org"], int(c["org_seq"]), c["mac"], c["created_at"])
    for public in keys.verify_keys:
        try:
            public.verify(bytes.fromhex(c["signature"]), msg)
        except Exception:
            continue
        return True
    return False


def export_csv(session: Session, *, org: str | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        ["seq", "at", "org", "actor", "action", "subject", "details", "prev_hash", "hash", "org_seq", "mac"]
    )
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
                e.org_seq if e.org_seq is not None else "",
                e.mac or "",
            ]
        )
    return buf.getvalue()
