"""The one way evaluation code runs a real ``carescreen serve``: environment, API keys, the process itself.

The reliability checks, their tests and ``carescreen bench`` all start servers through here, so a change to how
the service is launched or judged ready is made once.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from carescreen.config import PROJECT_ROOT, Settings


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: The secret of isolated subprocess servers (and of the keys written for them).
RELIABILITY_SECRET = "reliability-secret"


def server_env(
    settings: Settings, database_url: str, *, isolate: bool = True, **overrides: str
) -> dict[str, str]:
    """Environment for a subprocess server over ``settings``' model store and its own database.

    ``isolate`` drops the caller's ``CARESCREEN_*`` variables and pins the secret, so reliability figures do not
    depend on who runs them; the bench passes ``isolate=False`` because it measures the configuration (ONNX
    variant, threads, batching) it is run with.
    """
    env = {k: v for k, v in os.environ.items() if not (isolate and k.startswith("CARESCREEN_"))}
    env.update(
        {
            "CARESCREEN_VAR_DIR": str(settings.var_dir),
            "CARESCREEN_MLFLOW_TRACKING_URI": settings.resolved_tracking_uri(),
            "CARESCREEN_MLFLOW_ARTIFACT_ROOT": str(settings.mlflow_artifact_root),
            "CARESCREEN_DATABASE_URL": database_url,
            "CARESCREEN_MODEL_POLL_SECONDS": "0",
            "CARESCREEN_RATE_LIMIT_PER_MINUTE": "1000000",
        }
    )
    if isolate:
        env.update({"CARESCREEN_SECRET_KEY": RELIABILITY_SECRET, "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


def create_key(database_url: str, org: str, role: str, *, isolate: bool = True) -> str:
    """An API key written straight into the database (what ``carescreen keys create`` does, without a process).

    Its audit entry is keyed with the secret the servers of ``server_env`` use (``isolate``), or this process's
    settings otherwise, so ``carescreen audit verify`` on that database still passes."""
    from storage import keys
    from storage.db import Database

    db = Database(database_url, secrets=[RELIABILITY_SECRET] if isolate else None)
    try:
        with db.session() as s:
            _, plaintext = keys.create_api_key(s, org=org, role=role)
        return plaintext
    finally:
        db.dispose()


class ServiceProcess:
    """``carescreen serve --no-bootstrap`` on a free loopback port; its output goes to ``log_path`` (or, when
    that is None, to this process's own stdout/stderr)."""

    def __init__(self, env: dict[str, str], log_path: Path | None) -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> ServiceProcess:
        cmd = [
            sys.executable,
            "-m",
            "carescreen.cli",
            "serve",
            "--no-bootstrap",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        self.started_at = time.perf_counter()
        if self.log_path is None:
            self.proc = subprocess.Popen(cmd, env=self.env, cwd=PROJECT_ROOT)
            return self
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, env=self.env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
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
        if self.log_path is None:
            return ""
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


@contextmanager
def running(env: dict[str, str], log_path: Path | None, *, ready: bool = True) -> Iterator[ServiceProcess]:
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
