"""Reliability evidence (issue 10): overload, SIGKILL, process-level faults, bad input and evasion, measured.

Each check is a function that returns plain figures, so the tests in ``tests/reliability`` (which assert on
them) and ``carescreen reliability`` (which writes ``evaluation/reports/reliability.md``) measure the same
thing. Everything is loopback-only and bounded in request count and wall time; every server this module
starts is a real ``carescreen serve`` subprocess that is stopped (or SIGKILLed, on purpose) before returning.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from carescreen.config import PROJECT_ROOT, Settings
from evaluation.bench import _free_port

# ---------------------------------------------------------------------------------------------- servers


def server_env(settings: Settings, database_url: str, **overrides: str) -> dict[str, str]:
    """Environment for a subprocess server over ``settings``' model store and its own database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARESCREEN_")}
    env.update(
        {
            "CARESCREEN_VAR_DIR": str(settings.var_dir),
            "CARESCREEN_MLFLOW_TRACKING_URI": settings.resolved_tracking_uri(),
            "CARESCREEN_MLFLOW_ARTIFACT_ROOT": str(settings.mlflow_artifact_root),
            "CARESCREEN_DATABASE_URL": database_url,
            "CARESCREEN_SECRET_KEY": "reliability-secret",
            "CARESCREEN_MODEL_POLL_SECONDS": "0",
            "CARESCREEN_RATE_LIMIT_PER_MINUTE": "1000000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def create_key(database_url: str, org: str, role: str) -> str:
    """An API key written straight into the database (what ``carescreen keys create`` does, without a process)."""
    from storage import crud
    from storage.db import Database

    db = Database(database_url)
    try:
        with db.session() as s:
            _, plaintext = crud.create_api_key(s, org=org, role=role)
        return plaintext
    finally:
        db.dispose()


class ServiceProcess:
    """``carescreen serve --no-bootstrap`` on a free loopback port; its output goes to a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> ServiceProcess:
        self.started_at = time.perf_counter()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "carescreen.cli",
                    "serve",
                    "--no-bootstrap",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                env=self.env,
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_up(self, *, ready: bool = True, timeout: float = 180.0) -> float:
        """Seconds from start until ``/readyz`` is 200 (``ready``) or answers at all (a closed service)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not self.alive:
                raise RuntimeError(
                    f"server exited early (rc {self.proc and self.proc.poll()}): {self.log_tail()}"
                )
            with suppress(httpx.HTTPError):
                r = httpx.get(f"{self.base}/readyz", timeout=2.0)
                if r.status_code == 200 or (not ready and r.json().get("database") is not None):
                    return time.perf_counter() - self.started_at
            time.sleep(0.1)
        raise RuntimeError(f"server not {'ready' if ready else 'up'} in {timeout:.0f}s: {self.log_tail()}")

    def sigkill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


@contextmanager
def running(env: dict[str, str], log_path: Path, *, ready: bool = True) -> Iterator[ServiceProcess]:
    """A started server, always stopped on the way out (also when the caller's assertion fails)."""
    server = ServiceProcess(env, log_path).start()
    try:
        server.wait_up(ready=ready)
        yield server
    finally:
        server.stop()


def care_texts(n: int, seed: int = 13) -> list[str]:
    """Real care-corpus posts (lengths follow the corpus), sampled with replacement."""
    from training.care_corpus import load_posts

    texts = [p.text for p in load_posts()]
    rng = random.Random(seed)
    return [rng.choice(texts) for _ in range(n)]


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, round(q * (len(v) - 1)))]


# ----------------------------------------------------------------------------------------------- load


@dataclass
class Phase:
    """One open-loop phase. Latency counts from the *scheduled* send time, so a stalled client or server
    shows up in the figures instead of silently slowing the offered load (coordinated omission)."""

    name: str
    rps: float
    seconds: float
    sent: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    shed: int = 0
    shed_with_retry_after: int = 0
    shed_p50_ms: float = float("nan")
    shed_max_ms: float = float("nan")
    transport_errors: int = 0
    achieved_rps: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get("200", 0)

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s.startswith("5") and s != "503")


