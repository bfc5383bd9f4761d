"""Fault evidence: a broken model store, malformed or unusual request bodies, and a full disk. In each case the
service must stay closed (503, never an allow, never a 200 for something not stored) and recover once repaired."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

from carescreen.config import Settings
from evaluation.reliability.harness import create_key, running, server_env


def _bundle_dir(settings: Settings) -> tuple[Path, str]:
    """The champion's bundle (downloaded into ``settings.var_dir`` if needed) and its version."""
    from storage import model_store as registry

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
    from storage import model_store as registry

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

    from storage import model_store as registry

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
