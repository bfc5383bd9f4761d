"""The parts of ``carescreen serve --workers N`` that can be checked in one process (the supervisor itself is
exercised end to end by ``tests/reliability/test_workers.py``): the per-key bucket the workers share, the
worker header, listing a supervisor's workers, and the periodic work only worker 0 does."""

from __future__ import annotations

import asyncio
import os
import time
from types import SimpleNamespace

from carescreen.config import Settings
from service.app import _audit_checkpoints
from service.state import RateLimiter, WorkerSharedRateLimiter, make_rate_limiter
from service.workers import WORKER_HEADER, in_child, worker_pids


def test_sqlite_with_several_workers_gets_the_shared_memory_bucket(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'x.db'}"
    single = make_rate_limiter(Settings(database_url=url, var_dir=tmp_path))
    several = make_rate_limiter(Settings(database_url=url, var_dir=tmp_path, workers=3))
    try:
        assert type(single) is RateLimiter
        assert isinstance(several, WorkerSharedRateLimiter)
    finally:
        single.close()
        several.close()


def test_forked_workers_draw_from_one_bucket_per_key() -> None:
    limiter = WorkerSharedRateLimiter(60)  # capacity 10, one token a second
    try:
        # A worker (forked, as the supervisor forks them) takes 6 of key 7's tokens and 1 of key 8's.
        taken = in_child(lambda: sum(limiter.allow(7)[0] for _ in range(6)) + 10 * limiter.allow(8)[0])
        assert taken == 16
        here = [limiter.allow(7) for _ in range(5)]
        assert [ok for ok, _ in here] == [True] * 4 + [False]  # 10 in all, not 10 per process
        assert 0 < here[-1][1] <= 1.0  # Retry-After: under a second for the next token
        assert sum(limiter.allow(8)[0] for _ in range(10)) == 9
        assert limiter.allow(7 + WorkerSharedRateLimiter.SLOTS)[0]  # another key in the slot: a full bucket
    finally:
        limiter.close()


def test_bucket_refills_at_the_configured_rate() -> None:
    limiter = WorkerSharedRateLimiter(120)  # capacity 20, two tokens a second
    try:
        assert sum(limiter.allow(1)[0] for _ in range(20)) == 20
        assert not limiter.allow(1)[0]
        time.sleep(0.6)
        assert limiter.allow(1)[0]
        assert not limiter.allow(1)[0]
    finally:
        limiter.close()


def test_every_response_names_the_process_that_answered(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/healthz", "/readyz", "/no-such-page"):
        assert client.get(path).headers[WORKER_HEADER] == str(os.getpid())
    too_big = client.post("/v1/screen", content=b"x", headers={"Content-Length": str(10**9)})
    assert too_big.status_code == 413 and too_big.headers[WORKER_HEADER] == str(os.getpid())


def test_worker_pids_lists_a_processes_children() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write)
        os.read(read, 1)  # wait to be listed
        os._exit(0)
    os.close(read)
    try:
        assert pid in worker_pids(os.getpid())
    finally:
        os.write(write, b"x")
        os.close(write)
        os.waitpid(pid, 0)


def test_only_the_first_worker_signs_audit_checkpoints() -> None:
    """Worker 1 returns at once; worker 0 (and a single process) keep signing until cancelled."""
    settings = SimpleNamespace(audit_checkpoint_minutes=1e-6)
    signed: list[int] = []
    db = SimpleNamespace(session=lambda: (_ for _ in ()).throw(RuntimeError("signing")))

    async def run(worker: int | None) -> bool:
        state = SimpleNamespace(settings=settings, worker=worker, require_db=lambda: signed.append(1) or db)
        task = asyncio.ensure_future(_audit_checkpoints(state))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        done = task.done()
        task.cancel()
        return done

    assert asyncio.run(run(1)) is True and signed == []
    assert asyncio.run(run(0)) is False and signed
    assert asyncio.run(run(None)) is False
