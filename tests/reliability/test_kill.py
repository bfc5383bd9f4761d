"""SIGKILL (issue 10 §4): a server killed while moderators decide, or while posts are screened, loses nothing
it acknowledged; after a restart on the same SQLite file every 200 is there and the audit chain verifies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carescreen.config import Settings
from evaluation.reliability.kill import kill_during_decisions, kill_during_screening


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigkill_while_moderators_decide_loses_no_acknowledged_decision(
    model_settings: Settings, tmp_path: Path
) -> None:
    r = kill_during_decisions(model_settings, tmp_path, items=60, moderators=4, kill_after=20)
    print(json.dumps(r, indent=1))
    assert r["killed_mid_way"], "the kill must land while items were still pending"
    assert r["acknowledged"] >= 20
    assert r["lost"] == []
    assert r["inconsistent"] == []
    assert r["decided_after_restart"] >= r["acknowledged"]
    assert r["audit"]["rc"] == 0 and r["audit"]["ok"], r["audit"]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigkill_while_screening_loses_no_acknowledged_post(model_settings: Settings, tmp_path: Path) -> None:
    r = kill_during_screening(model_settings, tmp_path, posts=400, threads=8, kill_after=60)
    print(json.dumps(r, indent=1))
    assert r["killed_mid_way"]
    assert r["acknowledged"] >= 60
    assert r["lost"] == []
    assert r["changed"] == []  # the idempotent re-POST answers with the stored decision and review item
    assert r["audit"]["rc"] == 0 and r["audit"]["ok"], r["audit"]
