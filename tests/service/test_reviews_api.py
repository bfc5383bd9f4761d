"""The review queue API (issue 6): order, filters, pagination, leases, exactly-once decisions, stats, SLA."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storage.tables import Decision, ReviewItem, utcnow
from tests.helpers import auth

TOXIC = "whoever left the sluice like that is a lazy idiot"
SEXUAL = "send pics of you in your uniform"
SAFEGUARDING = "Doris in room 4 has a bruise on her arm"
SELF_HARM = "everyone would be better off without me"
CONFIDENTIAL = "residents have c diff on the unit today"


@pytest.fixture
def poster(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "poster"))


@pytest.fixture
def mod1(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "moderator"))


@pytest.fixture
def mod2(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "moderator"))


@pytest.fixture
def post(client, poster):  # type: ignore[no-untyped-def]
    counter = iter(range(10_000))

    def make(text: str, **extra) -> str:  # type: ignore[no-untyped-def]
        body = {"text": text, "post_id": f"p-{next(counter)}", **extra}
        r = client.post("/v1/screen", json=body, headers=poster)
        assert r.status_code == 200, r.text
        assert r.json()["review"] is not None, r.json()
        return r.json()["review"]["id"]

    return make


def set_item(app_state, review_id: str, **values) -> None:  # type: ignore[no-untyped-def]
    with app_state.require_db().session() as s:
        s.execute(update(ReviewItem).where(ReviewItem.id == review_id).values(**values))


def listing(client, headers, **params):  # type: ignore[no-untyped-def]
    r = client.get("/v1/reviews", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_list_order_urgent_then_risk_then_age(client, post, mod1, app_state):  # type: ignore[no-untyped-def]
    now = utcnow()
    # (text, risk, minutes ago)
    plan = {
        "old-low": (TOXIC, 0.55, 50),
        "new-low": (TOXIC, 0.55, 5),
        "high-risk": (TOXIC, 0.99, 1),
        "mid-risk": (CONFIDENTIAL, 0.80, 30),
        "block": (SEXUAL, 0.60, 10),
        "urgent-low": (SAFEGUARDING, 0.51, 2),
        "urgent-high": (SELF_HARM, 0.98, 1),
    }
    ids = {}
    for name, (text, risk, ago) in plan.items():
        ids[name] = post(text)
        set_item(app_state, ids[name], risk=risk, created_at=now - timedelta(minutes=ago))
    got = [i["id"] for i in listing(client, mod1)["items"]]
    expected = ["urgent-high", "urgent-low", "block", "high-risk", "mid-risk", "old-low", "new-low"]
    assert got == [ids[n] for n in expected]


def test_list_item_fields(client, post, mod1):  # type: ignore[no-untyped-def]
    rid = post(SAFEGUARDING, circle="nights", kind="comment", author_id="carer-9")
    item = listing(client, mod1)["items"][0]
    assert item["id"] == rid
    assert item["priority"] == "urgent" and item["status"] == "pending"
    assert item["redacted_text"].startswith("[RESIDENT]") and "Doris" not in item["redacted_text"]
    assert item["flags"] == ["safeguarding"] and item["scores"]["safeguarding"] >= 0.5
    assert {e["type"] for e in item["entities"]} >= {"PERSON"}
    assert item["circle"] == "nights" and item["kind"] == "comment"
    assert item["author_id"] == "carer-9" and item["anonymous"] is False
    assert item["age_seconds"] >= 0 and item["sla_state"] == "ok"
    assert item["claimed"] is False and item["lease_expires_at"] is None
    assert client.get(f"/v1/reviews/{rid}", headers=mod1).json() == {
        **item,
        "age_seconds": pytest.approx(item["age_seconds"], abs=5),
    }


FILTERS = [
    ({"priority": "urgent"}, {"safeguarding", "self_harm"}),
    ({"priority": "high"}, {"sexual"}),
    ({"priority": "normal"}, {"toxicity", "confidentiality"}),
    ({"category": "toxicity"}, {"toxicity"}),
    ({"category": "self_harm"}, {"self_harm"}),
    ({"category": "hate"}, set()),
    ({"priority": "urgent", "category": "safeguarding"}, {"safeguarding"}),
    ({}, {"safeguarding", "self_harm", "sexual", "toxicity", "confidentiality"}),
]


def test_filters(client, post, mod1):  # type: ignore[no-untyped-def]
    for t in (TOXIC, SEXUAL, SAFEGUARDING, SELF_HARM, CONFIDENTIAL):
        post(t)
    for params, expected in FILTERS:  # one queue, every filter (a table; one set-up keeps the suite fast)
        items = listing(client, mod1, **params)["items"]
        assert {f for i in items for f in i["flags"]} == expected, params
        assert len(items) == len(expected), params


def test_status_filter(client, post, mod1):  # type: ignore[no-untyped-def]
    a, b = post(TOXIC), post(TOXIC)
    assert (
        client.post(f"/v1/reviews/{a}/decision", json={"action": "reject"}, headers=mod1).status_code == 200
    )
    assert [i["id"] for i in listing(client, mod1)["items"]] == [b]
    decided = listing(client, mod1, status="decided")["items"]
    assert [i["id"] for i in decided] == [a]
    assert decided[0]["status"] == "decided" and decided[0]["moderator_decision"] == "reject"


def test_cursor_pagination(client, post, mod1, app_state):  # type: ignore[no-untyped-def]
    texts = [TOXIC, SAFEGUARDING, TOXIC, SEXUAL, TOXIC, SELF_HARM, TOXIC]
    ids = [post(t) for t in texts]
    same = utcnow() - timedelta(minutes=3)
    set_item(app_state, ids[0], created_at=same)
    set_item(app_state, ids[2], created_at=same)  # a full tie on rank, risk and age: the id breaks it
    full = [i["id"] for i in listing(client, mod1, limit=200)["items"]]
    assert sorted(full) == sorted(ids)
    for limit in (1, 2, 3, 7, 50):
        seen: list[str] = []
        cursor = None
        for _ in range(20):
            page = listing(client, mod1, limit=limit, **({"cursor": cursor} if cursor else {}))
            assert len(page["items"]) <= limit
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == full, limit  # no duplicates, none missing, same order


def test_claim_lease_conflict_and_expiry(client, post, mod1, mod2, app_state):  # type: ignore[no-untyped-def]
    rid = post(TOXIC)
    r = client.post(f"/v1/reviews/{rid}/claim", headers=mod1)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == rid and r.json()["lease_expires_at"]
    assert client.post(f"/v1/reviews/{rid}/claim", headers=mod1).status_code == 200  # renew own lease
    r = client.post(f"/v1/reviews/{rid}/claim", headers=mod2)
    assert r.status_code == 409 and "detail" in r.json()
    assert (
        client.post(f"/v1/reviews/{rid}/decision", json={"action": "approve"}, headers=mod2).status_code
        == 409
    )
    mine = client.get(f"/v1/reviews/{rid}", headers=mod1).json()
    theirs = client.get(f"/v1/reviews/{rid}", headers=mod2).json()
    assert mine["claimed_by_me"] is True and theirs["claimed_by_me"] is False and theirs["claimed"] is True

    set_item(app_state, rid, lease_expires_at=utcnow() - timedelta(seconds=1))
    assert client.get(f"/v1/reviews/{rid}", headers=mod2).json()["claimed"] is False
    assert client.post(f"/v1/reviews/{rid}/claim", headers=mod2).status_code == 200
    assert client.post(f"/v1/reviews/{rid}/claim", headers=mod1).status_code == 409


def test_lease_length_comes_from_settings(client, post, mod1):  # type: ignore[no-untyped-def]
    from datetime import datetime

    rid = post(TOXIC)
    before = utcnow()
    expires = datetime.fromisoformat(
        client.post(f"/v1/reviews/{rid}/claim", headers=mod1).json()["lease_expires_at"]
    )
    assert timedelta(minutes=9) < expires - before <= timedelta(minutes=10, seconds=5)


def test_decision_recorded_with_labels_and_correction(client, post, mod1, app_state):  # type: ignore[no-untyped-def]
    rid = post(SAFEGUARDING)
    assert client.post(f"/v1/reviews/{rid}/claim", headers=mod1).status_code == 200
    labels = {"safeguarding": True, "confidentiality": True, "toxicity": False}
    body = {
        "action": "approve_redacted",
        "labels": labels,
        "redacted_text": "[RESIDENT] in [ROOM] has a mark",
        "note": "checked with the team leader",
    }
    r = client.post(f"/v1/reviews/{rid}/decision", json=body, headers=mod1)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["review_id"] == rid and out["action"] == "approve_redacted" and out["labels"] == labels
    assert out["decided_at"]

    again = client.post(f"/v1/reviews/{rid}/decision", json={"action": "reject"}, headers=mod1)
    assert again.status_code == 409
    assert client.post(f"/v1/reviews/{rid}/claim", headers=mod1).status_code == 409  # decided: not claimable

    with app_state.require_db().session() as s:
        decs = list(s.execute(select(Decision).where(Decision.review_id == rid)).scalars())
        assert len(decs) == 1
        d = decs[0]
        assert d.action == "approve_redacted" and d.labels == labels  # the first decision was not overwritten
        assert d.redacted_text == "[RESIDENT] in [ROOM] has a mark"
        assert d.note == "checked with the team leader"
        item = s.get(ReviewItem, rid)
        assert item.status == "decided" and item.decided_at is not None and item.first_action_at is not None

        from storage import decision_labels

        examples = decision_labels.decisions_for_training(s, org="org-a")
        assert [(dd.id, sc.redacted_text) for dd, sc in examples] == [
            (d.id, "[RESIDENT] in [ROOM] has a bruise on her arm")
        ]


def test_decide_without_claim_is_allowed_once(client, post, mod1, mod2):  # type: ignore[no-untyped-def]
    rid = post(TOXIC)
    assert (
        client.post(f"/v1/reviews/{rid}/decision", json={"action": "reject"}, headers=mod1).status_code == 200
    )
    assert (
        client.post(f"/v1/reviews/{rid}/decision", json={"action": "approve"}, headers=mod2).status_code
        == 409
    )


def test_stats(client, post, mod1, mod2, app_state):  # type: ignore[no-untyped-def]
    empty = client.get("/v1/reviews/stats", headers=mod1).json()
    assert empty["oldest_pending_seconds"] is None and empty["sla_breaches"] == 0
    a, b, _, d = post(TOXIC), post(SAFEGUARDING), post(SEXUAL), post(TOXIC)
    set_item(app_state, d, created_at=utcnow() - timedelta(hours=2))
    client.post(f"/v1/reviews/{a}/decision", json={"action": "approve"}, headers=mod1)
    client.post(f"/v1/reviews/{b}/claim", headers=mod2)
    stats = client.get("/v1/reviews/stats", headers=mod1).json()
    assert stats["by_state"] == {"pending": 3, "decided": 1, "claimed": 1}
    assert stats["pending_by_priority"] == {"urgent": 1, "high": 1, "normal": 1}
    assert stats["oldest_pending_seconds"] >= 2 * 3600 - 5
    assert stats["sla_breaches"] == 0


def test_sla_breach_visible(client, post, mod1, app_state):  # type: ignore[no-untyped-def]
    late, fine = post(SAFEGUARDING), post(SAFEGUARDING)
    item = client.get(f"/v1/reviews/{fine}", headers=mod1).json()
    from datetime import datetime

    due = datetime.fromisoformat(item["due_at"]) - datetime.fromisoformat(item["created_at"])
    assert due == timedelta(minutes=15)  # urgent SLA
    set_item(app_state, late, due_at=utcnow() - timedelta(minutes=1))
    by_id = {i["id"]: i for i in listing(client, mod1)["items"]}
    assert by_id[late]["sla_state"] == "breached"
    assert by_id[fine]["sla_state"] == "ok"
    assert client.get("/v1/reviews/stats", headers=mod1).json()["sla_breaches"] == 1
    # Acting late does not erase the breach.
    client.post(f"/v1/reviews/{late}/decision", json={"action": "escalate"}, headers=mod1)
    assert client.get("/v1/reviews/stats", headers=mod1).json()["sla_breaches"] == 1


def test_sla_targets_per_org(client, post, mod1, make_key):  # type: ignore[no-untyped-def]
    from datetime import datetime

    admin = auth(make_key("org-a", "admin"))
    assert (
        client.put(
            "/v1/admin/sla", json={"urgent_minutes": 5, "normal_minutes": 60}, headers=admin
        ).status_code
        == 200
    )
    for text, minutes in ((SAFEGUARDING, 5), (TOXIC, 60)):
        item = client.get(f"/v1/reviews/{post(text)}", headers=mod1).json()
        due = datetime.fromisoformat(item["due_at"]) - datetime.fromisoformat(item["created_at"])
        assert due == timedelta(minutes=minutes)


def test_anonymous_author_never_shown(client, post, mod1, app_state):  # type: ignore[no-untyped-def]
    rid = post(TOXIC, anonymous=True, author_id="carer-secret-42")
    named = post(TOXIC, author_id="carer-named-7")
    r_list = client.get("/v1/reviews", headers=mod1)
    r_item = client.get(f"/v1/reviews/{rid}", headers=mod1)
    r_next = client.post("/v1/reviews/claim-next", headers=mod1)
    for r in (r_list, r_item, r_next):
        assert "carer-secret-42" not in r.text
    item = r_item.json()
    assert item["anonymous"] is True and item["author_id"] is None
    assert client.get(f"/v1/reviews/{named}", headers=mod1).json()["author_id"] == "carer-named-7"
    with app_state.require_db().session() as s:
        from storage import screenings

        row = screenings.get_screening(s, org="org-a", post_id=item["post_id"])
        assert row.author_id is None
        assert row.author_enc and "carer-secret-42" not in row.author_enc  # stored encrypted, not hidden


def test_claim_next(client, post, mod1, mod2, make_key):  # type: ignore[no-untyped-def]
    normal, urgent, high = post(TOXIC), post(SAFEGUARDING), post(SEXUAL)
    first = client.post("/v1/reviews/claim-next", headers=mod1).json()
    assert first["id"] == urgent and first["claimed_by_me"] is True
    second = client.post("/v1/reviews/claim-next", headers=mod2).json()
    assert second["id"] == high
    mod3 = auth(make_key("org-a", "moderator"))
    assert client.post("/v1/reviews/claim-next", headers=mod3).json()["id"] == normal
    r = client.post("/v1/reviews/claim-next", headers=auth(make_key("org-a", "moderator")))
    assert r.status_code == 200 and r.json() is None


def test_a_correction_that_reintroduces_an_identifier_is_refused(client, poster, make_key):  # type: ignore[no-untyped-def]
    """Issue 17: a moderator's corrected redaction goes through the same recognizers before approval."""
    mod = auth(make_key("org-a", "moderator"))
    rid = client.post(
        "/v1/screen", json={"text": "whoever left the sluice like that is a lazy idiot"}, headers=poster
    ).json()["review"]["id"]
    client.post(f"/v1/reviews/{rid}/claim", headers=mod)
    for leak in ("ring Doris Hughes's son on 07700 900123", "keysafe 4471 at the back", "NHS 943 476 5919"):
        r = client.post(
            f"/v1/reviews/{rid}/decision",
            json={"action": "approve_redacted", "labels": {}, "redacted_text": leak},
            headers=mod,
        )
        assert r.status_code == 422 and "identifiers" in r.json()["detail"], (leak, r.text)
    ok = client.post(
        f"/v1/reviews/{rid}/decision",
        json={
            "action": "approve_redacted",
            "labels": {},
            "redacted_text": "whoever left the sluice like that",
        },
        headers=mod,
    )
    assert ok.status_code == 200, ok.text


