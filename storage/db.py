"""Engines and sessions. SQLite (WAL, immediate transactions) by default; PostgreSQL for several replicas."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from storage.crypto import AuditKeys

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """Create the engine once per process (pooling: no per-request connection set-up).

    ``read_only`` (SQLite): transactions start with a deferred BEGIN, a WAL snapshot that neither waits for
    nor blocks the writer; the default engine takes the write lock up front (BEGIN IMMEDIATE).
    """
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN itself
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # Take the write lock up front: read-then-write transactions (claims, the audit chain) never
            # fail half-way with "database is locked". Read-only engines only need a snapshot.
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(url: str) -> None:
    """Bring the schema to the newest Alembic revision (idempotent; safe at every start)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


def chunks(ids: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """Distinct ids in chunks small enough for any database's bound-parameter limit."""
    distinct = list(dict.fromkeys(ids))
    for i in range(0, len(distinct), size):
        yield distinct[i : i + size]


class Database:
    def __init__(
        self, url: str, *, run_migrations: bool = True, secrets: Sequence[str] | None = None
    ) -> None:
        """``secrets`` (current first) key the audit chain; without them the settings' secrets are used."""
        self.url = url
        if run_migrations:
            migrate(url)
        if secrets is None:
            from carescreen.config import get_settings

            secrets = get_settings().secrets()
        self.audit_keys = AuditKeys.from_secrets(secrets)
        info = {"audit_keys": self.audit_keys}
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self.is_sqlite = url.startswith("sqlite")
        self.read_engine = make_engine(url, read_only=True) if self.is_sqlite else self.engine
        self.read_sessionmaker = sessionmaker(self.read_engine, expire_on_commit=False, info=info)
        self._write_lock = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self.sessionmaker() as s, s.begin():
            yield s

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only transaction for hot paths (authentication, idempotency look-ups). On SQLite it is a WAL
        snapshot: it never queues behind a writer's lock (and SQLite's sleeping busy handler)."""
        with self.read_sessionmaker() as s, s.begin():
            yield s

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """``session`` for a hot write path called from many threads at once (storing screenings). On SQLite
        the threads of this process queue on an in-process lock first, so they hand the database over at
        once instead of backing off in SQLite's busy handler (1, 2, 5, 10... ms sleeps under contention)."""
        if not self.is_sqlite:
            with self.session() as s:
                yield s
            return
        with self._write_lock, self.session() as s:
            yield s

    def ping(self) -> None:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
