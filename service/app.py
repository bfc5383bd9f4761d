"""The FastAPI application factory: routes, guards (size, depth, in-flight), security headers, lifespan."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carescreen.config import Settings, get_settings
from service import observability
from service.console import culture_routes, pages, report_routes, signin
from service.console import routes as console
from service.docs import install_docs
from service.routes import (
    admin,
    culture,
    health,
    keys,
    post_reports,
    posts,
    reports,
    reviews,
    screen,
    webhooks,
)
from service.screening import store_screened
from service.state import AppState, build_state
from service.webhooks import DeliveryWorker, emit_model_promoted
from service.workers import WORKER_HEADER

log = logging.getLogger(__name__)

MAX_JSON_DEPTH = 32
SCREEN_PATHS = ("/v1/screen", "/v1/screen/batch")


def _json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Nesting depth outside strings; a cheap scan that stops pathological bodies before json.loads."""
    depth = 0
    in_str = False
    escape = False
    for b in body:
        if in_str:
            if escape:
                escape = False
            elif b == 0x5C:
                escape = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif b in (0x5D, 0x7D):
            depth -= 1
    return False


_WORKER_HEADER = WORKER_HEADER.lower().encode()

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store",
}


class GuardMiddleware:
    """Pure ASGI guard in front of everything: body size and JSON depth limits, the in-flight bound on
    screening (shed with 503 + Retry-After instead of queuing without bound), security headers, and the
    answering process's pid (``X-CareScreen-Worker``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        st: AppState = scope["app"].state.cs
        limit = st.settings.max_body_bytes
        headers = dict(scope.get("headers") or [])

        async def reply(status: int, detail: str, extra: dict[str, str] | None = None) -> None:
            resp = JSONResponse(
                {"detail": detail},
                status_code=status,
                headers={**SECURITY_HEADERS, WORKER_HEADER: str(os.getpid()), **(extra or {})},
            )
            await resp(scope, receive, send)

        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    await reply(413, f"body larger than {limit} bytes")
                    return
            except ValueError:
                await reply(400, "invalid Content-Length")
                return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await reply(413, f"body larger than {limit} bytes")
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
            if _json_too_deep(body):
                await reply(422, "JSON nested too deeply")
                return
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = replay
        shed = scope["path"] in SCREEN_PATHS
        if shed:
            if st.in_flight >= st.settings.max_in_flight:
                await reply(503, "overloaded; retry shortly (do not publish meanwhile)", {"Retry-After": "1"})
                return
            st.in_flight += 1

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {k.lower() for k, _ in raw}
                for k, v in SECURITY_HEADERS.items():
                    if k.lower().encode() not in present:
                        raw.append((k.lower().encode(), v.encode()))
                raw.append((_WORKER_HEADER, str(os.getpid()).encode()))
                message["headers"] = raw
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if shed:
                st.in_flight -= 1


async def _poll_champion(state: AppState) -> None:
    """Pick up a newly promoted champion without a restart (and without failing a request)."""
    interval = state.settings.model_poll_seconds
    while interval > 0:
        await asyncio.sleep(interval)
        if state.loading:
            continue  # the start-up load in progress picks up the current champion itself
        try:
            current = await run_in_threadpool(state.holder.current_alias_version)
            if current and current != state.holder.model_version:
                log.warning("champion changed to %s; reloading", current)
                await run_in_threadpool(state.holder.reload)
                await run_in_threadpool(emit_model_promoted, state)
        except Exception:
            log.exception("champion poll failed (keeping the current model)")


async def _audit_checkpoints(state: AppState) -> None:
    """Sign each organisation's audit-chain head periodically (a checkpoint to export and keep elsewhere).

    With several worker processes only the first signs (its index survives restarts): the others would sign
    the same heads at the same moment, and two PostgreSQL transactions could both insert one."""
    from storage import audit

    if state.worker not in (None, 0):
        return

    def sign() -> int:
        with state.require_db().session() as s:
            return audit.checkpoint_all(s)

    while state.settings.audit_checkpoint_minutes > 0:
        await asyncio.sleep(state.settings.audit_checkpoint_minutes * 60)
        try:
            await run_in_threadpool(sign)
        except Exception as exc:  # the database may be down: try again next time
            log.warning("audit checkpoint failed: %s", type(exc).__name__)


async def _retry_database(state: AppState) -> None:
    while True:
        await asyncio.sleep(2.0)
        if state.db is None or state.db_error:
            await run_in_threadpool(state.connect_db)


def _document_string_details(app: FastAPI) -> None:
    """Make the schema say what a 422 really carries: a route's own ``HTTPException`` (e.g. "unknown category")
    has a string ``detail``, not FastAPI's validation-error list, so clients and fuzzers must accept either."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            model = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError", {})
            detail = model.get("properties", {}).get("detail")
            if detail is not None and "anyOf" not in detail:
                listed = {k: v for k, v in detail.items() if k != "title"}
                model["properties"]["detail"] = {"anyOf": [listed, {"type": "string"}], "title": "Detail"}
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, *, state: AppState | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        st: AppState = app.state.cs
        await run_in_threadpool(st.connect_db)
        st.batcher.start()

        async def load_models() -> None:
            st.loading = True
            try:
                await run_in_threadpool(st.holder.load)
            finally:
                st.loading = False
            if st.holder.readiness.ready:
                st.ready_at = asyncio.get_running_loop().time()
            await run_in_threadpool(emit_model_promoted, st)

        st.webhooks = DeliveryWorker(st)
        tasks = [
            asyncio.create_task(load_models()),
            asyncio.create_task(st.webhooks.run()),
            asyncio.create_task(_retry_database(st)),
            asyncio.create_task(_audit_checkpoints(st)),
            asyncio.create_task(_poll_champion(st)),
        ]
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            await st.batcher.stop()
            st.limiter.close()
            if st.db is not None:
                st.db.dispose()

    app = FastAPI(
        title="CareScreen",
        version="0.1.0",
        description="Screens posts on a peer network for social-care staff before they are published.",
        lifespan=lifespan,
        docs_url=None,  # service/docs.py serves /docs and /redoc from installed files (FastAPI's use a CDN)
        redoc_url=None,
    )
    app.state.cs = state = state or build_state(settings)
    # Wiring: each micro-batch is stored (one transaction per caller) before any of its answers is sent.
    state.batcher.finish = partial(store_screened, state)

    app.add_middleware(GuardMiddleware)
    observability.install(app, state)  # request ids, access line, metrics (outermost), GET /metrics
    _document_string_details(app)
    install_docs(app)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Fail closed and say so; the traceback goes to the log without the request body.
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        return JSONResponse(
            {"detail": "internal error; the post was not screened, do not publish"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.include_router(health.router)
    app.include_router(screen.router)
    app.include_router(post_reports.router)
    app.include_router(posts.router)
    app.include_router(admin.router)
    app.include_router(webhooks.router)
    app.include_router(keys.router)
    app.include_router(reviews.router)
    app.include_router(reports.router)
    app.include_router(culture.router)
    app.include_router(signin.router)
    app.include_router(console.router)
    app.include_router(report_routes.router)
    app.include_router(culture_routes.router)
    app.mount("/console/static", pages.static_files(), name="console-static")
    return app
