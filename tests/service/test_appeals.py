"""Issue 18 §5: appeals, decided by a moderator other than the first; the outcome reaches the posting flow (status
endpoint and ``appeal.decided``), the lead's report counts it, and its labels feed retraining."""

from __future__ import annotations

from tests.helpers import decide


def test_appeals_are_decided_by_another_moderator(hooks) -> None:  # type: ignore[no-untyped-def]
    c, rx = hooks.client, hooks.receiver
    first, second = hooks.key("moderator"), hooks.key("moderator")
    held = c.post(
        "/v1/screen",
        json={"text": "you useless cow", "post_id": "a1", "author_id": "u-77"},
        headers=hooks.poster,
    ).json()
    decide(c, first, held["review"]["id"], "reject", labels={"toxicity": True})
    assert c.get("/v1/posts/a1", headers=hooks.poster).json()["status"] == "rejected"

    r = c.post(
        "/v1/posts/a1/appeal",
        json={"reason": "Mrs Hughes asked me to say it, it was a joke between us"},
        headers=hooks.poster,
    )
    assert r.status_code == 201, r.text
    appeal = r.json()["appeal"]
    assert appeal["state"] == "pending" and r.json()["status"] == "rejected"
    rid = appeal["review_id"]
    item = c.get(f"/v1/reviews/{rid}", headers=second).json()
    assert (
        item["kind_of_review"] == "appeal" and "Hughes" not in item["appeal_reason"]
    )  # redacted like a post
    # The moderator who rejected it may neither claim nor decide the appeal.
    assert c.post(f"/v1/reviews/{rid}/claim", headers=first).status_code == 409
    same = c.post(f"/v1/reviews/{rid}/decision", json={"action": "reject", "labels": {}}, headers=first)
    assert same.status_code == 409 and "another moderator" in same.json()["detail"]
    assert c.post("/v1/reviews/claim-next", headers=first).json() is None
    decide(c, second, rid, "approve", labels={"toxicity": False})

    st = c.get("/v1/posts/a1", headers=hooks.poster).json()
    assert st["status"] == "published" and st["text_to_publish"] == "you useless cow"
    assert st["appeal"]["state"] == "overturned" and st["appeal"]["decided_at"]
    decided = rx.wait_for(lambda e: e.event["type"] == "appeal.decided")[0]
    assert decided.event["data"]["appeal"]["state"] == "overturned"
    assert b"u-77" not in decided.body

    # A second appeal, an appeal on a published post, another org's post, an unknown post: 409/404, never 500.
    again = c.post("/v1/posts/a1/appeal", json={"reason": "appealing once more"}, headers=hooks.poster)
    assert again.status_code == 409
    c.post("/v1/screen", json={"text": "lovely shift today", "post_id": "a2"}, headers=hooks.poster)
    assert (
        c.post("/v1/posts/a2/appeal", json={"reason": "nothing to appeal"}, headers=hooks.poster).status_code
        == 409
    )
    other = hooks.key("poster", org="org-b")
    assert (
        c.post("/v1/posts/a1/appeal", json={"reason": "not my organisation"}, headers=other).status_code
        == 404
    )
    assert (
        c.post("/v1/posts/zz/appeal", json={"reason": "no such post here"}, headers=hooks.poster).status_code
        == 404
    )
    assert c.post("/v1/posts/a1/appeal", json={"reason": "   "}, headers=hooks.poster).status_code == 422

    # The risk report counts appeals and overturns per category; the overturn is a label for retraining.
    lead = hooks.key("safeguarding_lead")
    report = c.get("/v1/reports/risk", headers=lead).json()
    assert report["appeals"]["count"] in (1, "<5") and report["appeals"]["overturned"] in (1, "<5")
    assert "toxicity" in report["appeals"]["by_category"]
    from storage import decision_labels

    with hooks.state.require_db().session() as s:
        labels = [
            d.labels
            for d, scr in decision_labels.decisions_for_training(s, org="org-a")
            if scr.post_id == "a1"
        ]
    assert labels[-1] == {"toxicity": False}


def test_an_appeal_on_a_post_still_held_joins_its_pending_review(hooks) -> None:  # type: ignore[no-untyped-def]
    c = hooks.client
    held = c.post("/v1/screen", json={"text": "what an idiot", "post_id": "h1"}, headers=hooks.poster).json()
    r = c.post(
        "/v1/posts/h1/appeal", json={"reason": "please look again, it is a quote"}, headers=hooks.poster
    )
    assert r.status_code == 201
    assert r.json()["appeal"]["review_id"] == held["review"]["id"]
    mod = hooks.key("moderator")
    assert c.get(f"/v1/reviews/{held['review']['id']}", headers=mod).json()["appeal_reason"]
    decide(c, mod, held["review"]["id"], "approve")
    st = c.get("/v1/posts/h1", headers=hooks.poster).json()
    assert st["status"] == "published" and st["appeal"]["state"] == "overturned"
    esc = c.post("/v1/screen", json={"text": "Doris has a bruise", "post_id": "h2"}, headers=hooks.poster)
    assert esc.json()["decision"] == "escalate"
    assert (
        c.post("/v1/posts/h2/appeal", json={"reason": "please look again"}, headers=hooks.poster).status_code
        == 409
    )
