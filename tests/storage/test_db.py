"""Session kinds of ``storage.db.Database`` on SQLite: snapshot reads never wait for the writer; hot-path writes
from many threads queue in-process and all commit."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from storage import staff
from storage.db import Database
from storage.tables import StaffName


def test_read_session_does_not_wait_for_an_open_write(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    with db.session() as s:
        staff.replace_staff_directory(s, org="o", names=["Ann Lee"], actor="t")
    writing, done = threading.Event(), threading.Event()

    def writer() -> None:
        with db.session() as s:  # BEGIN IMMEDIATE: holds the write lock until done is set
            staff.replace_staff_directory(s, org="o", names=["Ann Lee", "Bo Chen"], actor="t")
            writing.set()
            done.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert writing.wait(10)
        with db.read_session() as s:  # would sit in SQLite's busy handler if it asked for the write lock
            assert staff.staff_directory(s, org="o") == ["Ann Lee"]  # the committed snapshot
    finally:
        done.set()
        t.join()
    with db.read_session() as s:
        assert sorted(staff.staff_directory(s, org="o")) == ["Ann Lee", "Bo Chen"]
    db.dispose()


def test_write_sessions_from_many_threads_all_commit(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'b.db'}")

    def add(i: int) -> None:
        with db.write_session() as s:
            s.add(StaffName(org="o", name=f"Person {i}"))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(add, range(200)))
    with db.read_session() as s:
        assert s.execute(select(func.count()).select_from(StaffName)).scalar_one() == 200
    db.dispose()