def open_loop(
    base: str,
    key: str,
    texts: Sequence[str],
    *,
    name: str,
    rps: float,
    seconds: float,
    workers: int = 96,
    timeout: float = 15.0,
) -> Phase:
    """Send ``rps * seconds`` screening requests at fixed times, whatever the answers (open loop)."""
    n = int(rps * seconds)
    lock = threading.Lock()
    statuses: Counter[str] = Counter()
    ok_lat: list[float] = []
    shed_lat: list[float] = []
    shed_retry = 0
    transport = 0
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=timeout, limits=limits
    ) as client:

        def one(i: int, due: float) -> None:
            nonlocal shed_retry, transport
            sent = time.perf_counter()
            try:
                r = client.post(
                    "/v1/screen", json={"text": texts[i % len(texts)], "post_id": f"load-{uuid.uuid4()}"}
                )
            except httpx.HTTPError:
                with lock:
                    transport += 1
                return
            done = time.perf_counter()
            with lock:
                statuses[str(r.status_code)] += 1
                if r.status_code == 200:
                    ok_lat.append((done - due) * 1000)
                elif r.status_code == 503:
                    shed_lat.append((done - sent) * 1000)
                    shed_retry += int(bool(r.headers.get("retry-after")))

        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            for i in range(n):
                due = started + i / rps
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(one, i, due)
        wall = time.perf_counter() - started
    return Phase(
        name=name,
        rps=rps,
        seconds=seconds,
        sent=n,
        statuses=dict(sorted(statuses.items())),
        p50_ms=_pct(ok_lat, 0.5),
        p99_ms=_pct(ok_lat, 0.99),
        max_ms=max(ok_lat, default=float("nan")),
        shed=len(shed_lat),
        shed_with_retry_after=shed_retry,
        shed_p50_ms=_pct(shed_lat, 0.5),
        shed_max_ms=max(shed_lat, default=float("nan")),
        transport_errors=transport,
        achieved_rps=n / wall,
    )


def load_test(
    settings: Settings,
    work_dir: Path,
    *,
    rps: float = 30.0,
    steady_s: float = 60.0,
    burst_factor: float = 5.0,
    burst_s: float = 5.0,
    recovery_s: float = 10.0,
    max_in_flight: int = 32,
) -> dict[str, Any]:
    """Steady load, then a burst past the in-flight bound (shedding), then the steady rate again (recovery)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work_dir / 'load.db'}"
    key = create_key(db_url, "load", "poster")
    env = server_env(settings, db_url, CARESCREEN_MAX_IN_FLIGHT=str(max_in_flight))
    texts = care_texts(500)
    with running(env, work_dir / "load-server.log") as server:
        ready_s = time.perf_counter() - server.started_at
        # Warm-up (not measured): first requests pay for lazy initialisation.
        open_loop(server.base, key, texts, name="warm-up", rps=10, seconds=1)
        phases = [open_loop(server.base, key, texts, name="steady", rps=rps, seconds=steady_s)]
        phases.append(
            open_loop(server.base, key, texts, name="burst", rps=rps * burst_factor, seconds=burst_s)
        )
        alive_after_burst = server.alive
        time.sleep(1.0)  # the Retry-After the shed requests were given
        phases.append(open_loop(server.base, key, texts, name="recovery", rps=rps, seconds=recovery_s))
        alive = server.alive
    return {
        "max_in_flight": max_in_flight,
        "start_to_ready_s": round(ready_s, 1),
        "cpus": os.cpu_count(),
        "alive_after_burst": alive_after_burst,
        "alive_at_end": alive,
        "phases": {p.name: asdict(p) | {"ok": p.ok, "server_errors": p.server_errors} for p in phases},
    }


# ------------------------------------------------------------------------------------------ SIGKILL


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


# ------------------------------------------------------------------------------------------- faults


def _bundle_dir(settings: Settings) -> tuple[Path, str]:
    """The champion's bundle (downloaded into ``settings.var_dir`` if needed) and its version."""
    from training import registry

    ref = registry.get_alias(settings.model_alias, settings)
    if ref is None:
        raise RuntimeError("no champion to run the fault checks against")
    return registry.download_bundle(ref, settings), ref.version


