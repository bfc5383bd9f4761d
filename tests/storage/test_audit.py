"""The hash-chained audit trail: every edit, deletion or reordering is detected (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from storage import audit
from storage.crypto import AuditKeys
from storage.db import Database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    d = Database(database_url)
    with d.session() as s:
        for i in range(6):
            audit.append(
                s,
                org="org-a" if i % 2 else "org-b",
                actor=f"actor-{i}",
                action="review.decide",
                subject=f"review:{i}",
                details={"labels": {"toxicity": bool(i % 2)}, "n": i},
            )
    yield d
    d.dispose()


def verify(db: Database) -> audit.VerifyResult:
    with db.session() as s:
        return audit.verify(s)


def test_untampered_chain_verifies(db: Database) -> None:
    r = verify(db)
    assert r.ok and r.entries == 6 and r.problem is None
    with db.session() as s:
        audit.append(
            s,
            org="org-a",
            actor="lead",
            action="author.reveal",
            subject="review:9",
            details={"reason": "r", "unicode": "café ✓"},
        )
    assert verify(db).ok and verify(db).entries == 7


def test_empty_chain_verifies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    with d.session() as s:
        assert audit.verify(s).ok
    d.dispose()


TAMPERING = {
    "edit-details": [
        'UPDATE audit_log SET details = \'{"labels": {"toxicity": false}, "n": 1}\' WHERE seq = 2'
    ],
    "edit-actor": ["UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3"],
    "edit-action": ["UPDATE audit_log SET action = 'review.claim' WHERE seq = 1"],
    "edit-org": ["UPDATE audit_log SET org = 'org-c' WHERE seq = 4"],
    "delete-middle": ["DELETE FROM audit_log WHERE seq = 3"],
    "delete-first": ["DELETE FROM audit_log WHERE seq = 1"],
    "delete-last": ["DELETE FROM audit_log WHERE seq = 6"],
    "swap-rows": [
        "UPDATE audit_log SET seq = 1000 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 1000",
    ],
    "renumber-after-delete": [
        "DELETE FROM audit_log WHERE seq = 3",
        "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3",
    ],
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_tampering_is_detected(db: Database, kind: str) -> None:
    with db.session() as s:
        for stmt in TAMPERING[kind]:
            s.execute(text(stmt))
    r = verify(db)
    assert not r.ok, kind
    assert r.problem


def test_verify_reports_where(db: Database) -> None:
    with db.session() as s:
        s.execute(text("UPDATE audit_log SET subject = 'review:x' WHERE seq = 4"))
    r = verify(db)
    assert (r.ok, r.seq) == (False, 4)
    assert "edited" in (r.problem or "")


def test_export_csv(db: Database) -> None:
    import csv
    import io

    with db.session() as s:
        rows = list(csv.DictReader(io.StringIO(audit.export_csv(s, org="org-a"))))
    assert [int(r["seq"]) for r in rows] == [2, 4, 6]
    assert json.loads(rows[0]["details"]) == {"labels": {"toxicity": True}, "n": 1}


def _cli(monkeypatch, database_url: str, *argv: str) -> int:  # type: ignore[no-untyped-def]
    from carescreen import cli
    from carescreen.config import get_settings

    monkeypatch.setenv("CARESCREEN_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        return cli.main(list(argv))
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("kind", ["edit-details", "delete-middle", "swap-rows"])
def test_cli_audit_verify_exit_code(db: Database, database_url: str, monkeypatch, capsys, kind: str) -> None:  # type: ignore[no-untyped-def]
    assert _cli(monkeypatch, database_url, "audit", "verify") == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["ok"] is True
    with db.session() as s:
        for stmt in TAMPERING[kind]:
            s.execute(text(stmt))
    assert _cli(monkeypatch, database_url, "audit", "verify") != 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["ok"] is False and out["problem"]


def test_cli_audit_verify_subprocess(db: Database, database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = {**os.environ, "CARESCREEN_DATABASE_URL": database_url, "CARESCREEN_VAR_DIR": str(tmp_path / "var")}
    cmd = [sys.executable, "-m", "carescreen.cli", "audit", "verify"]
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=60).returncode == 0
    with db.session() as s:
        s.execute(text("UPDATE audit_log SET details = '{}' WHERE seq = 2"))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert json.loads(done.stdout.strip().splitlines()[-1])["ok"] is False


def _rewrite_history_without_the_key(db: Database) -> None:
    """What an attacker with database write access does: edit an org-a entry, then recompute everything that
    is not keyed (the service-wide hash chain and its head) so the unkeyed checks pass again; the MAC they can
    only recompute with a guessed key."""
    from sqlalchemy import select

    from storage.tables import AuditEntry, AuditHead, AuditOrgHead

    wrong = AuditKeys.from_secrets(["attacker-guess"]).mac_keys[0]
    with db.session() as s:
        rows = list(s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())
        target = next(r for r in rows if r.org == "org-a")
        target.details = {**target.details, "labels": {"toxicity": False}, "n": 999}
        prev, prev_macs = audit.GENESIS, {}
        for r in rows:
            fields = {"org": r.org, "at": r.at, "actor": r.actor, "action": r.action, "subject": r.subject}
            r.prev_hash = prev
            r.hash = audit._entry_hash(prev, seq=r.seq, details=r.details, **fields)
            prev = r.hash
            r.mac = audit._entry_mac(
                wrong, prev_macs.get(r.org, audit.GENESIS), org_seq=r.org_seq, details=r.details, **fields
            )
            prev_macs[r.org] = r.mac
        head = s.get(AuditHead, 1)
        head.last_hash = prev
        for h in s.execute(select(AuditOrgHead)).scalars():
            h.last_mac = prev_macs[h.org]


def test_an_attacker_with_database_access_but_not_the_key_cannot_rewrite_history(db: Database) -> None:
    """Issue 19 §4: the unkeyed chain alone would pass after the rewrite; the keyed chain does not."""
    _rewrite_history_without_the_key(db)
    with db.read_session() as s:
        r = audit.verify(s)
    assert not r.ok and "MAC" in (r.problem or "")
    with db.read_session() as s:
        one = audit.verify(s, org="org-a")
    assert not one.ok


def test_each_organisation_verifies_on_its_own(db: Database) -> None:
    with db.read_session() as s:
        a = audit.verify(s, org="org-a")
        b = audit.verify(s, org="org-b")
    assert a.ok and b.ok and a.keyed == 3 and b.keyed == 3
    # Editing org-b's entry breaks org-b's chain only.
    with db.session() as s:
        s.execute(text("UPDATE audit_log SET actor = 'someone else' WHERE org = 'org-b' AND org_seq = 2"))
    with db.read_session() as s:
        assert audit.verify(s, org="org-a").ok
        assert not audit.verify(s, org="org-b").ok


def test_signed_checkpoints_catch_removed_entries(db: Database) -> None:
    """Deleting the newest entries and moving the heads back leaves a consistent chain; a checkpoint kept
    elsewhere proves entries are missing."""
    from sqlalchemy import select

    from storage.tables import AuditCheckpoint, AuditEntry, AuditHead, AuditOrgHead

    with db.session() as s:
        assert audit.checkpoint_all(s) == 2
        assert audit.checkpoint_all(s) == 0  # nothing moved since
        exported = audit.export_checkpoints(s)
    assert len(exported["checkpoints"]) == 2 and exported["algorithm"] == "Ed25519"
    with db.read_session() as s:
        assert audit.verify(s, checkpoints=exported["checkpoints"]).checkpoints == 4  # kept copy + stored
    # The attacker removes org-a's last entry and the stored checkpoints, and winds the heads back.
    with db.session() as s:
        last = s.execute(
            select(AuditEntry).where(AuditEntry.org == "org-a").order_by(AuditEntry.seq.desc()).limit(1)
        ).scalar_one()
        assert last.seq == 6  # the newest entry overall, so the service-wide chain can be wound back too
        prev = s.execute(select(AuditEntry).where(AuditEntry.seq == 5)).scalar_one()
        before = s.execute(
            select(AuditEntry).where(AuditEntry.org == "org-a", AuditEntry.org_seq == last.org_seq - 1)
        ).scalar_one()
        s.delete(last)
        s.execute(AuditCheckpoint.__table__.delete())
        head = s.get(AuditHead, 1)
        head.last_seq, head.last_hash = 5, prev.hash
        org_head = s.get(AuditOrgHead, "org-a")
        org_head.last_seq, org_head.last_mac = before.org_seq, before.mac
    with db.read_session() as s:
        assert audit.verify(s).ok  # consistent without the checkpoint
        r = audit.verify(s, checkpoints=exported["checkpoints"])
    assert not r.ok and "checkpoint" in (r.problem or "")
    # A forged checkpoint (signed without the key) is refused.
    forged = dict(exported["checkpoints"][0], org_seq=1)
    with db.read_session() as s:
        bad = audit.verify(s, checkpoints=[forged])
    assert not bad.ok and "signature" in (bad.problem or "")


def test_entries_survive_a_secret_rotation(database_url: str) -> None:
    """Entries MAC'd under the previous secret still verify once it is listed as previous."""
    old = Database(database_url, secrets=["old-secret"])
    with old.session() as s:
        audit.append(s, org="org-a", actor="x", action="a", subject="s")
    old.dispose()
    new = Database(database_url, secrets=["new-secret", "old-secret"])
    with new.session() as s:
        audit.append(s, org="org-a", actor="y", action="b", subject="s")
    with new.read_session() as s:
        assert audit.verify(s).ok
    new.dispose()
    alone = Database(database_url, secrets=["new-secret"])
    with alone.read_session() as s:
        assert not audit.verify(s).ok  # without the old secret the old entry cannot be vouched for
    alone.dispose()
