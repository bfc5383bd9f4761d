"""Two API replicas share everything that must be shared (issue "operations", 6): the model registry on an MLflow
tracking server (artifacts served by it, not read from anyone's disk), the keys, and each key's rate limit.

A real ``mlflow server`` (backend: a fresh PostgreSQL database; artifacts: a directory only it writes), a tiny
model trained and registered through it, two ``carescreen serve`` processes on one PostgreSQL schema; then a
promotion made by another process (the retrain job's part: register a version through the server and move the
alias), a revocation on one replica, and a burst of requests split across both.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from carescreen.config import PROJECT_ROOT, Settings
from evaluation.reliability.harness import ServiceProcess, create_key, free_port, server_env
from tests.helpers import POSTGRES_URL, fresh_database

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL at CARESCREEN_TEST_POSTGRES_URL"),
]

POLL_SECONDS = 1.0
#: Download + ONNX load + swap on a busy 2-core machine, both replicas at once.
PICKUP_MARGIN_SECONDS = 45.0
PER_MINUTE = 60  # a burst capacity of 10 per key, refilled at one a second


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def tracking_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``mlflow server`` over a fresh PostgreSQL database, serving the artifacts it keeps under tmp_path."""
    assert POSTGRES_URL
    name = f"mlflow_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    backend = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    artifacts = tmp_path / "mlflow-artifacts"
    artifacts.mkdir()
    port = free_port()
    log = (tmp_path / "mlflow-server.log").open("ab")
    # Its own session: ``mlflow server`` starts uvicorn as a child; the whole group is stopped afterwards.
    command = [str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri", backend]
    command += ["--artifacts-destination", str(artifacts), "--serve-artifacts", "--workers", "1"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "mlflow-server.log").read_text()[-3000:]
            with suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        else:
            raise AssertionError("mlflow server not up in 120 s")
        yield url, artifacts
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


#: The retrain job's last step, run as its own process with the replicas' environment: fetch the champion
#: through the server, register it as a new version (a new run's artifacts, uploaded through the server) and
#: promote it. ``carescreen retrain --force`` ends the same way once its gate passes; the training before that
#: takes minutes on CPU even with tiny arguments, and a 6-step champion gives its gate nothing stable to judge.
PROMOTE_JOB = textwrap.dedent(
    """
    import carescreen  # the offline environment first
    import mlflow
    import numpy as np
    from carescreen.config import get_settings
    from models.taxonomy import CATEGORIES
    from storage import model_store as registry
    from training.mlflow_model import log_bundle

    settings = get_settings()
    champion = registry.get_alias(registry.CHAMPION, settings)
    bundle = registry.download_bundle(champion, settings)
    registry.configure(settings)
    with mlflow.start_run(experiment_id=registry.ensure_experiment("carescreen", settings)):
        mlflow.set_tag("kind", "replica-test")
        version = log_bundle(
            bundle,
            registered_name=settings.registered_model_name,
            example_probs=np.zeros((1, len(CATEGORIES))),
        )
    registry.promote(version, settings)
    print("PROMOTED", champion.version, "->", version)
    """
)


def _versions(replicas: list[ServiceProcess]) -> list[str | None]:
    out: list[str | None] = []
    for r in replicas:
        try:
            out.append(httpx.get(f"{r.base}/readyz", timeout=5).json().get("model_version"))
        except httpx.HTTPError:
            out.append(None)
    return out


def _screen_version(c: httpx.Client, base: str, key: str) -> str:
    r = c.post(f"{base}/v1/screen", json={"text": "Lovely afternoon in the garden today."}, headers=_h(key))
    assert r.status_code == 200, r.text
    return str(r.json()["model_version"])


@pytest.mark.timeout(1200)
def test_two_replicas_share_registry_keys_and_rate_limit(
    tracking_server: tuple[str, Path], tmp_path: Path
) -> None:
    from training.run import train_and_register
    from training.trainer import TrainingArguments

    tracking_uri, artifacts = tracking_server
    local_root = tmp_path / "trainer-mlruns"  # what a local store would use: must stay unused
    settings = Settings(
        var_dir=tmp_path / "trainer-var",
        mlflow_tracking_uri=tracking_uri,
        mlflow_artifact_root=local_root,
        database_url=f"sqlite:///{tmp_path / 'trainer.db'}",
        secret_key="replicas",
        model_poll_seconds=0,
    )
    started = time.perf_counter()
    args = TrainingArguments(max_steps=6, batch_size=8, external_per_corpus=16, max_length=48)
    outcome = train_and_register(args, settings=settings, care_limit=48)
    trained_s = time.perf_counter() - started
    assert outcome.promoted and outcome.version == "1"
    assert not local_root.exists(), "artifacts must go to the tracking server, not the trainer's disk"
    assert list(artifacts.rglob("carescreen.json")), "the server's artifact store holds the bundle"

    with fresh_database("postgresql", tmp_path) as db_url:
        admin_key = create_key(db_url, "care-home", "admin")
        poster_key = create_key(db_url, "care-home", "poster")
        burst_key = create_key(db_url, "care-home", "poster")
        env = server_env(
            settings,
            db_url,
            CARESCREEN_MLFLOW_TRACKING_URI=tracking_uri,
            CARESCREEN_MODEL_POLL_SECONDS=str(POLL_SECONDS),
            CARESCREEN_RATE_LIMIT_PER_MINUTE=str(PER_MINUTE),
            # One model cache for both (a shared volume): both download each new champion at the same moment.
            CARESCREEN_VAR_DIR=str(tmp_path / "replica-var"),
        )
        replicas = [ServiceProcess(env, tmp_path / f"replica-{n}.log").start() for n in "ab"]
        try:
            up_s = [r.wait_up() for r in replicas]
            a, b = replicas
            with httpx.Client(timeout=60) as c:
                # 1. Both serve the champion they fetched through the server.
                assert [_screen_version(c, r.base, poster_key) for r in replicas] == [
                    "carescreen-classifier/1"
                ] * 2

                # 2. A key made and revoked on one replica is refused by the other at once.
                made = c.post(f"{a.base}/v1/admin/keys", json={"role": "poster"}, headers=_h(admin_key))
                assert made.status_code == 201, made.text
                victim = made.json()
                assert _screen_version(c, b.base, victim["key"]).endswith("/1")
                revoked = c.delete(f"{a.base}/v1/admin/keys/{victim['id']}", headers=_h(admin_key))
                assert revoked.status_code == 204, revoked.text
                refused = c.post(f"{b.base}/v1/screen", json={"text": "hello"}, headers=_h(victim["key"]))
                assert refused.status_code == 401, refused.text

                # 3. A burst split across both replicas gets one bucket's worth (10), not two (20).
                def hit(i: int) -> int:
                    base = replicas[i % 2].base
                    return c.get(f"{base}/v1/posts/burst-{i}", headers=_h(burst_key)).status_code

                burst_started = time.perf_counter()
                with ThreadPoolExecutor(8) as pool:
                    codes = list(pool.map(hit, range(40)))
                burst_s = time.perf_counter() - burst_started
                allowed = sum(code != 429 for code in codes)
                per_replica = [Counter(codes[i::2]) for i in range(2)]
                assert set(codes) <= {404, 429}, codes
                refill = burst_s * PER_MINUTE / 60
                assert 10 <= allowed <= 10 + refill + 1, (allowed, burst_s, per_replica)
                assert all(counts[429] for counts in per_replica), per_replica

                # 4. Another process registers and promotes a new version; both replicas serve it within
                # their poll interval (+ the download and load).
                promote_started = time.perf_counter()
                job = subprocess.run(
                    [sys.executable, "-c", PROMOTE_JOB],
                    env=env | {"CARESCREEN_VAR_DIR": str(tmp_path / "job-var")},
                    cwd=PROJECT_ROOT,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert job.returncode == 0, job.stderr[-3000:]
                assert "PROMOTED 1 -> 2" in job.stdout, job.stdout
                promoted_at = time.perf_counter()
                pickup: list[float | None] = [None, None]
                deadline = promoted_at + POLL_SECONDS + PICKUP_MARGIN_SECONDS
                while time.perf_counter() < deadline and None in pickup:
                    for i, version in enumerate(_versions(replicas)):
                        if pickup[i] is None and version == "carescreen-classifier/2":
                            pickup[i] = time.perf_counter() - promoted_at
                    time.sleep(0.1)
                assert None not in pickup, (pickup, _versions(replicas), a.log_tail(), b.log_tail())
                assert [_screen_version(c, r.base, poster_key) for r in replicas] == [
                    "carescreen-classifier/2"
                ] * 2
            logs = a.log_tail(100_000) + b.log_tail(100_000)
            assert "shared rate limit unavailable" not in logs
            print(
                f"\ntrain+register {trained_s:.0f} s; replicas ready in {up_s[0]:.0f} s / {up_s[1]:.0f} s; "
                f"burst of {len(codes)} in {burst_s:.2f} s: {allowed} allowed, per replica {per_replica}; "
                f"promotion job {promoted_at - promote_started:.1f} s; pickup after promotion "
                f"{pickup[0]:.1f} s / {pickup[1]:.1f} s (poll {POLL_SECONDS:.0f} s)"
            )
        finally:
            for r in replicas:
                r.stop()
