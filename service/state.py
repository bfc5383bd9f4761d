"""Everything built once per process: settings, database, vault, model holder, batcher, limiters."""

from __future__ import annotations

import logging
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
    #: The webhook delivery worker (started with the app); ``wake`` it after committing an urgent event.
    webhooks: DeliveryWorker | None = None

    def wake_deliveries(self) -> None:
        if self.webhooks is not None:
            self.webhooks.wake()

    def connect_db(self) -> bool:
        try:
            if self.db is None:
                self.db = Database(self.settings.resolved_database_url())
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
        vault=Vault(settings.fernet_key()),
        limiter=RateLimiter(settings.rate_limit_per_minute),
    )
    return state
