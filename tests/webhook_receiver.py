"""A real HTTP webhook receiver on 127.0.0.1 for the tests: records every request, verifies Standard Webhooks
signatures with the secret the service published, and can fail (503) or go away entirely (connection refused)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.received: list[Received] = []
        self.failing = False
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                code = 503 if receiver.failing else 204
                if code == 204:
                    with receiver._lock:
                        receiver.received.append(
                            Received({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                        )
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Gone: connections are refused until ``start`` (same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self, type_: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if type_ is None or r.event["type"] == type_]

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [r for r in self.events() if predicate(r)]
            if got:
                return got
            time.sleep(0.02)
        raise AssertionError(
            f"no matching event within {timeout}s; got {[r.event['type'] for r in self.events()]}"
        )


def verify(secret: str, r: Received) -> dict[str, Any]:
    """What a receiver does: check the signature and the timestamp (raises WebhookVerificationError)."""
    return Webhook(secret).verify(r.body, r.headers)  # type: ignore[no-any-return]


__all__ = ["Received", "Receiver", "WebhookVerificationError", "verify"]
