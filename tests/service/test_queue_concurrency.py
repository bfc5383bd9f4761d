"""Two API processes on one PostgreSQL database, eight moderators, 500 items: each decided exactly once."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.helpers import POSTGRES_URL, auth, store_screening

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]
ITEMS = 500
MODERATORS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed_items(url: str, org: str) -> None:
    """Review items straight through the storage layer (what /v1/screen stores for held posts)."""
    from storage.db import Database

    db = Database(url)  # migrates once, before the replicas start
    with db.session() as s:
        for i in range(ITEMS):
            store_screening(
                s,
                org=org,
                post_id=f"p{i}",
                actor="seed",
                fields={
                    "decision": "hold",
                    "priority": "normal",
                    "redacted_text": f"post {i}",
                    "scores": {"toxicity": random.random()},
                    "flags": ["toxicity"],
                    "entities": [],
                    "model_version": "seed",
                    "policy_version": "seed",
                    "original_enc": None,
                },
                review_priority=random.choice(["urgent", "high", "normal"]),
                risk=random.random(),
                categories=["toxicity"],
                sla_due_minutes=60,
            )
    db.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs CARESCREEN_TEST_POSTGRES_URL (set by .ci/run)")
def test_two_replicas_eight_moderators_every_item_decided_once(tiny_model, database_url: str) -> None:  # type: ignore[no-untyped-def]
    if not database_url.startswith("postgresql"):
        pytest.skip("replica test runs on PostgreSQL only (SQLite is single-process by design)")
    settings, _ = tiny_model
    _seed_items(database_url, "org-q")
    from storage import keys
    from storage.db import Database

    db = Database(database_url)
    with db.session() as s:
        keys = [keys.create_api_key(s, org="org-q", role="moderator")[1] for _ in range(MODERATORS)]
    env = dict(
        os.environ,
        CARESCREEN_DATABASE_URL=database_url,
        CARESCREEN_VAR_DIR=str(settings.var_dir),
        CARESCREEN_MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri,
        CARESCREEN_MLFLOW_ARTIFACT_ROOT=str(settings.mlflow_artifact_root),
        CARESCREEN_RATE_LIMIT_PER_MINUTE="1000000",
        CARESCREEN_MODEL_POLL_SECONDS="0",
    )
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "carescreen.cli",
                "serve",
                "--no-bootstrap",
                "--port",
                str(p),
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
        )
        for p in ports
    ]
    try:
        for p in ports:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{p}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            else:
                raise AssertionError(f"replica on port {p} never became ready")

        decided: list[str] = []
        statuses: Counter[int] = Counter()
        lock = threading.Lock()

        def moderator(key: str) -> None:
            clients = [
                httpx.Client(base_url=f"http://127.0.0.1:{p}", headers=auth(key), timeout=30) for p in ports
            ]
            try:
                while True:
                    c = random.choice(clients)
                    r = c.post("/v1/reviews/claim-next")
                    with lock:
                        statuses[r.status_code] += 1
                    if r.status_code != 200:
                        continue
                    item = r.json()
                    if item is None:
                        return
                    d = random.choice(clients).post(
                        f"/v1/reviews/{item['id']}/decision",
                        json={"action": "approve", "labels": {"toxicity": False}},
                    )
                    with lock:
                        statuses[d.status_code] += 1
                        if d.status_code == 200:
                            decided.append(item["id"])
            finally:
                for c in clients:
                    c.close()

        threads = [threading.Thread(target=moderator, args=(k,)) for k in keys]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        print(
            f"{len(decided)} decisions in {time.monotonic() - started:.1f}s via 2 replicas; statuses {dict(statuses)}"
        )
        assert not any(s >= 500 for s in statuses), statuses
        assert len(decided) == ITEMS
        assert len(set(decided)) == ITEMS, "an item was decided twice"
        with db.session() as s:
            from sqlalchemy import func, select

            from storage.tables import Decision, ReviewItem

            assert s.scalar(select(func.count()).select_from(Decision)) == ITEMS
            assert (
                s.scalar(select(func.count()).select_from(ReviewItem).where(ReviewItem.status != "decided"))
                == 0
            )
            from storage import audit

            assert audit.verify(s).ok
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        db.dispose()
