"""``carescreen serve --workers 2`` (issue 22 §2): two processes on one port, supervised.

Concurrent screening is answered by both workers (``X-CareScreen-Worker``) and every post is stored once, with
one audit entry and a chain that verifies; a worker killed with SIGKILL is replaced and the service keeps
answering; SIGTERM to the supervisor stops every worker and it exits 0. No worker has PyTorch mapped.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from carescreen.config import Settings
from evaluation.reliability.harness import ServiceProcess, create_key, server_env
from evaluation.reliability.kill import audit_verify
from service.workers import WORKER_HEADER, worker_pids

pytestmark = pytest.mark.slow

TEXTS = [
    "Lovely afternoon in the garden with the residents, everyone enjoyed the music",
    "Reminder: fire drill on Thursday at 2pm, please make sure the night staff know",
    "Does anyone have tips for supporting someone with dementia who gets anxious at dusk?",
    "Found a bruise on her arm after the night shift and she would not say how it happened",
]


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for whoever adopted it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _wait_workers(parent: int, count: int, *, exclude: set[int], timeout: float = 180.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [p for p in worker_pids(parent) if _alive(p)]
        if len(pids) == count and not exclude & set(pids):
            return pids
        time.sleep(0.2)
    raise AssertionError(f"expected {count} workers of {parent} other than {exclude}: {worker_pids(parent)}")


def _wait_ready(base: str, pids: list[int], timeout: float = 240.0) -> None:
    """Until ``/readyz`` has been 200 from every one of ``pids`` (the kernel picks who answers a connection)."""
    ready: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and ready != set(pids):
        with suppress(httpx.HTTPError), httpx.Client(timeout=5) as c:  # a new connection each time
            r = c.get(f"{base}/readyz")
            if r.status_code == 200:
                ready.add(int(r.headers[WORKER_HEADER]))
        time.sleep(0.05)
    assert ready == set(pids), f"ready: {ready}, workers: {pids}"


def _screen_all(base: str, key: str, post_ids: list[str]) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}

    def one(i_pid: tuple[int, str]) -> httpx.Response:
        i, post_id = i_pid
        with httpx.Client(timeout=120) as c:  # one connection per request: spread over both workers
            return c.post(
                f"{base}/v1/screen", json={"text": TEXTS[i % 4], "post_id": post_id}, headers=headers
            )

    with ThreadPoolExecutor(12) as pool:
        return list(pool.map(one, enumerate(post_ids)))


@pytest.mark.timeout(600)
def test_two_workers_share_the_port_and_are_supervised(model_settings: Settings, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'workers.db'}"
    key = create_key(database_url, "org-a", "poster")
    env = server_env(model_settings, database_url, CARESCREEN_WORKERS="2")
    server = ServiceProcess(env, tmp_path / "serve.log").start()
    try:
        assert server.proc is not None
        parent = server.proc.pid
        first = _wait_workers(parent, 2, exclude=set())
        _wait_ready(server.base, first)
        for pid in first:
            assert "libtorch" not in Path(f"/proc/{pid}/maps").read_text(), "a worker loaded PyTorch"

        # Many posts at once, each id sent twice (concurrent duplicates must still be stored once).
        ids = [f"w-{i}" for i in range(120)]
        answers = _screen_all(server.base, key, ids + ids)
        assert [r.status_code for r in answers] == [200] * len(answers), server.log_tail()
        answered_by = Counter(int(r.headers[WORKER_HEADER]) for r in answers)
        assert set(answered_by) == set(first), answered_by
        by_post: dict[str, set[str]] = {}
        for r in answers:
            by_post.setdefault(r.json()["post_id"], set()).add(r.json()["decision"])
        assert all(len(d) == 1 for d in by_post.values())  # a re-POST answers the stored decision

        # One worker killed: it is replaced, and the service answers all the while.
        victim = first[0]
        os.kill(victim, signal.SIGKILL)
        replaced = _wait_workers(parent, 2, exclude={victim})
        assert first[1] in replaced
        _wait_ready(server.base, replaced)
        later = _screen_all(server.base, key, [f"after-{i}" for i in range(40)])
        assert [r.status_code for r in later] == [200] * len(later), server.log_tail()

        engine = create_engine(database_url)
        with engine.connect() as conn:
            stored = Counter(
                row[0] for row in conn.execute(text("SELECT post_id FROM screenings WHERE org = 'org-a'"))
            )
            audited = Counter(
                row[0] for row in conn.execute(text("SELECT subject FROM audit_log WHERE action = 'screen'"))
            )
        engine.dispose()
        expected = set(ids) | {f"after-{i}" for i in range(40)}
        assert set(stored) == expected and set(stored.values()) == {1}
        assert audited == Counter({f"post:{p}": 1 for p in expected})
        audit = audit_verify(env)
        assert audit["rc"] == 0 and audit["ok"], audit

        # SIGTERM to the supervisor: every worker stops, then it exits 0.
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=90) == 0, server.log_tail()
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in replaced) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in replaced)
        log = server.log_tail(100_000)
        assert f"pid {victim}) exited (killed by signal 9)" in log
    finally:
        server.stop()
