"""Overload evidence: open-loop load at fixed send times, and the steady / burst / recovery test built on it."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from carescreen.config import Settings
from evaluation.reliability.harness import care_texts, create_key, running, server_env
from models.metrics import percentile


@dataclass
class Phase:
    """One open-loop phase. Latency counts from the *scheduled* send time, so a stalled client or server
    shows up in the figures instead of silently slowing the offered load (coordinated omission)."""

    name: str
    rps: float
    seconds: float
    sent: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    shed: int = 0
    shed_with_retry_after: int = 0
    shed_p50_ms: float = float("nan")
    shed_max_ms: float = float("nan")
    transport_errors: int = 0
    achieved_rps: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get("200", 0)

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s.startswith("5") and s != "503")


def _ms(values: Sequence[float], q: float) -> float:
    """``percentile`` as a phase field: NaN when nothing was measured (the report prints a dash)."""
    p = percentile(values, q)
    return float("nan") if p is None else p


def open_loop(
    base: str,
    key: str,
    texts: Sequence[str],
    *,
    name: str,
    rps: float,
    seconds: float,
    workers: int = 96,
    timeout: float = 15.0,
) -> Phase:
    """Send ``rps * seconds`` screening requests at fixed times, whatever the answers (open loop)."""
    n = int(rps * seconds)
    lock = threading.Lock()
    statuses: Counter[str] = Counter()
    ok_lat: list[float] = []
    shed_lat: list[float] = []
    shed_retry = 0
    transport = 0
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=timeout, limits=limits
    ) as client:

        def one(i: int, due: float) -> None:
            nonlocal shed_retry, transport
            sent = time.perf_counter()
            try:
                r = client.post(
                    "/v1/screen", json={"text": texts[i % len(texts)], "post_id": f"load-{uuid.uuid4()}"}
                )
            except httpx.HTTPError:
                with lock:
                    transport += 1
                return
            done = time.perf_counter()
            with lock:
                statuses[str(r.status_code)] += 1
                if r.status_code == 200:
                    ok_lat.append((done - due) * 1000)
                elif r.status_code == 503:
                    shed_lat.append((done - sent) * 1000)
                    shed_retry += int(bool(r.headers.get("retry-after")))

        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            for i in range(n):
                due = started + i / rps
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(one, i, due)
        wall = time.perf_counter() - started
    return Phase(
        name=name,
        rps=rps,
        seconds=seconds,
        sent=n,
        statuses=dict(sorted(statuses.items())),
        p50_ms=_ms(ok_lat, 0.5),
        p99_ms=_ms(ok_lat, 0.99),
        max_ms=max(ok_lat, default=float("nan")),
        shed=len(shed_lat),
        shed_with_retry_after=shed_retry,
        shed_p50_ms=_ms(shed_lat, 0.5),
        shed_max_ms=max(shed_lat, default=float("nan")),
        transport_errors=transport,
        achieved_rps=n / wall,
    )


def load_test(
    settings: Settings,
    work_dir: Path,
    *,
    rps: float = 30.0,
    steady_s: float = 60.0,
    burst_factor: float = 5.0,
    burst_s: float = 5.0,
    recovery_s: float = 10.0,
    max_in_flight: int = 32,
) -> dict[str, Any]:
    """Steady load, then a burst past the in-flight bound (shedding), then the steady rate again (recovery)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work_dir / 'load.db'}"
    key = create_key(db_url, "load", "poster")
    env = server_env(settings, db_url, CARESCREEN_MAX_IN_FLIGHT=str(max_in_flight))
    texts = care_texts(500)
    with running(env, work_dir / "load-server.log") as server:
        ready_s = time.perf_counter() - server.started_at
        # Warm-up (not measured): first requests pay for lazy initialisation.
        open_loop(server.base, key, texts, name="warm-up", rps=10, seconds=1)
        phases = [open_loop(server.base, key, texts, name="steady", rps=rps, seconds=steady_s)]
        phases.append(
            open_loop(server.base, key, texts, name="burst", rps=rps * burst_factor, seconds=burst_s)
        )
        alive_after_burst = server.alive
        time.sleep(1.0)  # the Retry-After the shed requests were given
        phases.append(open_loop(server.base, key, texts, name="recovery", rps=rps, seconds=recovery_s))
        alive = server.alive
    return {
        "max_in_flight": max_in_flight,
        "start_to_ready_s": round(ready_s, 1),
        "cpus": os.cpu_count(),
        "alive_after_burst": alive_after_burst,
        "alive_at_end": alive,
        "phases": {p.name: asdict(p) | {"ok": p.ok, "server_errors": p.server_errors} for p in phases},
    }
