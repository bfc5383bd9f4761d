"""Authorisation (issue 10 §5): every route x every role x own/other organisation, hashed keys, rate limits."""

from __future__ import annotations

import itertools
import uuid

import pytest
from sqlalchemy import select

from tests.helpers import auth, wait_ready

ROLES = ("poster", "moderator", "safeguarding_lead", "admin")
MOD = {"moderator", "safeguarding_lead", "admin"}
LEAD_ADMIN = {"safeguarding_lead", "admin"}

# name -> (method, path ({rid}: an org-a review item, {pid}: its post_id), json body, roles allowed, scoped to
# one org-a item (so another organisation gets a 404))
ROUTES: dict[str, tuple[str, str, object, set[str], bool]] = {
    "screen": ("POST", "/v1/screen", {"text": "nice day"}, {"poster"}, False),
    "report-post": ("POST", "/v1/posts/{pid}/report", {"reason": "upsetting"}, {"poster"}, True),
    "post-status": ("GET", "/v1/posts/{pid}", None, {"poster"}, True),
    "appeal": (
        "POST",
        "/v1/posts/{pid}/appeal",
        {"reason": "it was a quote from training"},
        {"poster"},
        True,
    ),
    "webhooks-create": (
        "POST",
        "/v1/admin/webhooks",
        {"url": "http://127.0.0.1:9/hook", "events": ["post.published"]},
        {"admin"},
        False,
    ),
    "webhooks-list": ("GET", "/v1/admin/webhooks", None, {"admin"}, False),
    "webhook-get": ("GET", "/v1/admin/webhooks/{wid}", None, {"admin"}, True),
    "webhook-delete": ("DELETE", "/v1/admin/webhooks/{wid}", None, {"admin"}, True),
    "webhook-rotate": ("POST", "/v1/admin/webhooks/{wid}/rotate-secret", None, {"admin"}, True),
    "webhook-deliveries": ("GET", "/v1/admin/webhooks/{wid}/deliveries", None, {"admin"}, True),
    "webhook-redeliver": (
        "POST",
        "/v1/admin/webhooks/{wid}/deliveries/{did}/redeliver",
        None,
        {"admin"},
        True,
    ),
    "screen-batch": ("POST", "/v1/screen/batch", {"posts": [{"text": "nice day"}]}, {"poster"}, False),
    "staff-put": ("PUT", "/v1/staff-directory", {"names": ["Sam Taylor"]}, {"admin"}, False),
    "staff-get": ("GET", "/v1/staff-directory", None, {"admin"}, False),
    "sla": ("PUT", "/v1/admin/sla", {"urgent_minutes": 10}, {"admin"}, False),
    "conf-get": ("GET", "/v1/admin/confidentiality", None, {"admin"}, False),
    "conf-put": ("PUT", "/v1/admin/confidentiality", {"special_category": True}, {"admin"}, False),
    "reload-model": ("POST", "/v1/admin/reload-model", None, {"admin"}, False),
    "reviews-list": ("GET", "/v1/reviews", None, MOD, False),
    "reviews-stats": ("GET", "/v1/reviews/stats", None, MOD, False),
    "claim-next": ("POST", "/v1/reviews/claim-next", None, MOD, False),
    "review-get": ("GET", "/v1/reviews/{rid}", None, MOD, True),
    "claim": ("POST", "/v1/reviews/{rid}/claim", None, MOD, True),
    "decision": (
        "POST",
        "/v1/reviews/{rid}/decision",
        {"action": "reject", "labels": {"toxicity": True}},
        MOD,
        True,
    ),
    "original": (
        "GET",
        "/v1/reviews/{rid}/original?reason=checking+the+original+text",
        None,
        {"safeguarding_lead"},
        True,
    ),
    "reveal-author": (
        "POST",
        "/v1/reviews/{rid}/reveal-author",
        {"reason": "risk to life, s42 enquiry"},
        {"safeguarding_lead"},
        True,
    ),
    "risk-report": ("GET", "/v1/reports/risk", None, LEAD_ADMIN, False),
    # Managers too (ROLES here has no manager: tests/service/test_manager_role.py tries it).
    "culture-report": ("GET", "/v1/reports/culture", None, LEAD_ADMIN | {"manager"}, False),
    "audit-verify": ("GET", "/v1/audit/verify", None, LEAD_ADMIN, False),
    "audit-export": ("GET", "/v1/audit/export", None, LEAD_ADMIN, False),
    "audit-checkpoints": ("GET", "/v1/audit/checkpoints", None, LEAD_ADMIN, False),
    "keys-list": ("GET", "/v1/admin/keys", None, {"admin"}, False),
    "keys-create": ("POST", "/v1/admin/keys", {"role": "poster", "label": "test"}, {"admin"}, False),
    "key-revoke": ("DELETE", "/v1/admin/keys/{kid}", None, {"admin"}, True),
    "key-rotate": ("POST", "/v1/admin/keys/{kid}/rotate", {"grace_hours": 1}, {"admin"}, True),
}
AUTHOR = "author-of-org-a-7731"


