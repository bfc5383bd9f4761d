"""Issue 18: outbound events to a real HTTP receiver on 127.0.0.1, signed per Standard Webhooks; delivery through
outages (in order per post), dead letters and redelivery, secret rotation, URL safety; appeals end to end."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.helpers import decide
from tests.webhook_receiver import WebhookVerificationError, verify


def test_approval_publishes_the_corrected_text_in_a_signed_event(hooks) -> None:  # type: ignore[no-untyped-def]
    c, rx = hooks.client, hooks.receiver
    secret = hooks.webhook["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in c.get("/v1/admin/webhooks", headers=hooks.admin).json()[0]  # shown once only
    held = c.post(
        "/v1/screen",
        json={
            "text": "Mrs Hughes: the sluice was left by some idiot",
            "post_id": "p1",
            "author_id": "u-4471",
        },
        headers=hooks.poster,
    ).json()
    assert held["decision"] == "hold"
    corrected = "[RESIDENT]: the sluice was left in a state"
    decide(c, hooks.key("moderator"), held["review"]["id"], "approve_redacted", redacted_text=corrected)

    got = rx.wait_for(lambda r: r.event["type"] == "post.published")[0]
    event = verify(secret, got)  # the receiver's check, with the published secret
    assert event["data"]["post_id"] == "p1"
    assert event["data"]["status"] == "published_redacted"
    assert event["data"]["text_to_publish"] == corrected
    assert event["data"] == c.get("/v1/posts/p1", headers=hooks.poster).json()  # one truth, pushed and polled
    assert b"Hughes" not in got.body and b"u-4471" not in got.body  # redacted text only, never the author
    assert got.headers["webhook-id"].startswith("evt_")

    # Tampered body, or a tampered timestamp: refused.
    forged = type(got)(got.headers, got.body.replace(b"[RESIDENT]", b"Mrs Jones "), got.at)
    with pytest.raises(WebhookVerificationError):
        verify(secret, forged)
    moved = type(got)({**got.headers, "webhook-timestamp": str(int(time.time()) + 1)}, got.body, got.at)
    with pytest.raises(WebhookVerificationError):
        verify(secret, moved)
    # A captured event replayed later: its signed timestamp is outside the receiver's 5-minute tolerance.
    from standardwebhooks.webhooks import Webhook

    old = datetime.now(UTC) - timedelta(minutes=10)
    replay_headers = {
        **got.headers,
        "webhook-timestamp": str(int(old.timestamp())),
        "webhook-signature": Webhook(secret).sign(got.id, old, got.body.decode()),
    }
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret, type(got)(replay_headers, got.body, got.at))
    # Wrong secret: refused.
    with pytest.raises(WebhookVerificationError):
        verify("whsec_" + "A" * 44, got)


def test_an_escalation_alerts_within_five_seconds(hooks) -> None:  # type: ignore[no-untyped-def]
    c, rx = hooks.client, hooks.receiver
    t0 = time.monotonic()
    r = c.post(
        "/v1/screen",
        json={"text": "Doris has a bruise on her arm again", "post_id": "p-esc", "author_id": "u-9"},
        headers=hooks.poster,
    )
    answered = time.monotonic()
    assert r.json()["decision"] == "escalate"
    got = rx.wait_for(lambda e: e.event["type"] == "post.escalated", timeout=5.0)[0]
    lag = got.at - answered
    print(
        f"post.escalated received {lag * 1000:.0f} ms after the /v1/screen answer ({(got.at - t0) * 1000:.0f} ms)"
    )
    assert lag < 5.0
    data = verify(hooks.webhook["secret"], got)["data"]
    assert data["status"] == "escalated" and data["text_to_publish"] is None
    assert data["review"]["priority"] == "urgent" and "safeguarding" in data["review"]["categories"]
    assert b"Doris" not in got.body and b"u-9" not in got.body


def test_a_receiver_outage_loses_nothing_and_keeps_each_posts_order(hooks) -> None:  # type: ignore[no-untyped-def]
    c, rx = hooks.client, hooks.receiver
    mod = hooks.key("moderator")
    rx.stop()  # connection refused from here on
    posts = []
    for i in range(6):
        r = c.post(
            "/v1/screen", json={"text": f"you idiot number {i}", "post_id": f"o{i}"}, headers=hooks.poster
        )
        posts.append(r.json())
    for i, p in enumerate(posts):  # two events per post: the first decision, then the appeal's
        decide(c, mod, p["review"]["id"], "reject", labels={"toxicity": True})
        assert (
            c.post(
                f"/v1/posts/o{i}/appeal",
                json={"reason": "it was banter between friends"},
                headers=hooks.poster,
            ).status_code
            == 201
        )
    other = hooks.key("moderator")
    for i in range(6):
        rid = c.get(f"/v1/posts/o{i}", headers=hooks.poster).json()["appeal"]["review_id"]
        decide(c, other, rid, "approve")
    time.sleep(1.0)  # several failed attempts each
    wid = hooks.webhook["id"]
    pending = c.get(f"/v1/admin/webhooks/{wid}/deliveries?status=pending", headers=hooks.admin).json()
    assert len(pending) == 18 and max(d["attempts"] for d in pending) >= 1
    assert all(d["last_error"] for d in pending if d["attempts"])
    rx.start()  # back on the same port
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(rx.events()) < 18:
        time.sleep(0.05)
    got = rx.events()
    assert len(got) == 18 and len({g.id for g in got}) == 18  # every event, none twice
    for i in range(6):
        order = [g.event["type"] for g in got if g.event["data"]["post_id"] == f"o{i}"]
        assert order == ["post.rejected", "post.published", "appeal.decided"], order
    delivered = c.get(f"/v1/admin/webhooks/{wid}/deliveries?status=delivered", headers=hooks.admin).json()
    assert len(delivered) == 18


def test_dead_letters_and_redelivery_with_the_same_id(hooks) -> None:  # type: ignore[no-untyped-def]
    c, rx, st = hooks.client, hooks.receiver, hooks.state
    st.settings.webhook_retry_hours = 1.0 / 3600  # a one-second retry window
    rx.failing = True
    held = c.post("/v1/screen", json={"text": "what an idiot", "post_id": "d1"}, headers=hooks.poster).json()
    decide(c, hooks.key("moderator"), held["review"]["id"], "reject")
    wid = hooks.webhook["id"]
    deadline = time.monotonic() + 10
    dead: list = []
    while time.monotonic() < deadline and not dead:
        dead = c.get(f"/v1/admin/webhooks/{wid}/deliveries?status=dead", headers=hooks.admin).json()
        time.sleep(0.05)
    assert dead and dead[0]["event_type"] == "post.rejected" and dead[0]["last_status"] == 503
    rx.failing = False
    st.settings.webhook_retry_hours = 24.0
    r = c.post(f"/v1/admin/webhooks/{wid}/deliveries/{dead[0]['id']}/redeliver", headers=hooks.admin)
    assert r.status_code == 202
    got = rx.wait_for(lambda e: e.event["type"] == "post.rejected")
    assert [g.id for g in got] == [dead[0]["event_id"]]
    again = c.post(f"/v1/admin/webhooks/{wid}/deliveries/{dead[0]['id']}/redeliver", headers=hooks.admin)
    assert again.status_code in (202, 409)  # delivered: may be sent again; still pending: 409
    assert (
        c.post(f"/v1/admin/webhooks/{wid}/deliveries/999999/redeliver", headers=hooks.admin).status_code
        == 404
    )


def test_rotation_signs_with_both_secrets_during_the_grace_period(hooks) -> None:  # type: ignore[no-untyped-def]
    c, rx = hooks.client, hooks.receiver
    old = hooks.webhook["secret"]
    rotated = c.post(f"/v1/admin/webhooks/{hooks.webhook['id']}/rotate-secret", headers=hooks.admin)
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previous_secret_valid_until"]
    held = c.post("/v1/screen", json={"text": "lazy idiot", "post_id": "r1"}, headers=hooks.poster).json()
    decide(c, hooks.key("moderator"), held["review"]["id"], "approve")
    got = rx.wait_for(lambda e: e.event["type"] == "post.published")[0]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert verify(new, got) == verify(old, got)


def test_sla_breach_is_emitted_once_and_the_lead_can_acknowledge(hooks) -> None:  # type: ignore[no-untyped-def]
    from storage.tables import AuditEntry, ReviewItem

    c, rx, st = hooks.client, hooks.receiver, hooks.state
    esc = c.post(
        "/v1/screen", json={"text": "Doris has a bruise", "post_id": "s1"}, headers=hooks.poster
    ).json()
    rid = esc["review"]["id"]
    with st.require_db().session() as s:
        s.execute(
            update(ReviewItem)
            .where(ReviewItem.id == rid)
            .values(due_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    got = rx.wait_for(lambda e: e.event["type"] == "review.sla_breached")
    time.sleep(0.5)
    assert len(rx.events("review.sla_breached")) == 1
    data = got[0].event["data"]
    assert data["review_id"] == rid and data["priority"] == "urgent" and data["post_id"] == "s1"
    lead = hooks.key("safeguarding_lead")
    assert c.get(f"/v1/reviews/{rid}", headers=lead).json()["acknowledged_at"] is None
    with st.require_db().session() as s:
        from storage import alerts

        assert [it.id for it, _ in alerts.unacknowledged_urgent(s, org="org-a")] == [rid]
        assert alerts.acknowledge(s, org="org-a", review_id=rid, actor="safeguarding_lead:key-x")
        assert not alerts.acknowledge(s, org="org-a", review_id=rid, actor="safeguarding_lead:key-x")
        assert alerts.unacknowledged_urgent(s, org="org-a") == []
        acts = list(
            s.execute(select(AuditEntry.action).where(AuditEntry.subject == f"review:{rid}")).scalars()
        )
        assert "review.acknowledge" in acts


def test_model_promotion_is_announced_once(hooks) -> None:  # type: ignore[no-untyped-def]
    from service.webhooks import emit_model_promoted

    st, rx = hooks.state, hooks.receiver
    st.holder.pipeline.classifier.version = "test-keywords/2"  # as a reload of a new champion leaves it
    emit_model_promoted(st)
    emit_model_promoted(st)  # a second replica noticing the same champion
    got = rx.wait_for(lambda e: e.event["type"] == "model.promoted")
    time.sleep(0.3)
    assert len(rx.events("model.promoted")) == 1
    assert got[0].event["data"]["model_version"] == "test-keywords/2"


def test_deleting_a_webhook_cancels_what_it_had_not_received(hooks) -> None:  # type: ignore[no-untyped-def]
    c, rx = hooks.client, hooks.receiver
    rx.stop()
    held = c.post("/v1/screen", json={"text": "idiot", "post_id": "x1"}, headers=hooks.poster).json()
    decide(c, hooks.key("moderator"), held["review"]["id"], "reject")
    wid = hooks.webhook["id"]
    assert c.delete(f"/v1/admin/webhooks/{wid}", headers=hooks.admin).status_code == 204
    assert c.get(f"/v1/admin/webhooks/{wid}", headers=hooks.admin).status_code == 404
    assert c.delete(f"/v1/admin/webhooks/{wid}", headers=hooks.admin).status_code == 404


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.org/hook", "http"),
        ("file:///etc/passwd", "http"),
        ("javascript:alert(1)", "http"),
        ("https://" + "a" * 2000 + ".org/", "2000"),
        ("https://user:pw@example.org/hook", "credentials"),
        ("https:///nohost", "host"),
        ("http://[::1", "parse"),
    ],
)
def test_bad_webhook_urls_are_422(hooks, url: str, why: str) -> None:  # type: ignore[no-untyped-def]
    r = hooks.client.post(
        "/v1/admin/webhooks", json={"url": url, "events": ["post.published"]}, headers=hooks.admin
    )
    assert r.status_code == 422, (url, r.status_code, r.text)
    assert "secret" not in r.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.5/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
    ],
)
def test_private_destinations_are_refused_unless_allowed(hooks, url: str) -> None:  # type: ignore[no-untyped-def]
    hooks.state.settings.webhook_allow_private = False
    r = hooks.client.post(
        "/v1/admin/webhooks", json={"url": url, "events": ["post.published"]}, headers=hooks.admin
    )
    assert r.status_code == 422, (url, r.text)
    assert "public" in r.json()["detail"]


def test_the_destination_is_checked_again_at_delivery(hooks) -> None:  # type: ignore[no-untyped-def]
    """Registered while private addresses were allowed; the operator turns that off: nothing is sent."""
    c, rx, st = hooks.client, hooks.receiver, hooks.state
    st.settings.webhook_allow_private = False
    held = c.post("/v1/screen", json={"text": "idiot", "post_id": "v1"}, headers=hooks.poster).json()
    decide(c, hooks.key("moderator"), held["review"]["id"], "reject")
    wid = hooks.webhook["id"]
    deadline = time.monotonic() + 5
    tried: list = []
    while time.monotonic() < deadline and not tried:
        tried = [
            d
            for d in c.get(f"/v1/admin/webhooks/{wid}/deliveries", headers=hooks.admin).json()
            if d["attempts"] >= 1
        ]
        time.sleep(0.05)
    assert tried and "public" in tried[0]["last_error"]
    assert rx.events() == []