def test_the_posting_flow_learns_what_became_of_a_held_post(client, poster, make_key):  # type: ignore[no-untyped-def]
    """Issue 18 §1: GET /v1/posts/{post_id} says whether to publish, and the only text that may be published."""
    mod = auth(make_key("org-a", "moderator"))
    ok = client.post("/v1/screen", json={"text": "lovely shift", "post_id": "p-ok"}, headers=poster).json()
    assert ok["decision"] == "allow"
    st = client.get("/v1/posts/p-ok", headers=poster).json()
    assert st["status"] == "published" and st["text_to_publish"] == "lovely shift" and st["review"] is None

    held = client.post(
        "/v1/screen",
        json={"text": "Mrs Hughes: whoever left the sluice like that is a lazy idiot", "post_id": "p-held"},
        headers=poster,
    ).json()
    st = client.get("/v1/posts/p-held", headers=poster).json()
    assert st["status"] == "pending_review" and st["text_to_publish"] is None
    review = {k: st["review"][k] for k in ("id", "priority", "state", "categories")}
    assert review == {
        "id": held["review"]["id"],
        "priority": "normal",
        "state": "pending",
        "categories": ["toxicity"],
    }
    assert st["appeal"] is None

    rid = held["review"]["id"]
    client.post(f"/v1/reviews/{rid}/claim", headers=mod)
    corrected = "[RESIDENT]: whoever left the sluice like that, please tidy up"
    r = client.post(
        f"/v1/reviews/{rid}/decision",
        json={"action": "approve_redacted", "labels": {"toxicity": False}, "redacted_text": corrected},
        headers=mod,
    )
    assert r.status_code == 200, r.text
    st = client.get("/v1/posts/p-held", headers=poster).json()
    assert st["status"] == "published_redacted" and st["text_to_publish"] == corrected
    assert "Hughes" not in st["text_to_publish"] and st["decided_at"]

    esc = client.post(
        "/v1/screen", json={"text": "Doris has a bruise on her arm", "post_id": "p-esc"}, headers=poster
    )
    assert esc.json()["decision"] == "escalate"
    assert client.get("/v1/posts/p-esc", headers=poster).json()["status"] == "escalated"
    # Another organisation's poster, or an unknown id: 404; never another org's text.
    other = client.get("/v1/posts/p-held", headers=auth(make_key("org-b", "poster")))
    assert other.status_code == 404 and "sluice" not in other.text
    assert client.get("/v1/posts/nope", headers=poster).status_code == 404
