"""Issue 18 "done when", with real processes: ``kill -9`` between a committed decision and its delivery (the
event arrives after the restart), and two API processes on PostgreSQL with eight moderators over 500 items
(every event delivered exactly once per endpoint, retries keeping the same id)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from carescreen.config import Settings
from evaluation.reliability.harness import ServiceProcess, care_texts, create_key, running, server_env
from storage.tables import OutboxEvent, WebhookDelivery
from tests.helpers import POSTGRES_URL, fresh_database
from tests.webhook_receiver import Receiver, verify

pytestmark = pytest.mark.slow

EVENTS = ["post.published", "post.rejected", "post.escalated", "appeal.decided"]
FAST = {
    "CARESCREEN_WEBHOOK_ALLOW_PRIVATE": "true",
    "CARESCREEN_WEBHOOK_POLL_SECONDS": "0.1",
    "CARESCREEN_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "CARESCREEN_WEBHOOK_RETRY_MAX_SECONDS": "1",
    "CARESCREEN_WEBHOOK_TIMEOUT_SECONDS": "2",  # leases of a killed process lapse after 6 s
}


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _event_ids(db_url: str) -> set[str]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as s:
            return set(s.execute(select(WebhookDelivery.event_id)).scalars())
    finally:
        engine.dispose()


def _open_items(client: httpx.Client, poster: dict[str, str], texts: list[str], prefix: str) -> int:
    """Screen posts in batches, then report every published one, so each post has a review item."""
    opened = 0
    for start in range(0, len(texts), 100):
        chunk = texts[start : start + 100]
        r = client.post(
            "/v1/screen/batch",
            json={"posts": [{"text": t, "post_id": f"{prefix}{start + i}"} for i, t in enumerate(chunk)]},
            headers=poster,
            timeout=120,
        )
        assert r.status_code == 200, r.text
        for res in r.json()["results"]:
            if res["review"] is None:
                rep = client.post(
                    f"/v1/posts/{res['post_id']}/report", json={"reason": "please check"}, headers=poster
                )
                assert rep.status_code in (200, 201), rep.text
            opened += 1
    return opened


@pytest.mark.timeout(300)
def test_sigkill_between_commit_and_delivery(model_settings: Settings, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'kill-hooks.db'}"
    admin, poster, mod = (create_key(db_url, "care-home", r) for r in ("admin", "poster", "moderator"))
    env = server_env(model_settings, db_url, **FAST)
    receiver = Receiver()
    receiver.stop()  # the receiver is down: decisions commit, deliveries wait
    server = ServiceProcess(env, tmp_path / "kill-hooks-1.log").start()
    try:
        server.wait_up()
        with httpx.Client(base_url=server.base, timeout=30) as c:
            hook = c.post(
                "/v1/admin/webhooks", json={"url": receiver.url, "events": EVENTS}, headers=_h(admin)
            )
            assert hook.status_code == 201, hook.text
            secret = hook.json()["secret"]
            _open_items(c, _h(poster), care_texts(12, seed=5), "k")
            decided = 0
            while (item := c.post("/v1/reviews/claim-next", headers=_h(mod)).json()) is not None:
                r = c.post(
                    f"/v1/reviews/{item['id']}/decision",
                    json={"action": random.choice(["approve", "reject"]), "labels": {}},
                    headers=_h(mod),
                )
                assert r.status_code == 200, r.text
                decided += 1
            assert decided == 12
        time.sleep(0.5)
        server.sigkill()  # decisions committed (200 answered), their events not delivered
    finally:
        server.stop()
    expected = _event_ids(db_url)
    assert len(expected) >= 12
    receiver.start()
    with running(env, tmp_path / "kill-hooks-2.log"):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and {r.id for r in receiver.events()} < expected:
            time.sleep(0.1)
    got = receiver.events()
    print(
        f"{len(expected)} events committed before the kill; {len({r.id for r in got})} delivered after restart"
    )
    assert {r.id for r in got} == expected
    for r in got:
        verify(secret, r)
    receiver.stop()


@pytest.mark.postgres
@pytest.mark.timeout(600)
@pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL at CARESCREEN_TEST_POSTGRES_URL")
def test_two_processes_on_postgres_deliver_every_event_exactly_once(
    model_settings: Settings, tmp_path: Path
) -> None:
    with fresh_database("postgresql", tmp_path) as db_url:
        keys = {r: create_key(db_url, "care-home", r) for r in ("admin", "poster")}
        moderators = [create_key(db_url, "care-home", "moderator") for _ in range(8)]
        env = server_env(model_settings, db_url, **FAST)
        receiver = Receiver()
        with (
            running(env, tmp_path / "pg-a.log") as a,
            running(env, tmp_path / "pg-b.log") as b,
            httpx.Client(timeout=60) as c,
        ):
            hook = c.post(
                f"{a.base}/v1/admin/webhooks",
                json={"url": receiver.url, "events": EVENTS},
                headers=_h(keys["admin"]),
            )
            assert hook.status_code == 201, hook.text
            secret = hook.json()["secret"]
            with httpx.Client(base_url=a.base, timeout=120) as ca:
                assert _open_items(ca, _h(keys["poster"]), care_texts(500, seed=8), "pg") == 500
            # A short outage mid-way: retries must keep each event's id (no duplicates after it either).
            outage = threading.Timer(3.0, receiver.stop)
            back = threading.Timer(6.0, receiver.start)
            outage.start()
            back.start()
            decided = Counter[str]()
            lock = threading.Lock()

            def moderate(n: int) -> None:
                base = (a, b)[n % 2].base
                rng = random.Random(n)
                with httpx.Client(base_url=base, timeout=60, headers=_h(moderators[n])) as cm:
                    while (item := cm.post("/v1/reviews/claim-next").json()) is not None:
                        r = cm.post(
                            f"/v1/reviews/{item['id']}/decision",
                            json={
                                "action": rng.choice(["approve", "reject", "approve_redacted"]),
                                "labels": {},
                            },
                        )
                        assert r.status_code in (200, 409), r.text
                        if r.status_code == 200:
                            with lock:
                                decided[base] += 1

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(moderate, range(8)))
            back.join()
            assert sum(decided.values()) == 500 and all(decided[s.base] > 0 for s in (a, b)), decided
            expected = _event_ids(db_url)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len({r.id for r in receiver.events()}) < len(expected):
                time.sleep(0.2)
            time.sleep(1.0)  # anything sent twice would arrive by now
        got = receiver.events()
        counts = Counter(r.id for r in got)
        print(
            f"{len(expected)} events, {len(got)} deliveries received, decisions per process {dict(decided)}"
        )
        assert set(counts) == expected
        assert max(counts.values()) == 1, [i for i, n in counts.items() if n > 1][:5]
        for r in got[:50]:
            verify(secret, r)
        engine = create_engine(db_url)
        with Session(engine) as s:
            states = Counter(s.execute(select(WebhookDelivery.status)).scalars())
            types = Counter(s.execute(select(OutboxEvent.type)).scalars())
        engine.dispose()
        receiver.stop()
        print(f"delivery states {dict(states)}; event types {dict(types)}")
        assert states == Counter({"delivered": len(expected)})
        assert types["post.published"] + types["post.rejected"] >= 500
