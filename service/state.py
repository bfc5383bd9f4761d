"""Everything built once per process: settings, database, vault, model holder, batcher, limiters."""

from __future__ import annotations

import fcntl
import logging
import mmap
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from carescreen.config import Settings
from models.classifier import Classifier
from models.pipeline import EntityAnalyzer
from service.runtime import MicroBatcher, ModelHolder
from storage.crypto import Vault
from storage.db import Database

if TYPE_CHECKING:
    from service.webhooks import DeliveryWorker

log = logging.getLogger(__name__)


class RateLimiter:
    """Per-key token bucket (in this process): a runaway client cannot starve the others."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(max(1, per_minute // 6))
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key_id: int) -> tuple[bool, float]:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                return False, (1.0 - tokens) / self.rate
            self._buckets[key_id] = (tokens - 1.0, now)
            return True, 0.0

    def close(self) -> None:
        """Release what the limiter holds (nothing, in process)."""


class SharedRateLimiter(RateLimiter):
    """Per-key token bucket in PostgreSQL, shared by every replica: N replicas still give a key one bucket.

    Same capacity and refill as ``RateLimiter``; one atomic statement per request (``storage.rate_limits``).
    Rate limiting must never stop screening: when the database call fails (or takes longer than
    ``timeout_seconds``), that request is counted against this process's own bucket instead, with a warning.
    """

    #: At most one fallback warning per this many seconds (an outage must not flood the log).
    WARN_EVERY_SECONDS = 10.0

    def __init__(self, per_minute: int, database_url: str, *, timeout_seconds: float = 1.0) -> None:
        from storage.rate_limits import limiter_engine

        super().__init__(per_minute)
        self._engine = limiter_engine(database_url, timeout_seconds=timeout_seconds)
        self.fallbacks = 0
        self._warned_at: float | None = None
        self._unwarned = 0

    def allow(self, key_id: int) -> tuple[bool, float]:
        from storage.rate_limits import take_token

        try:
            with self._engine.connect() as conn:
                return take_token(conn, key_id=key_id, capacity=self.capacity, rate=self.rate)
        except Exception as exc:
            self._fell_back(exc)
            return super().allow(key_id)

    def _fell_back(self, exc: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            self.fallbacks += 1
            self._unwarned += 1
            if self._warned_at is not None and now - self._warned_at < self.WARN_EVERY_SECONDS:
                return
            self._warned_at, count, self._unwarned = now, self._unwarned, 0
        log.warning(
            "shared rate limit unavailable (%s): %d request(s) limited by this process's bucket instead",
            type(exc).__name__,
            count,
        )

    def close(self) -> None:
        self._engine.dispose()


class WorkerSharedRateLimiter(RateLimiter):
    """Per-key token buckets shared by the worker processes of one ``carescreen serve --workers N`` on SQLite
    (on PostgreSQL they use ``SharedRateLimiter``, like replicas): N workers still give a key one bucket.

    Same capacity and refill as ``RateLimiter``. The buckets are a table in a memory map made before the fork,
    one slot per key id modulo ``SLOTS`` (ids are numbered from 1, so two keys share a slot only past ``SLOTS``
    keys; a key finding another's bucket in its slot starts with a full one). Guarded by this process's lock
    and a POSIX record lock on the mapped file, which the kernel releases if a worker dies holding it. The
    clock is ``time.monotonic`` (CLOCK_MONOTONIC: the same clock in every process of the machine).
    """

    SLOTS = 4096
    _ROW = struct.Struct("=qdd")  # key id (0: empty), tokens, when last counted

    def __init__(self, per_minute: int) -> None:
        super().__init__(per_minute)
        size = self.SLOTS * self._ROW.size
        # Unlinked at once; the workers inherit the descriptor. Kept open for the process's life (``close``).
        self._file = tempfile.TemporaryFile()  # noqa: SIM115
        self._file.truncate(size)
        self._map = mmap.mmap(self._file.fileno(), size)  # MAP_SHARED: one table for every process

    def allow(self, key_id: int) -> tuple[bool, float]:
        offset = (key_id % self.SLOTS) * self._ROW.size
        with self._lock:
            fcntl.lockf(self._file, fcntl.LOCK_EX)
            try:
                now = time.monotonic()
                stored, tokens, last = self._ROW.unpack_from(self._map, offset)
                if stored != key_id:
                    tokens, last = self.capacity, now
                tokens = min(self.capacity, tokens + max(0.0, now - last) * self.rate)
                allowed = tokens >= 1.0
                self._ROW.pack_into(self._map, offset, key_id, tokens - 1.0 if allowed else tokens, now)
            finally:
                fcntl.lockf(self._file, fcntl.LOCK_UN)
        return (True, 0.0) if allowed else (False, (1.0 - tokens) / self.rate)

    def close(self) -> None:
        self._map.close()
        self._file.close()


def make_rate_limiter(settings: Settings) -> RateLimiter:
    """PostgreSQL: the bucket shared by all replicas. SQLite: one machine; the bucket in this process, or in
    memory shared by the worker processes of ``carescreen serve --workers N``."""
    url = settings.resolved_database_url()
    if url.startswith("postgresql"):
        return SharedRateLimiter(settings.rate_limit_per_minute, url)
    if settings.workers > 1:
        return WorkerSharedRateLimiter(settings.rate_limit_per_minute)
    return RateLimiter(settings.rate_limit_per_minute)


@dataclass
class AppState:
    settings: Settings
    holder: ModelHolder
    batcher: MicroBatcher
    vault: Vault
    limiter: RateLimiter
    db: Database | None = None
    db_error: str | None = None
    in_flight: int = 0
    started_at: float = field(default_factory=time.monotonic)
    ready_at: float | None = None
    #: The start-up model load is running (the champion poll waits for it rather than loading twice).
    loading: bool = False
    #: The webhook delivery worker (started with the app); ``wake`` it after committing an urgent event.
    webhooks: DeliveryWorker | None = None
    #: Which of ``carescreen serve --workers N`` this process is (0..N-1, kept across restarts); None when
    #: the server is a single process. Periodic work that one process does for all is done by worker 0.
    worker: int | None = None

    def wake_deliveries(self) -> None:
        if self.webhooks is not None:
            self.webhooks.wake()

    def connect_db(self) -> bool:
        try:
            if self.db is None:
                self.db = Database(self.settings.resolved_database_url(), secrets=self.settings.secrets())
            self.db.ping()
            self.db_error = None
            self.holder.readiness.database = True
            return True
        except Exception as exc:
            log.error("database unavailable: %s", type(exc).__name__)
            self.db_error = type(exc).__name__
            self.holder.readiness.database = False
            return False

    def require_db(self) -> Database:
        if self.db is None:
            raise DatabaseUnavailable(self.db_error or "not connected")
        return self.db


class DatabaseUnavailable(Exception):
    pass


def build_state(
    settings: Settings,
    *,
    classifier_loader: Callable[[], Classifier] | None = None,
    analyzer_factory: Callable[[], EntityAnalyzer] | None = None,
) -> AppState:
    holder = ModelHolder(settings, classifier_loader=classifier_loader, analyzer_factory=analyzer_factory)
    state = AppState(
        settings=settings,
        holder=holder,
        batcher=MicroBatcher(
            holder,
            max_size=settings.batch_max_size,
            wait_ms=settings.batch_wait_ms,
            workers=settings.batch_workers,
        ),
        vault=Vault(settings.secrets()),
        limiter=make_rate_limiter(settings),
    )
    return state