def _corrupt(bundle: Path) -> None:
    for f in bundle.glob("*.onnx"):
        f.write_bytes(b"\x00not an onnx model" * 64)
    (bundle / "model.pt").write_bytes(b"not a state dict")


def _remove(bundle: Path) -> None:
    for f in [*bundle.glob("*.onnx"), bundle / "model.pt"]:
        f.unlink(missing_ok=True)


def model_fault(settings: Settings, work_dir: Path, kind: str) -> dict[str, Any]:
    """Start the service over a broken model (``corrupt``/``missing`` weights, or ``no_alias``: the registry
    holds no model for the alias); it must stay closed (readiness 503 naming the model, screening 503, never
    an allow) and open again once the fault is repaired and an admin reloads the model."""
    from training import registry

    work_dir.mkdir(parents=True, exist_ok=True)
    good, version = _bundle_dir(settings)
    var_dir = work_dir / f"var-{kind}"
    shutil.rmtree(var_dir, ignore_errors=True)
    cached = var_dir / "models" / version
    shutil.copytree(good, cached)
    alias = settings.model_alias
    repair: Callable[[], None]
    if kind == "corrupt":
        _corrupt(cached)

        def repair() -> None:
            shutil.rmtree(cached)
            shutil.copytree(good, cached)
    elif kind == "missing":
        _remove(cached)

        def repair() -> None:
            shutil.rmtree(cached)
            shutil.copytree(good, cached)
    elif kind == "no_alias":
        alias = f"reliability-{uuid.uuid4().hex[:8]}"

        def repair() -> None:
            registry.set_alias(alias, version, settings)
    else:
        raise ValueError(kind)
    db_url = f"sqlite:///{work_dir / f'fault-{kind}.db'}"
    poster = {"Authorization": f"Bearer {create_key(db_url, 'care-home', 'poster')}"}
    admin = {"Authorization": f"Bearer {create_key(db_url, 'care-home', 'admin')}"}
    env = server_env(settings, db_url, CARESCREEN_VAR_DIR=str(var_dir), CARESCREEN_MODEL_ALIAS=alias)
    out: dict[str, Any] = {"fault": kind}
    try:
        _observe_fault(env, work_dir / f"fault-{kind}.log", poster, admin, repair, out)
    finally:
        if kind == "no_alias":
            _drop_alias(alias, settings)
    return out


def _drop_alias(alias: str, settings: Settings) -> None:
    """Leave the registry as it was (the check may run against the project's real champion store)."""
    import mlflow

    from training import registry

    registry.configure(settings)
    with suppress(Exception):
        mlflow.MlflowClient().delete_registered_model_alias(settings.registered_model_name, alias)


def _observe_fault(
    env: dict[str, str],
    log_path: Path,
    poster: dict[str, str],
    admin: dict[str, str],
    repair: Callable[[], None],
    out: dict[str, Any],
) -> None:
    texts = ["Lovely shift today, the team were brilliant", "Doris in room 4 had a fall this morning"]
    with (
        running(env, log_path, ready=False) as server,
        httpx.Client(base_url=server.base, timeout=30.0) as client,
    ):
        deadline = time.perf_counter() + 120
        ready = client.get("/readyz")
        while "model" not in ready.json().get("errors", {}) and time.perf_counter() < deadline:
            time.sleep(0.2)  # the model loads in the background after start
            ready = client.get("/readyz")
        out["readyz_status"] = ready.status_code
        out["readyz_model_error"] = ready.json().get("errors", {}).get("model")
        broken = [client.post("/v1/screen", json={"text": t}, headers=poster) for t in texts]
        out["screen_statuses"] = [r.status_code for r in broken]
        out["screen_allowed"] = sum(
            r.status_code == 200 and r.json().get("decision") in ("allow", "allow_redacted") for r in broken
        )
        out["reload_while_broken"] = client.post("/v1/admin/reload-model", headers=admin).status_code
        repair()
        reload = client.post("/v1/admin/reload-model", headers=admin)
        out["reload_after_repair"] = reload.status_code
        out["readyz_after_repair"] = client.get("/readyz").status_code
        after = [client.post("/v1/screen", json={"text": t}, headers=poster) for t in texts]
        out["screen_after_repair"] = [r.status_code for r in after]
        out["alive"] = server.alive


