"""Observability: Prometheus metrics, request ids and structured (JSON) logs. One room for all of it.

* ``ObservabilityMiddleware`` (pure ASGI, the outermost middleware): accepts or makes the request id, echoes
  it in ``X-Request-ID``, times the request, counts it per route *template* (``/v1/reviews/{review_id}``,
  never the raw path) and status, and writes the one access line (method, route, status, duration, request
  id; never the query string, headers or body).
* ``GET /metrics`` needs an admin key (any organisation); with ``metrics_port`` set the same registry is also
  served without authentication on ``metrics_host:metrics_port`` (a separate listener for the scraper).
* Counters and histograms are process-wide and observed by small hooks where things happen (screening
  stored, micro-batch formed, webhook delivered or failed, SLA breach raised). Queue depth, oldest pending
  age, overdue items, the in-flight count and the served model are read at scrape time (``ServiceCollector``).

One process, one registry: each process exposes its own numbers. With ``carescreen serve --workers N`` worker
*i* serves its metrics listener on ``metrics_port + i`` (``service.workers``); ``GET /metrics`` on the main port
shows whichever worker answered (prometheus_client's multiprocess mode is not wired up).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.policy import DECISIONS
from models.taxonomy import CATEGORIES
from service import logs

if TYPE_CHECKING:
    from fastapi import FastAPI

    from service.state import AppState

log = logging.getLogger(__name__)
access_log = logging.getLogger(logs.ACCESS_LOGGER)

disable_created_metrics()  # no ``*_created`` series: half the scrape, no information a dashboard uses

# --- metrics (process-wide; each app's registry exposes them) ------------------------------------------------

HTTP_REQUESTS = Counter(
    "carescreen_http_requests",
    "HTTP requests by method, route template and status code.",
    ["method", "route", "status"],
    registry=None,
)
HTTP_DURATION = Histogram(
    "carescreen_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)
DECISIONS_TOTAL = Counter(
    "carescreen_screening_decisions", "Screenings stored, by decision.", ["decision"], registry=None
)
FLAGS_TOTAL = Counter(
    "carescreen_screening_flags", "Flags on stored screenings, by category.", ["category"], registry=None
)
SLA_BREACHES = Counter(
    "carescreen_review_sla_breaches",
    "review.sla_breached events raised by this process (each breach is raised once, by one replica).",
    registry=None,
)
BATCH_SIZE = Histogram(
    "carescreen_batch_size",
    "Posts per micro-batch formed for one forward pass.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
    registry=None,
)
WEBHOOK_LAG = Histogram(
    "carescreen_webhook_delivery_lag_seconds",
    "Seconds from an event's creation to its successful delivery (retries included).",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
    registry=None,
)
WEBHOOK_FAILURES = Counter(
    "carescreen_webhook_delivery_failures",
    "Failed delivery attempts by reason: http_4xx, http_5xx (...), timeout, network, refused_destination.",
    ["reason"],
    registry=None,
)
SHARED_METRICS = (
    HTTP_REQUESTS,
    HTTP_DURATION,
    DECISIONS_TOTAL,
    FLAGS_TOTAL,
    SLA_BREACHES,
    BATCH_SIZE,
    WEBHOOK_LAG,
    WEBHOOK_FAILURES,
)
for _d in DECISIONS:  # every series exists from the start (0), so rates and alerts need no absent() dance
    DECISIONS_TOTAL.labels(_d)
for _c in CATEGORIES:
    FLAGS_TOTAL.labels(_c)


def count_screenings(answers: Iterable[Any]) -> None:
    """Hook: screenings committed (``service.screening.store_many``); ``answers`` are ``ScreenResponse``s."""
    for a in answers:
        DECISIONS_TOTAL.labels(a.decision).inc()
        for flag in a.flags:
            FLAGS_TOTAL.labels(flag if flag in CATEGORIES else "other").inc()


def webhook_delivered(event_created_at: datetime) -> None:
    """Hook: a delivery got a 2xx (``service.webhooks.DeliveryWorker._send``)."""
    created = event_created_at if event_created_at.tzinfo else event_created_at.replace(tzinfo=UTC)
    WEBHOOK_LAG.observe(max(0.0, (datetime.now(UTC) - created).total_seconds()))


def webhook_failed(reason: str) -> None:
    """Hook: a delivery attempt failed; ``reason`` is a class (``http_5xx``, ``timeout``...), never a URL."""
    WEBHOOK_FAILURES.labels(reason).inc()


def http_status_class(status: int) -> str:
    return f"http_{status // 100}xx"


class ServiceCollector(Collector):
    """Read at scrape time: the served model, requests in flight, and the review queue from the database (one
    aggregate query, ``storage.reviews.queue_gauges``). A database outage leaves the queue gauges out of the
    scrape instead of failing it."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        pipeline = self.state.holder.pipeline
        if pipeline is not None:
            info = InfoMetricFamily("carescreen_model", "The model and policy being served.")
            info.add_metric(
                [], {"model_version": pipeline.classifier.version, "policy_version": pipeline.policy.version}
            )
            yield info
        yield GaugeMetricFamily(
            "carescreen_screen_in_flight", "Screening requests in flight.", value=self.state.in_flight
        )
        try:
            gauges = self._queue()
        except Exception as exc:
            log.warning("metrics: queue gauges unavailable (%s)", type(exc).__name__)
            return
        depth = GaugeMetricFamily(
            "carescreen_review_queue_depth", "Pending review items by priority.", labels=["priority"]
        )
        oldest = GaugeMetricFamily(
            "carescreen_review_queue_oldest_pending_seconds",
            "Age of the oldest pending review item by priority (0 when none).",
            labels=["priority"],
        )
        overdue = GaugeMetricFamily(
            "carescreen_review_sla_overdue",
            "Pending review items past their SLA due time with no action yet, by priority.",
            labels=["priority"],
        )
        for priority, g in sorted(gauges.items()):
            depth.add_metric([priority], g.pending)
            oldest.add_metric([priority], g.oldest_pending_seconds)
            overdue.add_metric([priority], g.overdue)
        yield from (depth, oldest, overdue)

    def _queue(self) -> dict[str, Any]:
        from storage import reviews

        with self.state.require_db().read_session() as s:
            return reviews.queue_gauges(s)


