"""SIGKILL evidence: the server is killed mid-work; after a restart nothing it acknowledged may be lost or
changed, and the audit chain must still verify."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from carescreen.config import PROJECT_ROOT, Settings
from evaluation.reliability.harness import ServiceProcess, care_texts, create_key, running, server_env


def _screen_and_report(client: httpx.Client, poster: dict[str, str], n: int) -> list[str]:
    """``n`` screened posts, each then reported by a reader: a pending review item per post, whatever the model
    decided (a tiny model's decisions are unpredictable; a report always opens an item)."""
    review_ids: list[str] = []
    for text in care_texts(n, seed=5):
        post_id = f"kill-{uuid.uuid4()}"
        r = client.post("/v1/screen", json={"text": text, "post_id": post_id}, headers=poster)
        r.raise_for_status()
        r = client.post(f"/v1/posts/{post_id}/report", json={"reason": "reader report"}, headers=poster)
        if r.status_code != 201:
            raise RuntimeError(f"report failed: {r.status_code} {r.text}")
        review_ids.append(r.json()["id"])
    return review_ids


def audit_verify(env: dict[str, str]) -> dict[str, Any]:
    """``carescreen audit verify`` as an operator would run it: exit status and its JSON line."""
    out = subprocess.run(
        [sys.executable, "-m", "carescreen.cli", "audit", "verify"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    return {"rc": out.returncode, **json.loads(line)}


def kill_during_decisions(
    settings: Settings, work_dir: Path, *, items: int = 60, moderators: int = 4, kill_after: int = 20
) -> dict[str, Any]:
    """Moderators claim and decide through the API while the server is SIGKILLed; after a restart on the same
    database every decision that was answered 200 must be there, exactly once, and the audit chain intact."""
    work_dir.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work_dir / 'kill.db'}"
    poster = {"Authorization": f"Bearer {create_key(db_url, 'care-home', 'poster')}"}
    mods = [
        {"Authorization": f"Bearer {create_key(db_url, 'care-home', 'moderator')}"} for _ in range(moderators)
    ]
    env = server_env(settings, db_url)
    acked: dict[str, str] = {}
    lock = threading.Lock()
    enough = threading.Event()
    errors: Counter[str] = Counter()
    server = ServiceProcess(env, work_dir / "kill-server-1.log").start()
    try:
        server.wait_up()
        with httpx.Client(base_url=server.base, timeout=15.0) as client:
            review_ids = _screen_and_report(client, poster, items)

            def moderate(headers: dict[str, str], seed: int) -> None:
                rng = random.Random(seed)
                while True:
                    try:
                        r = client.post("/v1/reviews/claim-next", headers=headers)
                        if r.status_code != 200:
                            errors[f"claim {r.status_code}"] += 1
                            return
                        if r.json() is None:
                            return  # the queue is empty
                        rid = r.json()["id"]
                        action = rng.choice(["approve", "reject", "escalate", "approve_redacted"])
                        r = client.post(
                            f"/v1/reviews/{rid}/decision", json={"action": action}, headers=headers
                        )
                    except httpx.HTTPError:
                        return  # the server is gone: whatever was in flight was not acknowledged
                    if r.status_code == 200:
                        with lock:
                            acked[rid] = action
                            if len(acked) >= kill_after:
                                enough.set()
                    else:
                        errors[f"decision {r.status_code}"] += 1

            threads = [
                threading.Thread(target=moderate, args=(h, i), daemon=True) for i, h in enumerate(mods)
            ]
            for t in threads:
                t.start()
            enough.wait(timeout=60)
            server.sigkill()
            for t in threads:
                t.join(timeout=30)
    finally:
        server.stop()
    acknowledged = dict(acked)
    killed_mid_way = len(acknowledged) < items

    lost: list[str] = []
    wrong: list[str] = []
    decided_total = 0
    with (
        running(env, work_dir / "kill-server-2.log") as server,
        httpx.Client(base_url=server.base, timeout=15.0, headers=mods[0]) as client,
    ):
        for rid in review_ids:
            r = client.get(f"/v1/reviews/{rid}")
            r.raise_for_status()
            body = r.json()
            decided_total += body["status"] == "decided"
            if rid in acknowledged:
                if body["status"] != "decided" or body["moderator_decision"] is None:
                    lost.append(rid)
                elif body["moderator_decision"] != acknowledged[rid]:
                    wrong.append(rid)
            elif (body["status"] == "decided") != (body["moderator_decision"] is not None):
                wrong.append(rid)  # half-written: decided without a decision row, or the reverse
    return {
        "items": items,
        "moderators": moderators,
        "acknowledged": len(acknowledged),
        "killed_mid_way": killed_mid_way,
        "decided_after_restart": decided_total,
        "lost": lost,
        "inconsistent": wrong,
        "errors_before_kill": dict(errors),
        "audit": audit_verify(env),
    }


def kill_during_screening(
    settings: Settings, work_dir: Path, *, posts: int = 400, threads: int = 8, kill_after: int = 60
) -> dict[str, Any]:
    """SIGKILL while posts are screened; every post answered 200 must be stored with the same decision
    (checked through the idempotent re-POST of the same ``post_id`` after a restart)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work_dir / 'kill-screen.db'}"
    poster = {"Authorization": f"Bearer {create_key(db_url, 'care-home', 'poster')}"}
    env = server_env(settings, db_url)
    texts = care_texts(posts, seed=21)
    acked: dict[str, tuple[str, str, str | None]] = {}
    lock = threading.Lock()
    enough = threading.Event()
    server = ServiceProcess(env, work_dir / "kill-screen-1.log").start()
    try:
        server.wait_up()
        with httpx.Client(
            base_url=server.base,
            timeout=15.0,
            headers=poster,
            limits=httpx.Limits(max_connections=threads + 2),
        ) as client:

            def one(i: int) -> None:
                if not server.alive:
                    return
                post_id = f"ks-{i}-{uuid.uuid4().hex[:8]}"
                try:
                    r = client.post("/v1/screen", json={"text": texts[i], "post_id": post_id})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    b = r.json()
                    with lock:
                        acked[post_id] = (texts[i], b["decision"], (b.get("review") or {}).get("id"))
                        if len(acked) >= kill_after:
                            enough.set()

            with ThreadPoolExecutor(threads) as pool:
                futures = [pool.submit(one, i) for i in range(posts)]
                enough.wait(timeout=120)
                server.sigkill()
                for f in futures:
                    f.result()
    finally:
        server.stop()
    lost: list[str] = []
    changed: list[str] = []
    with (
        running(env, work_dir / "kill-screen-2.log") as server,
        httpx.Client(base_url=server.base, timeout=15.0, headers=poster) as client,
    ):
        for post_id, (text, decision, review_id) in acked.items():
            r = client.post("/v1/screen", json={"text": text, "post_id": post_id})
            if r.status_code != 200:
                lost.append(post_id)
                continue
            b = r.json()
            if b["decision"] != decision or (b.get("review") or {}).get("id") != review_id:
                changed.append(post_id)
    return {
        "posts_offered": posts,
        "acknowledged": len(acked),
        "killed_mid_way": len(acked) < posts,
        "lost": lost,
        "changed": changed,
        "audit": audit_verify(env),
    }
