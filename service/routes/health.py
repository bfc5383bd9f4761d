"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no auth; says nothing about whether it can screen)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: StateDep) -> JSONResponse:
    """200 only when the model, the PII engine and the database all work; 503 (with what is wrong) otherwise."""
    r = state.holder.readiness
    if state.db is not None:
        state.connect_db()
    body = {
        "ready": r.ready,
        "model": r.model,
        "pii": r.pii,
        "database": r.database,
        "model_version": state.holder.model_version,
        "errors": dict(r.errors) | ({"database": state.db_error} if state.db_error else {}),
    }
    return JSONResponse(body, status_code=200 if r.ready else 503)