def build_registry(state: AppState) -> CollectorRegistry:
    """This app's registry: the process-wide metrics, the scrape-time collector, and process/GC basics."""
    registry = CollectorRegistry()
    for metric in SHARED_METRICS:
        registry.register(metric)
    registry.register(ServiceCollector(state))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


# --- request ids and the access line -------------------------------------------------------------------------

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope, root_path: str | None = None) -> str:
    """The matched route's template (``/v1/reviews/{review_id}``), never the raw path (ids would leak into the
    labels and explode their number). A request answered before routing (the guard's 413 or 503), or by a
    mount, is matched here (``root_path``: as it was before a mount changed it); one that matches no route is
    ``<unmatched>``."""
    fastapi_scope = scope.get("fastapi")
    effective = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    path = getattr(effective, "path_format", None) or getattr(scope.get("route"), "path_format", None)
    if path:
        return str(path)
    if root_path is not None and root_path != scope.get("root_path", ""):
        scope = {**scope, "root_path": root_path}
    return _match_template(scope)


def _match_template(scope: Scope) -> str:
    from starlette.routing import Match

    partial = None
    for route in _flat_routes(getattr(scope.get("app"), "router", None)):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(route.path_format)
        if match is Match.PARTIAL and partial is None:
            partial = str(route.path_format)
    return partial or "<unmatched>"


def _flat_routes(router: Any) -> Iterator[Any]:
    for route in getattr(router, "routes", ()):
        if hasattr(route, "effective_route_contexts"):  # FastAPI's included routers, with their prefixes
            yield from route.effective_route_contexts()
        elif hasattr(route, "path_format"):
            yield route


class ObservabilityMiddleware:
    """Request id, request metrics and the access line. Pure ASGI (no BaseHTTPMiddleware task hop); added
    last, so it is outermost and also sees what the guard rejects. On ``lifespan`` it runs the separate,
    unauthenticated metrics listener when ``metrics_port`` is set."""

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry) -> None:
        self.app = app
        self.registry = registry
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = None
        for name, value in scope.get("headers") or ():
            if name == logs.REQUEST_ID_HEADER:
                raw = value
                break
        request_id = logs.accepted_request_id(raw)
        # Not reset afterwards on purpose: each request runs in its own task (uvicorn, TestClient), and the
        # app's unhandled-exception handler, outside this middleware, logs with it too.
        logs.request_id_var.set(request_id)
        header = (logs.REQUEST_ID_HEADER, request_id.encode("ascii"))
        # An exception escaping the app is counted as 500; the client gets the app's 503 for it, sent from
        # outside this middleware (so that one answer also lacks X-Request-ID; its log line has the id).
        status = 500
        root_path = scope.get("root_path", "")  # a mount changes it in place
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - start, root_path)

    def _record(self, scope: Scope, status: int, seconds: float, root_path: str) -> None:
        method = scope["method"] if scope["method"] in HTTP_METHODS else "OTHER"  # a bounded label set
        route = route_template(scope, root_path)
        key = (method, route, str(status))
        children = self._children.get(key)
        if children is None:
            children = HTTP_REQUESTS.labels(*key), HTTP_DURATION.labels(*key)
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if access_log.isEnabledFor(logging.INFO):
            ms = round(seconds * 1000, 2)
            access_log.info(
                "%s %s %s %.2fms",
                method,
                route,
                status,
                ms,
                extra={"method": method, "route": route, "status": status, "duration_ms": ms},
            )

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = scope["app"].state.cs.settings
        server = None
        if settings.metrics_port is not None:
            server, _ = start_http_server(
                settings.metrics_port, addr=settings.metrics_host, registry=self.registry
            )
            log.warning(
                "metrics served without authentication on %s:%s", settings.metrics_host, settings.metrics_port
            )
        try:
            await self.app(scope, receive, send)
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()


def install(app: FastAPI, state: AppState) -> None:
    """Wire observability into an app: the outermost middleware and ``GET /metrics`` (admin keys only)."""
    from fastapi import APIRouter, Depends
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    from service.deps import require_roles  # here, not at the top: service.runtime imports this module

    registry = build_registry(state)
    app.add_middleware(ObservabilityMiddleware, registry=registry)
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics(_: object = Depends(require_roles("admin"))) -> Response:
        body = await run_in_threadpool(generate_latest, registry)  # the collector reads the database
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)


# --- logging ------------------------------------------------------------------------------------------------
