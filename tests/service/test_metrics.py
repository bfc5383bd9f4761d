"""Issue 19 §1: Prometheus metrics: who may scrape, route templates (never raw ids), decisions, queues, webhooks."""

from __future__ import annotations

import re
import socket
import time

import httpx
import pytest

from tests.helpers import auth, metric_samples, screen_ok, wait_ready


def test_metrics_need_an_admin_key(client, make_key):  # type: ignore[no-untyped-def]
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    for role in ("poster", "moderator", "safeguarding_lead"):
        assert client.get("/metrics", headers=auth(make_key("org-a", role))).status_code == 403
    for org in ("org-a", "org-b"):  # any organisation's admin
        r = client.get("/metrics", headers=auth(make_key(org, "admin")))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")


def test_metrics_after_traffic(client, make_key, app_state):  # type: ignore[no-untyped-def]
    poster, moderator, admin = (auth(make_key("org-a", r)) for r in ("poster", "moderator", "admin"))
    before = metric_samples(client.get("/metrics", headers=admin).text)
    held = screen_ok(client, poster, "She had a bruise on her arm this morning")
    screen_ok(client, poster, "Lovely singing this afternoon")
    rid = held["review"]["id"]
    assert client.get(f"/v1/reviews/{rid}", headers=moderator).status_code == 200
    assert client.get("/v1/reviews/no-such-review", headers=moderator).status_code == 404
    assert client.get("/nowhere/at/all").status_code == 404
    assert client.get("/console/static/console.css").status_code == 200

    text = client.get("/metrics", headers=admin).text
    after = metric_samples(text)
    assert rid not in text and "no-such-review" not in text and "/nowhere" not in text

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    route = "/v1/reviews/{review_id}"
    assert delta("carescreen_http_requests_total", method="GET", route=route, status="200") == 1
    assert delta("carescreen_http_requests_total", method="GET", route=route, status="404") == 1
    assert delta("carescreen_http_requests_total", method="POST", route="/v1/screen", status="200") == 2
    assert delta("carescreen_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert (
        delta("carescreen_http_requests_total", method="GET", route="/console/static/{path}", status="200")
        == 1
    )
    assert (
        delta(
            "carescreen_http_request_duration_seconds_count", method="POST", route="/v1/screen", status="200"
        )
        == 2
    )
    assert delta("carescreen_screening_decisions_total", decision=held["decision"]) == 1
    assert delta("carescreen_screening_decisions_total", decision="allow") == 1
    assert delta("carescreen_screening_flags_total", category="safeguarding") == 1
    assert delta("carescreen_batch_size_count") == 2
    priority = held["review"]["priority"]
    assert after[("carescreen_review_queue_depth", (("priority", priority),))] == 1
    assert after[("carescreen_review_queue_oldest_pending_seconds", (("priority", priority),))] >= 0
    assert after[("carescreen_review_sla_overdue", (("priority", priority),))] == 0
    from datetime import timedelta

    from storage.tables import ReviewItem, utcnow

    with app_state.require_db().session() as s:
        item = s.get(ReviewItem, rid)
        item.created_at = utcnow() - timedelta(hours=30)
        item.due_at = utcnow() - timedelta(hours=6)
    late = metric_samples(client.get("/metrics", headers=admin).text)
    assert late[("carescreen_review_sla_overdue", (("priority", priority),))] == 1
    assert late[("carescreen_review_queue_oldest_pending_seconds", (("priority", priority),))] >= 30 * 3600
    assert (
        "carescreen_model_info",
        (("model_version", "test-keywords/1"), ("policy_version", held["policy_version"])),
    ) in after
    for name in (
        "carescreen_screen_in_flight",
        "carescreen_review_sla_breaches_total",
        "carescreen_webhook_delivery_lag_seconds_count",
        "carescreen_http_request_duration_seconds_bucket",
    ):
        assert re.search(rf"^{name}\b", text, re.M), name
    assert "_created" not in text


def test_webhook_lag_and_failure_reasons(hooks):  # type: ignore[no-untyped-def]
    c, admin = hooks.client, hooks.admin
    before = metric_samples(c.get("/metrics", headers=admin).text)
    hooks.receiver.failing = True  # 503: one http_5xx failure, then delivered on a retry
    screen_ok(c, hooks.poster, "She had a bruise on her arm this morning")
    end = time.monotonic() + 10
    while time.monotonic() < end:
        now = metric_samples(c.get("/metrics", headers=admin).text)
        failures = now.get(("carescreen_webhook_delivery_failures_total", (("reason", "http_5xx"),)), 0.0)
        if failures > before.get(
            ("carescreen_webhook_delivery_failures_total", (("reason", "http_5xx"),)), 0.0
        ):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("no http_5xx failure counted")
    hooks.receiver.failing = False
    hooks.receiver.wait_for(lambda r: True)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        now = metric_samples(c.get("/metrics", headers=admin).text)
        lag = now.get(("carescreen_webhook_delivery_lag_seconds_count", ()), 0.0)
        if lag > before.get(("carescreen_webhook_delivery_lag_seconds_count", ()), 0.0):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("no delivery lag observed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_port_serves_without_auth(settings, classifier, redactor):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import build_state

    port = _free_port()
    own = settings.model_copy(update={"metrics_port": port})
    state = build_state(own, classifier_loader=lambda: classifier, analyzer_factory=lambda: redactor)
    with TestClient(create_app(own, state=state)) as c:
        wait_ready(c)
        r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert r.status_code == 200
        assert "carescreen_model_info" in r.text and "carescreen_review_queue_depth" in r.text
        assert c.get("/metrics").status_code == 401  # the API port still needs an admin key
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
