"""Fixtures of the service tests: a service with a webhook receiver registered (issue 18)."""

from __future__ import annotations

import pytest

from tests.helpers import auth, wait_ready
from tests.webhook_receiver import Receiver

FAST = {
    "webhook_poll_seconds": 0.05,
    "webhook_retry_base_seconds": 0.1,
    "webhook_retry_max_seconds": 0.4,
    "sla_check_seconds": 0.1,
}
ALL_EVENTS = [
    "post.published",
    "post.rejected",
    "post.escalated",
    "review.sla_breached",
    "appeal.decided",
    "model.promoted",
]


@pytest.fixture
def hooks(settings, classifier, redactor):  # type: ignore[no-untyped-def]
    """A service with fast retry timings, a receiver, and org-a's keys, with the receiver registered."""
    from types import SimpleNamespace

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import build_state
    from storage import keys

    fast = settings.model_copy(update=FAST)
    state = build_state(fast, classifier_loader=lambda: classifier, analyzer_factory=lambda: redactor)
    receiver = Receiver()
    with TestClient(create_app(fast, state=state)) as c:
        wait_ready(c)

        def key(role: str, org: str = "org-a") -> dict[str, str]:
            with state.require_db().session() as s:
                return auth(keys.create_api_key(s, org=org, role=role)[1])

        admin = key("admin")
        made = c.post("/v1/admin/webhooks", json={"url": receiver.url, "events": ALL_EVENTS}, headers=admin)
        assert made.status_code == 201, made.text
        yield SimpleNamespace(
            client=c,
            state=state,
            receiver=receiver,
            key=key,
            admin=admin,
            poster=key("poster"),
            webhook=made.json(),
        )
    receiver.stop()
