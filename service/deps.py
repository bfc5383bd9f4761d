"""FastAPI dependencies (``Annotated`` style): state, the database session, the caller and their role."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
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


#: Declares the API key in the OpenAPI schema (``components.securitySchemes.HTTPBearer``, the lock on each
#: authenticated route). ``auto_error=False``: the 401 below, with its ``WWW-Authenticate``, stays ours.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API key, sent as `Authorization: Bearer <key>`; its role decides which routes it may call.",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _bearer(credentials: HTTPAuthorizationCredentials | None) -> str:
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or malformed bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token


def authenticate_token(state: AppState, token: str) -> Principal:
    """Resolve a bearer key on every request (one indexed lookup), so a revoked key stops working at once."""
    try:
        with db_or_503(state).read_session() as s:
            key = keys.authenticate(s, plaintext=token)
            principal = Principal(key.id, key.org, key.role) if key else None
            stale = key is not None and keys.needs_touch(key)
        if principal is not None and stale:
            _touch(state, principal.key_id)
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


def _touch(state: AppState, key_id: int) -> None:
    """``last_used_at``, at most once a minute per key; never fails the request it rides on."""
    try:
        with db_or_503(state).session() as s:
            keys.touch(s, key_id=key_id)
    except Exception as exc:
        log.warning("could not record key use: %s", type(exc).__name__)


def _rate_limited(state: AppState, principal: Principal) -> Principal:
    allowed, retry = state.limiter.allow(principal.key_id)
    if not allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "rate limit exceeded for this key",
            headers={"Retry-After": str(max(1, int(retry + 0.999)))},
        )
    return principal


async def get_principal(credentials: BearerDep, state: StateDep) -> Principal:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(authenticate_token, state, _bearer(credentials))


#: The roles each ``require_roles`` dependency admits; service/docs.py writes them into the OpenAPI description.
ROLES_OF: dict[Callable[..., Any], tuple[str, ...]] = {}


def require_roles(*roles: str) -> Callable[..., Any]:
    async def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role!r} may not call this route")
        return principal

    ROLES_OF[dependency] = roles
    return dependency


Poster = Annotated[Principal, Depends(require_roles("poster"))]
Moderator = Annotated[Principal, Depends(require_roles("moderator", "safeguarding_lead", "admin"))]
Lead = Annotated[Principal, Depends(require_roles("safeguarding_lead"))]
LeadOrAdmin = Annotated[Principal, Depends(require_roles("safeguarding_lead", "admin"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
#: Culture evidence reports (issue 21): the lead, admins and read-only ``manager`` keys.
CultureReader = Annotated[Principal, Depends(require_roles("safeguarding_lead", "admin", "manager"))]
