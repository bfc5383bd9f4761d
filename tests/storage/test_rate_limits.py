"""The shared token bucket (PostgreSQL): burst, refill, Retry-After, and one bucket for concurrent replicas."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.helpers import POSTGRES_URL, fresh_database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL at CARESCREEN_TEST_POSTGRES_URL"),
]


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    from storage.db import migrate

    with fresh_database("postgresql", tmp_path) as url:
        migrate(url)
        yield url


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    from storage.rate_limits import limiter_engine

    eng = limiter_engine(pg_url)
    yield eng
    eng.dispose()


def _take(engine: Engine, key_id: int, capacity: float, rate: float) -> tuple[bool, float]:
    from storage.rate_limits import take_token

    with engine.connect() as conn:
        return take_token(conn, key_id=key_id, capacity=capacity, rate=rate)


def test_burst_then_refused_with_retry_after(engine: Engine) -> None:
    rate = 0.01  # one token per 100 s: nothing refills during the test
    assert [_take(engine, 1, 3, rate)[0] for _ in range(3)] == [True] * 3
    allowed, retry = _take(engine, 1, 3, rate)
    assert not allowed
    assert 90 < retry <= 100  # most of a token's 100 s is still to wait
    assert _take(engine, 2, 3, rate)[0], "buckets are per key"


def test_refills_by_elapsed_time_never_above_capacity(engine: Engine, pg_url: str) -> None:
    from sqlalchemy import create_engine, text

    assert _take(engine, 5, 2, 20.0)[0] and _take(engine, 5, 2, 20.0)[0]
    time.sleep(0.2)  # 4 tokens' worth of time, capped at the capacity of 2
    assert [_take(engine, 5, 2, 20.0)[0] for _ in range(3)][:2] == [True, True]
    plain = create_engine(pg_url)
    try:
        with plain.connect() as conn:
            tokens = conn.execute(text("SELECT tokens FROM rate_limit_buckets WHERE key_id = 5")).scalar_one()
    finally:
        plain.dispose()
    assert 0 <= tokens < 2


def test_two_replicas_share_one_bucket(pg_url: str) -> None:
    """Two engines (two replicas' pools) hammering one key at once: exactly one bucket's worth gets through."""
    from storage.rate_limits import limiter_engine

    replicas = [limiter_engine(pg_url), limiter_engine(pg_url)]
    try:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda i: _take(replicas[i % 2], 9, 10, 0.001)[0], range(60)))
    finally:
        for eng in replicas:
            eng.dispose()
    assert sum(results) == 10
