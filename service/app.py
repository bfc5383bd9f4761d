"""The FastAPI application factory: routes, guards (size, depth, in-flight), security headers, lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from carescreen.config import Settings, get_settings
from service.routes import admin, health, reports, reviews, screen
from service.state import AppState, build_state

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


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store",
}


async def _poll_champion(state: AppState) -> None:
    """Pick up a newly promoted champion without a restart (and without failing a request)."""
    interval = state.settings.model_poll_seconds
    while interval > 0:
        await asyncio.sleep(interval)
        try:
            current = await run_in_threadpool(state.holder.current_alias_version)
            if current and current != state.holder.model_version:
                log.info("champion changed to %s; reloading", current)
                await run_in_threadpool(state.holder.reload)
        except Exception:
            log.exception("champion poll failed (keeping the current model)")


async def _retry_database(state: AppState) -> None:
    while True:
        await asyncio.sleep(2.0)
        if state.db is None or state.db_error:
            await run_in_threadpool(state.connect_db)


def create_app(settings: Settings | None = None, *, state: AppState | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        st: AppState = app.state.cs
        await run_in_threadpool(st.connect_db)
        st.batcher.start()

        async def load_models() -> None:
            await run_in_threadpool(st.holder.load)
            if st.holder.readiness.ready:
                st.ready_at = asyncio.get_running_loop().time()

        tasks = [asyncio.create_task(load_models()), asyncio.create_task(_retry_database(st)),
                 asyncio.create_task(_poll_champion(st))]
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            await st.batcher.stop()
            if st.db is not None:
                st.db.dispose()

    app = FastAPI(
        title="CareScreen",
        version="0.1.0",
        description="Screens posts on a peer network for social-care staff before they are published.",
        lifespan=lifespan,
    )
    app.state.cs = state or build_state(settings)

    @app.middleware("http")
    async def guards(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        st: AppState = request.app.state.cs
        limit = st.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                return JSONResponse({"detail": "invalid Content-Length"}, status_code=400)
            if too_big:
                return JSONResponse({"detail": f"body larger than {limit} bytes"}, status_code=413)
        if request.method in ("POST", "PUT", "PATCH"):
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    return JSONResponse({"detail": f"body larger than {limit} bytes"}, status_code=413)
            if _json_too_deep(body):
                return JSONResponse({"detail": "JSON nested too deeply"}, status_code=422)

            async def receive() -> dict[str, object]:
                return {"type": "http.request", "body": body, "more_body": False}

            request = Request(request.scope, receive)
        shed = request.url.path in SCREEN_PATHS
        if shed:
            if st.in_flight >= st.settings.max_in_flight:
                return JSONResponse({"detail": "overloaded; retry shortly (do not publish meanwhile)"},
                                    status_code=503, headers={"Retry-After": "1"})
            st.in_flight += 1
        try:
            response = await call_next(request)
        finally:
            if shed:
                st.in_flight -= 1
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Fail closed and say so; the traceback goes to the log without the request body.
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error; the post was not screened, do not publish"},
                            status_code=503, headers={"Retry-After": "5"})

    app.include_router(health.router)
    app.include_router(screen.router)
    app.include_router(admin.router)
    app.include_router(reviews.router)
    app.include_router(reports.router)
    from service.console import routes as console

    app.include_router(console.router)
    app.mount("/console/static", console.static_files(), name="console-static")
    return app
