"""Faults (issue 10 §4) at process level: the model missing or corrupt at start, or no model under the alias,
keeps a real ``carescreen serve`` closed (``/readyz`` 503 naming the model, ``/v1/screen`` 503, never an
allow) until the fault is repaired and an admin reloads; and a full disk on the SQLite path (in-process) is a
503 for screening and for a moderator's decision, never a 200 for something not stored, then recovers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carescreen.config import Settings
from evaluation.reliability.faults import disk_full_in_process, model_fault
from tests.helpers import auth


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", ["corrupt", "missing", "no_alias"])
def test_model_fault_at_start_fails_closed_and_recovers(
    model_settings: Settings, tmp_path: Path, kind: str
) -> None:
    r = model_fault(model_settings, tmp_path, kind)
    print(json.dumps(r, indent=1))
    assert r["readyz_status"] == 503
    assert r["readyz_model_error"], "readiness must say the model is what is wrong"
    assert r["screen_statuses"] == [503, 503]
    assert r["screen_allowed"] == 0
    assert r["reload_while_broken"] == 409
    assert r["reload_after_repair"] == 200
    assert r["readyz_after_repair"] == 200
    assert r["screen_after_repair"] == [200, 200]
    assert r["alive"]


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["write", "commit"])
def test_disk_full_on_sqlite_fails_closed_and_recovers(
    client, app_state, make_key, database_url, stage: str
) -> None:  # type: ignore[no-untyped-def]
    if not database_url.startswith("sqlite"):
        pytest.skip("simulates SQLite's 'database or disk is full'; PostgreSQL faults are in tests/service")
    poster, moderator = auth(make_key("org-a", "poster")), auth(make_key("org-a", "moderator"))
    r = disk_full_in_process(client, app_state, poster, moderator, stage=stage)
    print(json.dumps(r, indent=1))
    assert r["seeded"] == [200, 201]
    assert r["screen_full"] == 503 and not r["screen_full_allowed"]
    assert r["decision_full"] == 503, "a decision that was not stored must not be acknowledged"
    assert r["review_after_failed_decision"] == "pending"  # nothing half-written
    assert r["screen_recovered"] == 200 and r["screen_recovered_decision"] is not None
    assert r["decision_recovered"] == 200
    assert r["review_after_recovery"] == "decided"