# ---------------------------------------------------------------------------------------- bad input

BAD_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("empty text", {"json": {"text": ""}}),
    ("whitespace-only text", {"json": {"text": " \n\t "}}),
    ("10,001 characters", {"json": {"text": "a" * 10_001}}),
    ("exactly 10,000 characters", {"json": {"text": "care " * 2_000}}),
    (
        "10 MB body",
        {
            "content": b'{"text": "' + b"a" * 10_000_000 + b'"}',
            "headers": {"Content-Type": "application/json"},
        },
    ),
    (
        "invalid UTF-8",
        {"content": b'{"text": "caf\xe9 \xff\xfe"}', "headers": {"Content-Type": "application/json"}},
    ),
    ("NUL byte in text", {"json": {"text": "hello\x00world"}}),
    (
        "lone surrogate escape",
        {"content": b'{"text": "bad \\ud800 text"}', "headers": {"Content-Type": "application/json"}},
    ),
    ("wrong JSON type (text: 123)", {"json": {"text": 123}}),
    ("wrong JSON type (body is a list)", {"json": ["text"]}),
    ("unknown field", {"json": {"text": "hello", "colour": "blue"}}),
    (
        "deeply nested JSON (10,000 levels)",
        {
            "content": b'{"text": "x", "a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
            "headers": {"Content-Type": "application/json"},
        },
    ),
    (
        "not JSON",
        {"content": b"text=hello", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    ),
    (
        "right-to-left override and control characters",
        {"json": {"text": "shift \u202eevil\u202c swap \x07\x1b ok"}},
    ),
    ("emoji-only post", {"json": {"text": "🙂🙂👍🎉"}}),
    (
        "non-English post (Polish)",
        {
            "json": {
                "text": "Dzisiaj mieliśmy bardzo ciężki dyżur, wszyscy są zmęczeni "
                "i nikt nie pomógł przy kolacji"
            }
        },
    ),
    ("non-English post (Arabic script)", {"json": {"text": "كان يوم عمل طويل جدا في دار الرعاية اليوم"}}),
]


