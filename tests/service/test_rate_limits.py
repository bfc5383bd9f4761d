"""Which limiter a process gets (shared on PostgreSQL, in-process on SQLite) and that a failing shared limiter
falls back to the process's own bucket instead of failing or blocking the request."""

from __future__ import annotations

import logging
import time

import pytest

from carescreen.config import Settings
from service.state import SharedRateLimiter, make_rate_limiter
from tests.helpers import POSTGRES_URL

#: Nothing listens on port 1: connecting fails at once.
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"


def test_postgresql_shares_the_bucket_sqlite_keeps_its_own(settings: Settings) -> None:
    limiter = make_rate_limiter(settings)
    try:
        shared = settings.resolved_database_url().startswith("postgresql")
        assert isinstance(limiter, SharedRateLimiter) is shared
    finally:
        limiter.close()


def test_database_failure_falls_back_to_this_process_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    limiter = SharedRateLimiter(60, UNREACHABLE)  # capacity 10
    try:
        with caplog.at_level(logging.WARNING, logger="service.state"):
            started = time.monotonic()
            results = [limiter.allow(7) for _ in range(12)]
            elapsed = time.monotonic() - started
        assert [ok for ok, _ in results] == [True] * 10 + [False] * 2  # still limited, by the local bucket
        assert results[-1][1] > 0
        assert limiter.fallbacks == 12
        assert elapsed < 10, "a lost database must not hold requests up"
        warnings = [r for r in caplog.records if "shared rate limit unavailable" in r.getMessage()]
        assert len(warnings) == 1, "one warning per interval, not one per request"
    finally:
        limiter.close()


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL at CARESCREEN_TEST_POSTGRES_URL")
def test_two_processes_limiters_share_the_bucket(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from storage.db import migrate
    from tests.helpers import fresh_database

    with fresh_database("postgresql", tmp_path) as url:
        migrate(url)
        a, b = SharedRateLimiter(60, url), SharedRateLimiter(60, url)  # two replicas, capacity 10 each
        try:
            allowed = [(a if i % 2 else b).allow(3)[0] for i in range(20)]
        finally:
            a.close()
            b.close()
        assert sum(allowed) in (10, 11)  # one bucket, not two (a token may refill during the loop)
        assert a.fallbacks == b.fallbacks == 0
