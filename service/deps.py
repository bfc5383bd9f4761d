"""FastAPI dependencies (``Annotated`` style): state, the database session, the caller and their role."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.auth import Principal
from service.state import AppState, DatabaseUnavailable
from storage import keys
from storage.db import Database

log = logging.getLogger(__name__)


async def get_state(request: Request) -> AppState:
    # async: a plain attribute read must not cost a thread-pool hop on every request
    return request.app.state.cs  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(get_state)]


def db_or_503(state: AppState) -> Database:
    """The database, or a 503 the caller must treat as "nothing happened, retry" (one place for that answer)."""
    try:
        return state.require_db()
    except DatabaseUnavailable as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable", headers={"Retry-After": "5"}
        ) from exc


def get_session(state: StateDep) -> Iterator[Session]:
    """One transaction per request; the database being down, or the commit failing (e.g. disk full), is a 503
    (the caller must not publish, and a moderator must retry: nothing was stored)."""
    try:
        with db_or_503(state).session() as s:
            yield s
    except SQLAlchemyError as exc:
        log.error("database failure: %s", type(exc).__name__)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "could not store; nothing was saved, retry",
            headers={"Retry-After": "5"},
        ) from exc


# scope="function": commit before the response is sent. With the default (request) scope FastAPI exits the
# dependency after sending it, so a 200 could be acknowledged for a decision whose commit then failed or was
# cut short by a crash.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or malformed bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def authenticate_token(state: AppState, token: str) -> Principal:
    """Resolve a bearer key on every request (one indexed lookup), so a revoked key stops working at once."""
    try:
        with db_or_503(state).read_session() as s:
            key = keys.authenticate(s, plaintext=token)
            principal = Principal(key.id, key.org, key.role) if key else None
    except HTTPException:
        raise
    except Exception as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "authentication store unavailable",
            headers={"Retry-After": "5"},
        ) from exc
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid API key", headers={"WWW-Authenticate": "Bearer"}
        )
    return _rate_limited(state, principal)


def _rate_limited(state: AppState, principal: Principal) -> Principal:
    allowed, retry = state.limiter.allow(principal.key_id)
    if not allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "rate limit exceeded for this key",
            headers={"Retry-After": str(max(1, int(retry + 0.999)))},
        )
    return principal


async def get_principal(request: Request, state: StateDep) -> Principal:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(authenticate_token, state, _bearer(request))


def require_roles(*roles: str):  # type: ignore[no-untyped-def]
    async def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role!r} may not call this route")
        return principal

    return dependency


Poster = Annotated[Principal, Depends(require_roles("poster"))]
Moderator = Annotated[Principal, Depends(require_roles("moderator", "safeguarding_lead", "admin"))]
Lead = Annotated[Principal, Depends(require_roles("safeguarding_lead"))]
LeadOrAdmin = Annotated[Principal, Depends(require_roles("safeguarding_lead", "admin"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