def bad_input_table(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Each bad-input class against ``/v1/screen``: status, decision (if any) and time taken."""
    rows = []
    for name, kwargs in BAD_INPUTS:
        kw = dict(kwargs)
        kw["headers"] = {**headers, **kw.get("headers", {})}
        t = time.perf_counter()
        r = client.post("/v1/screen", **kw)
        ms = (time.perf_counter() - t) * 1000
        decision = r.json().get("decision") if r.status_code == 200 else None
        rows.append({"input": name, "status": r.status_code, "decision": decision, "ms": round(ms, 1)})
    return rows


def disk_full_in_process(
    client: Any, app_state: Any, poster: dict[str, str], moderator: dict[str, str], *, stage: str = "commit"
) -> dict[str, Any]:
    """SQLite says "database or disk is full" (what it raises on ENOSPC) on every write statement
    (``stage="write"``) or on the COMMIT of every transaction that wrote (``stage="commit"``); reads still
    work. Screening and deciding must answer 503, never an allow and never a 200 for something not stored;
    when the disk "frees up" the same calls succeed."""
    import sqlite3

    from sqlalchemy import event

    engine = app_state.require_db().engine
    dialect = engine.dialect
    real_commit = dialect.do_commit
    full = threading.Event()
    wrote: dict[int, bool] = {}

    def before_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        verb = statement.lstrip().split(" ", 1)[0].upper()
        if verb == "BEGIN":
            wrote.pop(id(cursor.connection), None)
        elif verb in ("INSERT", "UPDATE", "DELETE"):
            if full.is_set() and stage == "write":
                raise sqlite3.OperationalError("database or disk is full")
            wrote[id(cursor.connection)] = True

    def commit(dbapi_connection: Any) -> None:
        raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)  # unwrap the pool's proxy
        if wrote.pop(id(raw), False) and full.is_set() and stage == "commit":
            raise sqlite3.OperationalError("database or disk is full")
        real_commit(dbapi_connection)

    post_id = f"disk-{uuid.uuid4().hex[:8]}"
    first = client.post(
        "/v1/screen",
        json={"text": "you useless cow, nobody sit with her", "post_id": post_id},
        headers=poster,
    )
    report = client.post(f"/v1/posts/{post_id}/report", json={"reason": "reader report"}, headers=poster)
    review_id = report.json()["id"] if report.status_code == 201 else None
    out: dict[str, Any] = {"stage": stage, "seeded": [first.status_code, report.status_code]}
    new_post = f"df-{uuid.uuid4().hex[:8]}"
    event.listen(engine, "before_cursor_execute", before_execute)
    dialect.do_commit = commit  # type: ignore[method-assign]
    try:
        full.set()
        r = client.post(
            "/v1/screen", json={"text": "Lovely shift today", "post_id": new_post}, headers=poster
        )
        out["screen_full"] = r.status_code
        out["screen_full_allowed"] = r.status_code == 200 and r.json().get("decision") in (
            "allow",
            "allow_redacted",
        )
        out["decision_full"] = client.post(
            f"/v1/reviews/{review_id}/decision", json={"action": "reject"}, headers=moderator
        ).status_code
        out["review_after_failed_decision"] = (
            client.get(f"/v1/reviews/{review_id}", headers=moderator).json().get("status")
        )
        out["readyz_full"] = client.get("/readyz").status_code
        full.clear()
        r = client.post(
            "/v1/screen", json={"text": "Lovely shift today", "post_id": new_post}, headers=poster
        )
        out["screen_recovered"] = r.status_code
        out["screen_recovered_decision"] = r.json().get("decision") if r.status_code == 200 else None
        out["decision_recovered"] = client.post(
            f"/v1/reviews/{review_id}/decision", json={"action": "reject"}, headers=moderator
        ).status_code
        out["review_after_recovery"] = (
            client.get(f"/v1/reviews/{review_id}", headers=moderator).json().get("status")
        )
    finally:
        event.remove(engine, "before_cursor_execute", before_execute)
        del dialect.do_commit
    return out


# ------------------------------------------------------------------------------------------ evasion

ZWSP = "\u200b"
_CYRILLIC = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і"})
_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0"})


def _words(text: str) -> list[tuple[int, int]]:
    """Spans of plain alphabetic words of 4+ letters (placeholders such as ``[RESIDENT]`` are left alone)."""
    import re

    return [(m.start(), m.end()) for m in re.finditer(r"(?<![\[\w])[A-Za-z]{4,}(?![\w\]])", text)]


def _per_word(text: str, fn: Callable[[str], str], pick: Callable[[int], bool] = lambda i: True) -> str:
    out, pos = [], 0
    for i, (s, e) in enumerate(_words(text)):
        out += [text[pos:s], fn(text[s:e]) if pick(i) else text[s:e]]
        pos = e
    out.append(text[pos:])
    return "".join(out)


def _zero_width(word: str) -> str:
    return word[: len(word) // 2] + ZWSP + word[len(word) // 2 :]


def _leet(word: str) -> str:
    # Keep the first letter a letter: "D0ris", "h4t3", as people write them.
    return word[0] + word[1:].translate(_LEET)


def _spaced_longest(text: str) -> str:
    spans = _words(text)
    if not spans:
        return text
    s, e = max(spans, key=lambda se: se[1] - se[0])
    return text[:s] + " ".join(text[s:e]) + text[e:]


VARIANTS: dict[str, Callable[[str], str]] = {
    "zero-width spaces": lambda t: _per_word(t, _zero_width),
    "Cyrillic homoglyphs": lambda t: _per_word(t, lambda w: w.translate(_CYRILLIC)),
    "leetspeak": lambda t: _per_word(t, _leet),
    "spaced-out word": _spaced_longest,
    "mixed": lambda t: _spaced_longest(
        _per_word(
            _per_word(
                _per_word(t, _zero_width, lambda i: i % 3 == 0),
                lambda w: w.translate(_CYRILLIC),
                lambda i: i % 3 == 1,
            ),
            _leet,
            lambda i: i % 3 == 2,
        )
    ),
}


def evasion_agreement(pipeline: Any, texts: Sequence[str], *, batch: int = 32) -> dict[str, Any]:
    """How often the pipeline's flags on an obfuscated variant equal its flags on the plain post (per variant
    kind). Also the same agreement for the classifier reading the variant *without* normalisation, which shows
    what the folding buys."""
    import numpy as np

    from models.normalize import normalize
    from models.pipeline import ScreenRequest
    from models.taxonomy import CATEGORIES

    def flags(batch_texts: list[str]) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for i in range(0, len(batch_texts), batch):
            res = pipeline.screen_many([ScreenRequest(text=t) for t in batch_texts[i : i + batch]])
            out += [tuple(r.flags) for r in res]
        return out

    def raw_flags(batch_texts: list[str]) -> list[tuple[str, ...]]:
        th = pipeline.classifier.thresholds
        out: list[tuple[str, ...]] = []
        for i in range(0, len(batch_texts), batch):
            probs = np.asarray(pipeline.classifier.predict_proba(list(batch_texts[i : i + batch])))
            out += [tuple(c for j, c in enumerate(CATEGORIES) if p[j] >= th[c]) for p in probs]
        return out

    texts = list(texts)
    plain = flags(texts)
    plain_raw = raw_flags(texts)
    per_kind: dict[str, dict[str, Any]] = {}
    agree_all = total_all = 0
    for kind, fn in VARIANTS.items():
        variants = [fn(t) for t in texts]
        got = flags(variants)
        got_raw = raw_flags(variants)
        same = sum(a == b for a, b in zip(plain, got, strict=True))
        flagged = [i for i, f in enumerate(plain) if f]
        per_kind[kind] = {
            "n": len(texts),
            "changed_text": sum(v != t for v, t in zip(variants, texts, strict=True)),
            # Folding undid the disguise exactly (so any flag change came from the PII stage seeing the variant).
            "folded_identical": sum(
                normalize(v).text == normalize(t).text for v, t in zip(variants, texts, strict=True)
            ),
            "agreement": same / len(texts) if texts else float("nan"),
            "agreement_when_plain_flagged": (
                sum(plain[i] == got[i] for i in flagged) / len(flagged) if flagged else float("nan")
            ),
            "agreement_without_normalisation": (
                sum(a == b for a, b in zip(plain_raw, got_raw, strict=True)) / len(texts)
                if texts
                else float("nan")
            ),
            "example": variants[0][:120] if variants else "",
        }
        agree_all += same
        total_all += len(texts)
    return {
        "posts": len(texts),
        "plain_flagged": sum(bool(f) for f in plain),
        "agreement": agree_all / total_all if total_all else float("nan"),
        "by_variant": per_kind,
    }


def positive_test_texts(limit: int | None = None) -> list[str]:
    """Test-split care posts with at least one positive label (as serving sees them: identifiers redacted)."""
    from training.data import care_examples

    texts = [ex.text for ex in care_examples("test") if any(v == 1 for v in ex.labels.values())]
    return texts[:limit] if limit else texts


# ------------------------------------------------------------------------------------------- report


def _model_settings(work_dir: Path) -> tuple[Settings, str]:
    """The champion in the configured store if there is one; otherwise a tiny model trained here (a few steps:
    the reliability figures are about the service, not about model quality)."""
    from carescreen.config import get_settings
    from training import registry

    settings = get_settings()
    ref = registry.get_alias(settings.model_alias, settings)
    if ref is not None:
        return settings, f"champion {ref.label}"
    from training.run import train_and_register
    from training.trainer import TrainingArguments

    root = work_dir / "tiny-model"
    tiny = Settings(
        var_dir=root / "var",
        mlflow_tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        mlflow_artifact_root=root / "mlruns",
        secret_key="tiny",
        model_poll_seconds=0,
    )
    outcome = train_and_register(
        TrainingArguments(max_steps=6, batch_size=8, external_per_corpus=16, max_length=48),
        settings=tiny,
        care_limit=48,
    )
    return tiny, f"tiny model {outcome.version} (6 training steps; no champion was registered)"


def in_process_checks(settings: Settings, work_dir: Path) -> dict[str, Any]:
    """Bad input, simulated disk full and evasion, against the app in this process over the same model."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import build_state

    cfg = settings.model_copy(
        update={
            "database_url": f"sqlite:///{work_dir / 'inproc.db'}",
            "model_poll_seconds": 0,
            "secret_key": "reliability",
        }
    )
    state = build_state(cfg)
    with TestClient(create_app(cfg, state=state), raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 180
        while client.get("/readyz").status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"in-process app not ready: {client.get('/readyz').json()}")
            time.sleep(0.1)
        keys = {
            role: {"Authorization": f"Bearer {create_key(cfg.resolved_database_url(), 'org-r', role)}"}
            for role in ("poster", "moderator")
        }
        bad = bad_input_table(client, keys["poster"])
        disk = [
            disk_full_in_process(client, state, keys["poster"], keys["moderator"], stage=stage)
            for stage in ("write", "commit")
        ]
        evasion = evasion_agreement(state.holder.pipeline, positive_test_texts())
    return {"bad_input": bad, "disk_full": disk, "evasion": evasion}


