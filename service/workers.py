"""``carescreen serve --workers N``: N serving processes on one port, forked from a supervisor.

The supervisor (the process ``carescreen serve`` started) binds the listening socket, builds the app, loads what
the workers can share read-only (the modules, spaCy + Presidio, the language identifier), migrates the database
once, freezes its heap out of the cyclic GC (so the workers' collections do not write to the pages they share
with it) and forks the workers; they all accept on the inherited socket, and the kernel hands each connection
to one of them. Everything that owns threads, descriptors or connections is created in each worker, after the
fork, by the app's lifespan: the ONNX Runtime session (its thread pool) and tokenizer, the database engines and
pools, the micro-batcher, the webhook delivery worker (with the SLA check) and the champion poll.

A worker that exits is started again under the same index (after a growing pause when it keeps dying young);
SIGTERM or SIGINT to the supervisor stops every worker gracefully (uvicorn finishes the requests in flight),
then the supervisor exits; workers also stop when the supervisor dies (``PR_SET_PDEATHSIG``). A worker that
cannot load the model stays up and not ready: its ``/readyz`` answers 503 and it screens nothing (fail closed).
Every response names the process that answered (``X-CareScreen-Worker: <pid>``); ``worker_pids`` lists them.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from service.state import AppState

log = logging.getLogger(__name__)

#: The response header naming the process that answered (its pid), with one worker or many.
WORKER_HEADER = "X-CareScreen-Worker"
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
_WATCHED = STOP_SIGNALS | {signal.SIGCHLD}
#: How long workers have to finish their requests after SIGTERM before they are killed.
GRACE_SECONDS = 30.0
#: A worker that exits sooner than this after starting waits before its restart: 1, 2, 4... up to 30 s.
YOUNG_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


def bind_socket(host: str, port: int, *, backlog: int = 2048) -> socket.socket:
    """The listening socket every worker accepts on (bound once, here, before any fork)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def worker_pids(supervisor_pid: int) -> list[int]:
    """The pids of a supervisor's workers (its child processes), from ``/proc`` (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == supervisor_pid:
            found.append(int(entry.name))
    return sorted(found)


def preload(app: FastAPI) -> None:
    """What every worker needs, loaded once before the fork: the PII engine and language identifier, the
    modules the workers import on start (ONNX Runtime, tokenizers, MLflow's client, uvicorn's protocols), and
    the schema (migrated once here rather than raced by N workers)."""
    state: AppState = app.state.cs
    state.holder.load_pii()
    import mlflow.tracking  # noqa: F401  (the champion lookup: about 900 modules)
    import onnxruntime  # noqa: F401
    import tokenizers  # noqa: F401
    import uvicorn.lifespan.on
    import uvicorn.protocols.http.httptools_impl  # noqa: F401

    from storage.db import migrate

    try:
        migrate(state.settings.resolved_database_url())
    except Exception as exc:  # the database may be down: each worker retries on its own
        log.warning("migration before forking failed (%s); the workers will retry", type(exc).__name__)


@dataclass
class _Worker:
    index: int
    pid: int
    started: float


class Supervisor:
    """Forks ``count`` workers serving ``app`` on ``sock`` and keeps that many running until told to stop."""

    def __init__(
        self, app: FastAPI, sock: socket.socket, *, count: int, uvicorn_options: dict[str, Any]
    ) -> None:
        self.app = app
        self.sock = sock
        self.count = count
        self.uvicorn_options = uvicorn_options
        self.pid = os.getpid()
        self.workers: dict[int, _Worker] = {}  # by pid
        self._restart_at: dict[int, float] = {}  # index -> when to start it again
        self._failures: dict[int, int] = {}  # index -> consecutive young exits

    def run(self) -> int:
        """Start the workers, supervise them, stop them all on SIGTERM/SIGINT; the exit status."""
        signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
        if threading.active_count() > 1:
            log.warning("forking workers with %d threads running", threading.active_count())
        for index in range(self.count):
            self._spawn(index)
        try:
            while True:
                self._reap()
                self._restart_due()
                info = signal.sigtimedwait(_WATCHED, self._wait_seconds())
                if info is not None and info.si_signo in STOP_SIGNALS:
                    log.warning("signal %d: stopping %d worker(s)", info.si_signo, len(self.workers))
                    break
        finally:
            self._stop_all()
            self.sock.close()
        return 0

    def _wait_seconds(self) -> float:
        if not self._restart_at:
            return 1.0
        return max(0.01, min(1.0, min(self._restart_at.values()) - time.monotonic()))

    def _spawn(self, index: int) -> None:
        state: AppState = self.app.state.cs
        if state.settings.gc_freeze:
            gc.freeze()  # the heap as forked stays out of the workers' collections (and their page copies)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                code = self._serve(index)
            except SystemExit as exc:  # uvicorn's start-up failure
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("worker %d failed", index)
            finally:
                logging.shutdown()
                os._exit(code)
        self.workers[pid] = _Worker(index, pid, time.monotonic())
        log.warning("worker %d started (pid %d)", index, pid)

    def _serve(self, index: int) -> int:
        """In the forked worker: default signal handling, die with the supervisor, serve until told to stop."""
        import uvicorn

        signal.pthread_sigmask(signal.SIG_UNBLOCK, _WATCHED)
        for sig in _WATCHED:
            signal.signal(sig, signal.SIG_DFL)
        _die_with(self.pid)
        state: AppState = self.app.state.cs
        state.worker = index
        state.started_at = time.monotonic()
        if state.settings.metrics_port is not None:
            state.settings.metrics_port += index  # one unauthenticated metrics listener per worker
        server = uvicorn.Server(uvicorn.Config(self.app, **self.uvicorn_options))
        server.run(sockets=[self.sock])
        return 0 if server.started else 3

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            lived = time.monotonic() - worker.started
            failures = self._failures.get(worker.index, 0) + 1 if lived < YOUNG_SECONDS else 0
            self._failures[worker.index] = failures
            pause = min(MAX_BACKOFF_SECONDS, 2.0 ** (failures - 1)) if failures else 0.0
            log.error(
                "worker %d (pid %d) exited (%s) after %.0f s; starting it again in %.0f s",
                worker.index,
                pid,
                _describe(status),
                lived,
                pause,
            )
            self._restart_at[worker.index] = time.monotonic() + pause

    def _restart_due(self) -> None:
        now = time.monotonic()
        for index, when in sorted(self._restart_at.items()):
            if when <= now:
                del self._restart_at[index]
                self._spawn(index)

    def _stop_all(self) -> None:
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        while self.workers and time.monotonic() < deadline:
            signal.sigtimedwait({signal.SIGCHLD}, 0.2)
            self._drop_exited()
        for pid in list(self.workers):
            log.error("worker pid %d did not stop in %.0f s: killed", pid, GRACE_SECONDS)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self.workers.pop(pid, None)

    def _drop_exited(self) -> None:
        for pid in list(self.workers):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.workers.pop(pid, None)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _die_with(supervisor: int) -> None:
    """Ask the kernel to send this worker SIGTERM when the supervisor dies (Linux), so no worker outlives it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() != supervisor:  # it died before the request was made
        os._exit(0)


def in_child(task: Callable[[], int]) -> int:
    """``task()`` run in a forked process, its result the exit status: for work whose leftovers (an open
    SQLite connection, threads) must not be in the supervisor when it forks the workers."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = task()
        except BaseException:
            log.exception("child task failed")
        finally:
            logging.shutdown()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def serve(app: FastAPI, *, host: str, port: int, workers: int, uvicorn_options: dict[str, Any]) -> int:
    """Serve ``app`` from ``workers`` processes on ``host:port`` (the supervisor returns when stopped)."""
    sock = bind_socket(host, port)
    preload(app)
    log.warning(
        "serving on %s:%d with %d worker processes (supervisor pid %d)", host, port, workers, os.getpid()
    )
    return Supervisor(app, sock, count=workers, uvicorn_options=uvicorn_options).run()
