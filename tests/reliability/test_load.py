"""Overload (issue 10 §3): 30 req/s held for 60 s with no errors, a 5x burst shed quickly with 503 +
Retry-After (no 500s, no crash), then recovery. A real ``carescreen serve`` subprocess, loopback only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carescreen.config import Settings
from evaluation.reliability.load import load_test


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_steady_load_burst_shedding_and_recovery(model_settings: Settings, tmp_path: Path) -> None:
    r = load_test(
        model_settings,
        tmp_path,
        rps=30,
        steady_s=60,
        burst_factor=5,
        burst_s=5,
        recovery_s=10,
        max_in_flight=32,
    )
    print(json.dumps(r, indent=1))
    steady, burst, recovery = (r["phases"][k] for k in ("steady", "burst", "recovery"))

    assert steady["sent"] == 1800
    assert steady["statuses"] == {"200": 1800}, steady  # zero errors, zero shed at the steady rate
    assert steady["transport_errors"] == 0

    assert burst["shed"] > 0, "a 5x burst past the in-flight bound must shed"
    assert burst["shed_with_retry_after"] == burst["shed"]
    assert burst["shed_p50_ms"] < 1000 and burst["shed_max_ms"] < 1000  # shed quickly, not after queuing
    assert set(burst["statuses"]) <= {"200", "503"}, burst  # no 500s, nothing else
    assert burst["transport_errors"] == 0
    assert r["alive_after_burst"] and r["alive_at_end"]

    assert recovery["statuses"] == {"200": recovery["sent"]}, recovery
