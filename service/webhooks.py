"""Outbound webhooks: where they may point, how they are signed, and the delivery worker each API process runs.

Events come from the transactional outbox (``storage.outbox``): a decision and its event commit together, so
a crash between them loses neither. Workers lease due deliveries (``SKIP LOCKED`` on PostgreSQL), send them
signed per the Standard Webhooks specification, and retry failures with exponential backoff and jitter for
the retry window before dead-lettering them. Delivery is at least once: a worker killed after sending but
before recording sends again, with the same ``webhook-id``, so receivers de-duplicate by it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import random
import secrets
import socket
import time
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.exc import IntegrityError
from standardwebhooks.webhooks import Webhook
from starlette.concurrency import run_in_threadpool

from service import observability
from storage import alerts, outbox
from storage.crypto import Vault
from storage.tables import WebhookEndpoint, utcnow

if TYPE_CHECKING:
    from service.state import AppState

log = logging.getLogger(__name__)

MAX_URL_CHARS = 2_000
CLAIM_BATCH = 50
USER_AGENT = "CareScreen-Webhooks/1"


class UnsafeDestination(ValueError):
    """A webhook URL that is malformed or points where the service must not send (its own network)."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_url_form(url: str) -> str:
    """http(s), a host, no credentials, at most 2,000 characters (the 422 checks; no network)."""
    if len(url) > MAX_URL_CHARS:
        raise UnsafeDestination(f"the URL is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeDestination("the URL cannot be parsed") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeDestination("the URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeDestination("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeDestination("the URL must not carry credentials; the signature authenticates the sender")
    if port == 0:
        raise UnsafeDestination("the URL's port is invalid")
    return url


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # not global: loopback, private, link-local (cloud metadata), shared, reserved, unspecified
    return not ip.is_global or ip.is_multicast


def check_addresses(infos: list[Any], *, allow_private: bool) -> None:
    if not infos:
        raise UnsafeDestination("the URL's host does not resolve")
    if allow_private:
        return
    bad = sorted({str(i[4][0]) for i in infos if _refused(str(i[4][0]))})
    if bad:
        raise UnsafeDestination(
            f"the URL resolves to a loopback, private or link-local address ({bad[0]}); "
            "webhooks may only reach public addresses"
        )


def check_destination(url: str, *, allow_private: bool) -> None:
    """Registration-time check: the form, then every address the host resolves to."""
    check_url_form(url)
    host, port = _host_port(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeDestination("the URL's host does not resolve") from exc
    check_addresses(list(infos), allow_private=allow_private)


async def check_destination_async(url: str, *, allow_private: bool) -> None:
    """The same check again at delivery time: a name that resolved to a public address at registration may
    point inside the network now."""
    check_url_form(url)
    host, port = _host_port(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeDestination("the URL's host does not resolve") from exc
    check_addresses(list(infos), allow_private=allow_private)


def signature_header(endpoint: WebhookEndpoint, vault: Vault, *, msg_id: str, at: datetime, body: str) -> str:
    """``v1,<base64 HMAC-SHA256 of id.timestamp.body>``; during a rotation's grace period the previous secret's
    signature follows, space-separated, so receivers still holding the old secret keep verifying."""
    secrets_ = [vault.decrypt(endpoint.secret_enc)]
    if endpoint.previous_secret_enc and endpoint.previous_valid_until and endpoint.previous_valid_until > at:
        secrets_.append(vault.decrypt(endpoint.previous_secret_enc))
    return " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets_)


def event_body(event: outbox.OutboxEvent) -> str:
    """The delivered JSON: ``{"type", "timestamp", "data"}`` (the Standard Webhooks payload shape)."""
    return json.dumps(
        {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.payload},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff with "equal jitter": half the doubled delay, plus up to the other half at random,
    so receivers recovering from an outage are not hit by every sender's retries at the same instant."""
    delay = min(cap, base * (2 ** min(attempts, 30)))
    return delay / 2 + random.uniform(0, delay / 2)


class DeliveryWorker:
    """Claims, signs, sends and records deliveries; also raises ``review.sla_breached``. One per process."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._last_sla = 0.0

    def wake(self) -> None:
        """Deliver now rather than at the next poll (safe from any thread)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        settings = self.state.settings
        timeout = httpx.Timeout(settings.webhook_timeout_seconds)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=settings.webhook_poll_seconds)
                self._wake.clear()
                try:
                    await self.run_once(client)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database may be down: keep the loop, try again next poll
                    log.warning("webhook delivery round failed: %s", type(exc).__name__)

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """Deliver everything due (in rounds, so a post's next event follows its previous one at once) and
        check SLAs when due. Returns the number of attempts made."""
        if self.state.db is None or self.state.db_error:
            return 0
        made = 0
        while True:
            claimed = await run_in_threadpool(self._claim)
            if not claimed:
                break
            attempts = await asyncio.gather(*(self._send(client, c) for c in claimed))
            await run_in_threadpool(self._record, list(attempts))
            made += len(attempts)
        now = time.monotonic()
        if now - self._last_sla >= self.state.settings.sla_check_seconds:
            self._last_sla = now
            if await run_in_threadpool(self._sla):
                return made + await self.run_once(client)
        return made

    def _claim(self) -> list[outbox.Claimed]:
        db = self.state.require_db()
        with db.read_session() as s:
            if not outbox.has_due(s):
                return []
        lease = timedelta(seconds=self.state.settings.webhook_timeout_seconds * 3)
        with db.session() as s:
            return outbox.claim_due(s, owner=self.owner, lease=lease, limit=CLAIM_BATCH)

    def _record(self, attempts: list[outbox.Attempt]) -> None:
        with self.state.require_db().session() as s:
            outbox.record_attempts(s, owner=self.owner, attempts=attempts)

    def _sla(self) -> int:
        db = self.state.require_db()
        with db.read_session() as s:
            if not alerts.has_unnotified_breach(s):
                return 0
        with db.session() as s:
            raised = alerts.emit_sla_breaches(s)
        observability.SLA_BREACHES.inc(raised)  # committed
        return raised

    async def _send(self, client: httpx.AsyncClient, c: outbox.Claimed) -> outbox.Attempt:
        settings = self.state.settings
        status: int | None = None
        error: str | None = None
        try:
            await check_destination_async(c.endpoint.url, allow_private=settings.webhook_allow_private)
            at = utcnow()
            body = event_body(c.event)
            headers = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": c.event.id,
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": signature_header(
                    c.endpoint, self.state.vault, msg_id=c.event.id, at=at, body=body
                ),
            }
            response = await client.post(c.endpoint.url, content=body.encode("utf-8"), headers=headers)
            status = response.status_code
            if 200 <= status < 300:
                observability.webhook_delivered(c.event.created_at)
                return outbox.Attempt(c.delivery_id, True, status, None, None)
            error = f"HTTP {status}"
            observability.webhook_failed(observability.http_status_class(status))
        except UnsafeDestination as exc:
            error = str(exc)
            observability.webhook_failed("refused_destination")
        except httpx.HTTPError as exc:
            error = type(exc).__name__
            observability.webhook_failed("timeout" if isinstance(exc, httpx.TimeoutException) else "network")
        retry_at = utcnow() + timedelta(
            seconds=backoff_seconds(
                c.attempts, base=settings.webhook_retry_base_seconds, cap=settings.webhook_retry_max_seconds
            )
        )
        if retry_at > c.window_start + timedelta(hours=settings.webhook_retry_hours):
            return outbox.Attempt(c.delivery_id, False, status, error, None)  # dead-lettered
        return outbox.Attempt(c.delivery_id, False, status, error, retry_at)


def emit_model_promoted(state: AppState) -> None:
    """``model.promoted`` once per champion version, whichever replica notices it first (the event id is
    derived from the version, so the others' inserts conflict and are dropped)."""
    pipeline = state.holder.pipeline
    if pipeline is None or state.db is None:
        return
    version = pipeline.classifier.version
    event_id = "evt_model_" + hashlib.sha256(version.encode()).hexdigest()[:32]
    data = {"model_version": version, "policy_version": pipeline.policy.version}
    try:
        with state.db.session() as s:
            if outbox.event_exists(s, event_id=event_id):
                return
            outbox.emit(
                s,
                org=outbox.SERVICE_WIDE,
                events=[outbox.NewEvent("model.promoted", data, post_id=None, id=event_id)],
            )
    except IntegrityError:
        return
    except Exception as exc:
        log.warning("could not record model.promoted: %s", type(exc).__name__)
        return
    log.warning("serving model %s (model.promoted emitted)", version)