def test_every_v1_route_is_in_the_table(shared) -> None:  # type: ignore[no-untyped-def]
    table = {(m, p.split("?")[0]) for m, p, *_ in ROUTES.values()}
    paths = shared.client.app.openapi()["paths"]
    app_routes = {
        (
            m.upper(),
            p.replace("{review_id}", "{rid}")
            .replace("{post_id}", "{pid}")
            .replace("{webhook_id}", "{wid}")
            .replace("{delivery_id}", "{did}")
            .replace("{key_id}", "{kid}"),
        )
        for p, ops in paths.items()
        if p.startswith("/v1/")
        for m in ops
    }
    assert app_routes == table


@pytest.mark.parametrize(("route", "role", "org"), list(itertools.product(ROUTES, ROLES, ("own", "other"))))
def test_route_role_org(shared, route: str, role: str, org: str) -> None:  # type: ignore[no-untyped-def]
    c, make_key = shared.client, shared.make_key
    method, path, body, allowed, scoped = ROUTES[route]
    marker = f"post-{uuid.uuid4().hex[:10]}"
    seeded = c.post(
        "/v1/screen",
        json={"text": "you useless cow", "post_id": marker, "anonymous": True, "author_id": AUTHOR},
        headers=auth(make_key("org-a", "poster")),
    )
    rid = seeded.json()["review"]["id"]
    wid, did = _seed_webhook(shared.state) if "{wid}" in path else ("", 0)
    kid = shared.make_key_row("org-a", "poster") if "{kid}" in path else 0
    caller = auth(make_key("org-a" if org == "own" else "org-b", role))
    r = c.request(
        method, path.format(rid=rid, pid=marker, wid=wid, did=did, kid=kid), json=body, headers=caller
    )

    if role not in allowed:
        expected = 403
    elif scoped and org == "other":
        expected = 404
    else:
        expected = 200
    if expected == 200:
        assert 200 <= r.status_code < 300, (route, role, org, r.status_code, r.text)
    else:
        assert r.status_code == expected, (route, role, org, r.status_code, r.text)
    assert r.status_code != 500
    if org == "other":  # nothing of org-a's ever reaches org-b, whatever the status
        assert rid not in r.text and marker not in r.text and AUTHOR not in r.text
    if r.status_code < 300 and role != "safeguarding_lead":
        assert AUTHOR not in r.text  # only the lead's audited reveal returns an anonymous author
    # The org-a item is untouched by anyone from org-b.
    if org == "other":
        lead = auth(make_key("org-a", "safeguarding_lead"))
        item = c.get(f"/v1/reviews/{rid}", headers=lead).json()
        assert item["status"] == "pending" and item["claimed"] is False


def _seed_webhook(state) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """An org-a webhook with one dead-lettered delivery (so an admin may redeliver it)."""
    from sqlalchemy import update

    from storage import outbox
    from storage.tables import WebhookDelivery

    with state.require_db().session() as s:
        ep = outbox.create_endpoint(
            s,
            org="org-a",
            url="http://127.0.0.1:9/hook",
            events=["model.promoted"],
            secret_enc=state.vault.encrypt("whsec_dGVzdA=="),
            description=None,
            actor="test",
        )
        outbox.emit(s, org="org-a", events=[outbox.NewEvent("model.promoted", {"model_version": "x"})])
        did = s.execute(select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == ep.id)).scalar_one()
        s.execute(update(WebhookDelivery).where(WebhookDelivery.id == did).values(status="dead"))
        return ep.id, did


def test_keys_stored_hashed(shared) -> None:  # type: ignore[no-untyped-def]
    from storage.tables import ApiKey

    keys = [shared.make_key("org-a", role) for role in ROLES]
    with shared.state.require_db().session() as s:
        rows = list(s.execute(select(ApiKey)).scalars())
        dumped = " ".join(str(getattr(r, col.name)) for r in rows for col in ApiKey.__table__.columns)
    for k in keys:
        assert k not in dumped
        assert k.split("_", 2)[2] not in dumped
    for r in rows:
        assert len(r.key_hash) == 64 and all(ch in "0123456789abcdef" for ch in r.key_hash)


def test_key_of_one_org_cannot_be_used_with_another_prefix(shared) -> None:  # type: ignore[no-untyped-def]
    a, b = shared.make_key("org-a", "poster"), shared.make_key("org-b", "poster")
    forged = "_".join([*a.split("_", 2)[:2], b.split("_", 2)[2]])
    assert shared.client.post("/v1/screen", json={"text": "hi"}, headers=auth(forged)).status_code == 401


def test_per_key_rate_limit(settings, classifier, redactor) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import build_state
    from storage import keys

    # A burst of 3, then one every 3.3 s: slow enough that a slow CI machine cannot refill the bucket mid-test.
    limited = settings.model_copy(update={"rate_limit_per_minute": 18})
    state = build_state(limited, classifier_loader=lambda: classifier, analyzer_factory=lambda: redactor)
    with TestClient(create_app(limited, state=state)) as c:
        wait_ready(c)
        with state.require_db().session() as s:
            key = auth(keys.create_api_key(s, org="org-a", role="moderator")[1])
            other = auth(keys.create_api_key(s, org="org-a", role="moderator")[1])
        codes = [c.get("/v1/reviews/stats", headers=key).status_code for _ in range(3)]
        assert codes == [200] * 3
        r = c.get("/v1/reviews/stats", headers=key)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["detail"]
        assert c.get("/v1/reviews/stats", headers=other).status_code == 200  # per key, not global
        # Wrong keys are refused before the limiter: they cannot spend a real key's budget.
        assert c.get("/v1/reviews/stats", headers=auth("cs_0_0")).status_code == 401