def collect(work_dir: Path, *, steady_s: float = 60.0) -> dict[str, Any]:
    settings, model = _model_settings(work_dir)
    figures: dict[str, Any] = {
        "model": model,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    figures["in_process"] = in_process_checks(settings, work_dir)
    figures["faults"] = [
        model_fault(settings, work_dir / "faults", k) for k in ("corrupt", "missing", "no_alias")
    ]
    figures["kill_decisions"] = kill_during_decisions(settings, work_dir / "kill")
    figures["kill_screening"] = kill_during_screening(settings, work_dir / "kill")
    figures["load"] = load_test(settings, work_dir / "load", steady_s=steady_s)
    return figures


def _f(x: float, spec: str = ".0f") -> str:
    return "–" if x != x else format(x, spec)  # NaN -> dash


def render_markdown(r: dict[str, Any]) -> str:
    ip = r["in_process"]
    load = r["load"]
    steady, burst, rec = (load["phases"][k] for k in ("steady", "burst", "recovery"))
    kd, ks = r["kill_decisions"], r["kill_screening"]
    ev = ip["evasion"]
    disk = ip["disk_full"]
    lines = [
        "# Reliability: bad input, overload, faults, SIGKILL, evasion",
        "",
        f"Generated by `carescreen reliability` on {r['machine']['cpus']} CPU cores (Python "
        f"{r['machine']['python']}), over the {r['model']}. All traffic is loopback; every server is a real "
        "`carescreen serve` subprocess on SQLite unless marked in-process. The same functions "
        "(`evaluation/reliability.py`) back the tests in `tests/reliability/`.",
        "",
        "## Load held (open loop, real care-corpus posts, `/v1/screen`)",
        "",
        f"In-flight bound `CARESCREEN_MAX_IN_FLIGHT={load['max_in_flight']}`; latency counts from the scheduled "
        "send time. Start to ready: "
        f"{load['start_to_ready_s']} s.",
        "",
        "| phase | offered | requests | 200 | 503 shed (with Retry-After) | other errors | p50 ms | p99 ms | "
        "shed answer p50 / max ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in (steady, burst, rec):
        other = p["sent"] - p["ok"] - p["shed"]
        lines.append(
            f"| {p['name']} | {p['rps']:.0f} req/s × {p['seconds']:.0f} s | {p['sent']} | {p['ok']} | "
            f"{p['shed']} ({p['shed_with_retry_after']}) | {other} | {_f(p['p50_ms'])} | {_f(p['p99_ms'])} | "
            f"{_f(p['shed_p50_ms'])} / {_f(p['shed_max_ms'])} |"
        )
    lines += [
        "",
        f"- Process alive after the burst: **{load['alive_after_burst']}**; at the end: **{load['alive_at_end']}**. "
        "500s in any phase: "
        f"**{steady['server_errors'] + burst['server_errors'] + rec['server_errors']}**.",
        "",
        "## SIGKILL",
        "",
        "| scenario | acknowledged (200) before the kill | lost after restart | changed / inconsistent | "
        "`carescreen audit verify` |",
        "|---|---|---|---|---|",
        f"| {kd['moderators']} moderators claiming + deciding {kd['items']} reported posts | {kd['acknowledged']} "
        f"decisions | {len(kd['lost'])} | {len(kd['inconsistent'])} | exit {kd['audit']['rc']}, "
        f"{kd['audit'].get('entries')} entries |",
        f"| 8 threads screening posts | {ks['acknowledged']} posts | {len(ks['lost'])} | {len(ks['changed'])} | "
        f"exit {ks['audit']['rc']}, {ks['audit'].get('entries')} entries |",
        "",
        "## Faults injected",
        "",
        "| fault | `/readyz` | model error reported | `/v1/screen` while broken | reload while broken | "
        "after repair: reload / `/readyz` / screen |",
        "|---|---|---|---|---|---|",
    ]
    names = {
        "corrupt": "model weights corrupt at start (ONNX + .pt overwritten)",
        "missing": "model weights missing at start",
        "no_alias": "registry holds no model for the alias",
    }
    for f in r["faults"]:
        err = (f["readyz_model_error"] or "").replace("|", "/")[:80]
        lines.append(
            f"| {names[f['fault']]} | {f['readyz_status']} | `{err}` | {f['screen_statuses']} | "
            f"{f['reload_while_broken']} | {f['reload_after_repair']} / {f['readyz_after_repair']} / "
            f"{f['screen_after_repair']} |"
        )
    lines += [
        *(
            f'| SQLite "database or disk is full" on every {d["stage"]} (in-process) | {d["readyz_full"]} | – | '
            f"screen {d['screen_full']}, decision {d['decision_full']} (item stays "
            f"{d['review_after_failed_decision']}) | – | screen {d['screen_recovered']} "
            f"({d['screen_recovered_decision']}), decision {d['decision_recovered']} |"
            for d in disk
        ),
        "",
        "Database unavailable mid-request, the PII engine raising and the classifier raising are injected "
        "in-process by `tests/service/test_fail_closed.py` (each holds the post or answers 503; never `allow`).",
        "",
        "## Bad input (`/v1/screen`, in-process)",
        "",
        "| input | status | decision | ms |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {b['input']} | {b['status']} | {b['decision'] or ''} | {b['ms']:.0f} |" for b in ip["bad_input"]
    ]
    lines += [
        "",
        "## Evasion",
        "",
        f"{ev['posts']} test-split posts with a positive label ({ev['plain_flagged']} flagged by the model in plain "
        "form). Agreement = the variant's flags equal the plain post's flags.",
        "",
        "| variant | agreement | when the plain post was flagged | without normalisation | folded text identical "
        "to the plain post's | example (· = zero-width space) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, v in ev["by_variant"].items():
        ex = v["example"].replace("|", "/").replace("\u200b", "·")
        lines.append(
            f"| {kind} | {v['agreement']:.1%} | {_f(v['agreement_when_plain_flagged'] * 100, '.1f')}% | "
            f"{v['agreement_without_normalisation']:.1%} | {v['folded_identical']}/{v['n']} | "
            f"`{ex[:70]}…` |"
        )
    lines += [
        "",
        f'Overall agreement: **{ev["agreement"]:.1%}**. "Without normalisation" is the classifier reading the '
        "variant as written. Where the folded text is identical to the plain post's but the flags still differ, "
        "the difference comes from the PII stage, which folds conservatively (digits inside mostly-digit words are "
        "kept, so codes stay intact) and so can find different identifiers in a heavily disguised post; a "
        'spaced-out word next to a one-letter word ("i c o m p l a i n") is joined into one word.',
        "",
    ]
    return "\n".join(lines)


def run(output_dir: Path, *, steady_s: float = 60.0) -> dict[str, Any]:
    """Measure everything and write ``reliability.md`` into ``output_dir``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="carescreen-reliability-") as tmp:
        figures = collect(Path(tmp), steady_s=steady_s)
    md = render_markdown(figures)
    (output_dir / "reliability.md").write_text(md)
    return figures
