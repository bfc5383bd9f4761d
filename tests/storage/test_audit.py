"""The hash-chained audit trail: every edit, deletion or reordering is detected (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from storage import audit
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
