"""The /v1/screen contract, field by field (issue 2), plus the staff directory, idempotency and org isolation."""

from __future__ import annotations

import pytest

from models.policy import DECISIONS
from models.taxonomy import CATEGORIES
from tests.helpers import KeywordClassifier, auth

RESPONSE_FIELDS = {
    "post_id",
    "decision",
    "redacted_text",
    "scores",
    "flags",
    "entities",
    "review",
    "author_message",
    "model_version",
    "policy_version",
}

# text -> (decision, review priority or None)
CASES = [
    ("Lovely shift today, the team were brilliant", "allow", None),
    ("Doris in room 4 enjoyed the garden today", "allow_redacted", None),
    ("whoever left the sluice like that is a lazy idiot", "hold", "normal"),
    ("send pics of you in your uniform", "block", "high"),
    ("Doris in room 4 has a bruise on her arm", "escalate", "urgent"),
    ("sat in the car after nights, I just want to end it all", "escalate", "urgent"),
]


@pytest.fixture
def poster(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "poster"))


@pytest.fixture
def moderator(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "moderator"))


@pytest.mark.parametrize(("text", "decision", "priority"), CASES)
def test_screen_contract_field_by_field(client, poster, text, decision, priority):  # type: ignore[no-untyped-def]
    r = client.post("/v1/screen", json={"text": text, "post_id": "p-1", "circle": "nights"}, headers=poster)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) >= RESPONSE_FIELDS
    assert body["post_id"] == "p-1"
    assert body["decision"] in DECISIONS
    assert body["decision"] == decision

    scores = body["scores"]
    assert set(scores) == set(CATEGORIES)
    assert all(isinstance(v, float | int) and 0.0 <= v <= 1.0 for v in scores.values())
    thresholds = KeywordClassifier.thresholds
    assert sorted(body["flags"]) == sorted(c for c in CATEGORIES if scores[c] >= thresholds[c])

    redacted = body["redacted_text"]
    assert isinstance(redacted, str)
    if not body["entities"]:
        assert redacted == text
    for e in body["entities"]:
        assert {"type", "start", "end", "score"} <= set(e)
        assert 0 <= e["start"] < e["end"] <= len(text)
        assert 0.0 <= e["score"] <= 1.0
        identifier = text[e["start"] : e["end"]]
        assert identifier.strip() == identifier and identifier
        assert identifier not in redacted, (identifier, redacted)

    if priority is None:
        assert body["review"] is None
    else:
        assert set(body["review"]) == {"id", "priority"}
        assert body["review"]["priority"] == priority
        assert isinstance(body["review"]["id"], str) and body["review"]["id"]
    assert isinstance(body["author_message"], str)
    if decision != "allow":
        assert body["author_message"].strip()
    assert isinstance(body["model_version"], str) and body["model_version"] == KeywordClassifier.version
    assert isinstance(body["policy_version"], str) and body["policy_version"]
    assert body.get("degraded", []) == []


def test_allow_redacted_entities_are_exact(client, poster):  # type: ignore[no-untyped-def]
    text = "Doris in room 4 enjoyed the garden today"
    body = client.post("/v1/screen", json={"text": text}, headers=poster).json()
    spans = {text[e["start"] : e["end"]] for e in body["entities"]}
    assert "Doris" in spans
    assert body["redacted_text"].endswith("enjoyed the garden today")
    assert "Doris" not in body["redacted_text"]
    assert "room 4" not in body["redacted_text"]


def test_post_id_generated_when_absent(client, poster):  # type: ignore[no-untyped-def]
    a = client.post("/v1/screen", json={"text": "nice day"}, headers=poster).json()
    b = client.post("/v1/screen", json={"text": "nice day"}, headers=poster).json()
    assert a["post_id"] and b["post_id"] and a["post_id"] != b["post_id"]


def test_self_harm_escalation_signposts_samaritans(client, poster):  # type: ignore[no-untyped-def]
    body = client.post(
        "/v1/screen", json={"text": "honestly everyone would be better off without me"}, headers=poster
    ).json()
    assert body["decision"] == "escalate"
    assert body["review"]["priority"] == "urgent"
    assert "Samaritans" in body["author_message"]
    assert "116 123" in body["author_message"]


def test_held_post_says_why(client, poster):  # type: ignore[no-untyped-def]
    body = client.post("/v1/screen", json={"text": "you useless cow"}, headers=poster).json()
    assert body["decision"] == "hold"
    assert "moderator" in body["author_message"]
    assert "insulting" in body["author_message"]  # the reason, in plain words


def test_staff_directory_keeps_colleagues_and_redacts_residents(client, make_key, poster):  # type: ignore[no-untyped-def]
    admin = auth(make_key("org-a", "admin"))
    r = client.put("/v1/staff-directory", json={"names": ["Priya Sharma"]}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"org": "org-a", "count": 1}
    listing = client.get("/v1/staff-directory", headers=admin).json()
    assert listing["names"] == ["Priya Sharma"] and listing["count"] == 1  # fields are added, never renamed

    text = "Huge thanks to Priya Sharma for sitting with Mrs Hughes all afternoon"
    body = client.post("/v1/screen", json={"text": text, "kind": "special_mention"}, headers=poster).json()
    assert "Priya Sharma" in body["redacted_text"]
    assert "Hughes" not in body["redacted_text"]
    spans = [text[e["start"] : e["end"]] for e in body["entities"]]
    assert any("Hughes" in s for s in spans)
    assert not any("Priya" in s for s in spans)
    assert body["decision"] == "allow_redacted"


def test_staff_directory_is_per_org(client, make_key):  # type: ignore[no-untyped-def]
    client.put(
        "/v1/staff-directory", json={"names": ["Priya Sharma"]}, headers=auth(make_key("org-a", "admin"))
    )
    text = "Huge thanks to Priya Sharma for sitting with Mrs Hughes all afternoon"
    body = client.post(
        "/v1/screen",
        json={"text": text, "kind": "special_mention"},
        headers=auth(make_key("org-b", "poster")),
    ).json()
    assert "Priya Sharma" not in body["redacted_text"]  # org-b never told us Priya is staff


def test_idempotent_post_id(client, poster, moderator):  # type: ignore[no-untyped-def]
    payload = {"text": "whoever left the sluice like that is a lazy idiot", "post_id": "dup-1"}
    first = client.post("/v1/screen", json=payload, headers=poster).json()
    second = client.post("/v1/screen", json=payload, headers=poster).json()
    assert first["decision"] == second["decision"] == "hold"
    assert first == second
    items = client.get("/v1/reviews", headers=moderator).json()["items"]
    assert [i["post_id"] for i in items].count("dup-1") == 1


def test_an_edit_under_the_same_post_id_is_never_answered_with_the_old_decision(client, poster):  # type: ignore[no-untyped-def]
    """Issue 23: a platform that reuses the post id for an edit must not publish the edit unscreened."""
    first = client.post(
        "/v1/screen", json={"text": "lovely day in the garden", "post_id": "e-1"}, headers=poster
    )
    assert first.json()["decision"] == "allow"
    edit = {"text": "lovely day. whoever left the sluice like that is a lazy idiot", "post_id": "e-1"}
    r = client.post("/v1/screen", json=edit, headers=poster)
    assert r.status_code == 409 and "new post_id" in r.json()["detail"]
    batch = client.post("/v1/screen/batch", json={"posts": [edit]}, headers=poster)
    assert batch.status_code == 409
    # The edit screened under a new post id gets its own decision.
    r2 = client.post("/v1/screen", json=edit | {"post_id": "e-1:v2"}, headers=poster)
    assert r2.status_code == 200 and r2.json()["decision"] == "hold"
    # A retry of the original text is still idempotent.
    again = client.post(
        "/v1/screen", json={"text": "lovely day in the garden", "post_id": "e-1"}, headers=poster
    )
    assert again.json() == first.json()


@pytest.mark.parametrize("text", ["\u200b\u200b\u200b", "\u2800 \u3164", " \n\t ", "\u202e\u202c"])
def test_a_post_with_no_visible_character_is_refused(client, poster, text: str):  # type: ignore[no-untyped-def]
    r = client.post("/v1/screen", json={"text": text}, headers=poster)
    assert r.status_code == 422


def test_reversed_hidden_text_is_read_as_shown_and_held(client, poster):  # type: ignore[no-untyped-def]
    """A right-to-left override displays reversed code points as plain English: screened as shown, and held."""
    shown = "Mrs Hughes has a bruise"
    text = "Handover all fine. \u202e" + shown[::-1] + "\u202c thanks"
    body = client.post("/v1/screen", json={"text": text}, headers=poster).json()
    assert body["decision"] == "escalate"  # the keyword double reads "bruise" once the override is undone
    assert "Hughes" not in body["redacted_text"] and "sehguH" not in body["redacted_text"]
    plain = client.post(
        "/v1/screen", json={"text": "Handover all fine. \u202eenif lla\u202c"}, headers=poster
    )
    assert plain.json()["decision"] == "hold"


def test_post_id_namespaces_are_per_org(client, make_key):  # type: ignore[no-untyped-def]
    a = client.post(
        "/v1/screen",
        json={"text": "you useless cow", "post_id": "shared"},
        headers=auth(make_key("org-a", "poster")),
    ).json()
    b = client.post(
        "/v1/screen",
        json={"text": "what a lovely day", "post_id": "shared"},
        headers=auth(make_key("org-b", "poster")),
    ).json()
    assert a["decision"] == "hold"
    assert b["decision"] == "allow"
    assert b["review"] is None


def test_org_isolation_of_review_items(client, make_key, poster, moderator):  # type: ignore[no-untyped-def]
    body = client.post(
        "/v1/screen", json={"text": "you useless cow", "post_id": "iso-1"}, headers=poster
    ).json()
    rid = body["review"]["id"]
    other = auth(make_key("org-b", "moderator"))
    assert client.get(f"/v1/reviews/{rid}", headers=other).status_code == 404
    assert client.post(f"/v1/reviews/{rid}/claim", headers=other).status_code == 404
    r = client.post(f"/v1/reviews/{rid}/decision", json={"action": "approve"}, headers=other)
    assert r.status_code == 404
    assert client.get("/v1/reviews", headers=other).json()["items"] == []
    assert client.post("/v1/reviews/claim-next", headers=other).json() is None
    stats = client.get("/v1/reviews/stats", headers=other).json()
    assert stats["by_state"].get("pending", 0) == 0
    # The owner still sees it, untouched by the attempts above.
    item = client.get(f"/v1/reviews/{rid}", headers=moderator).json()
    assert item["status"] == "pending" and item["claimed"] is False


def test_stored_before_answer(client, poster, app_state):  # type: ignore[no-untyped-def]
    from storage import reviews, screenings

    body = client.post(
        "/v1/screen", json={"text": "you useless cow", "post_id": "st-1"}, headers=poster
    ).json()
    with app_state.require_db().session() as s:
        row = screenings.get_screening(s, org="org-a", post_id="st-1")
        assert row is not None and row.decision == "hold"
        item = reviews.review_for_screening(s, screening_id=row.id)
        assert item is not None and item.id == body["review"]["id"]
        assert row.original_enc and "useless" not in row.original_enc  # encrypted at rest


def test_healthz_and_readyz(client):  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["ready"] is True
    assert r.json()["model_version"] == KeywordClassifier.version


def test_batch_same_semantics(client, poster):  # type: ignore[no-untyped-def]
    posts = [{"text": t, "post_id": f"b-{i}"} for i, (t, _, _) in enumerate(CASES)]
    r = client.post("/v1/screen/batch", json={"posts": posts}, headers=poster)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["decision"] for x in results] == [d for _, d, _ in CASES]
    again = client.post("/v1/screen", json=posts[2], headers=poster).json()
    assert again["review"]["id"] == results[2]["review"]["id"]


def test_batch_mixes_stored_and_new_posts_in_order(client, poster, app_state):  # type: ignore[no-untyped-def]
    """A batch larger than the micro-batch size (several pipelined chunks), with some posts already screened:
    answers come back in request order, stored posts answer with their stored decision, nothing twice."""
    from storage import screenings

    first = client.post("/v1/screen", json={"text": "you useless cow", "post_id": "mix-5"}, headers=poster)
    texts = [t for t, _, _ in CASES]
    posts = [{"text": texts[i % len(texts)], "post_id": f"mix-{i}"} for i in range(70)]
    posts[5] = {"text": "you useless cow", "post_id": "mix-5"}  # a retry: the stored answer
    r = client.post("/v1/screen/batch", json={"posts": posts}, headers=poster)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["post_id"] for x in results] == [p["post_id"] for p in posts]
    assert results[5] == first.json()
    expected = {t: d for t, d, _ in CASES}
    assert all(
        x["decision"] == expected[p["text"]]
        for x, p in zip(results, posts, strict=True)
        if p["post_id"] != "mix-5"
    )
    with app_state.require_db().session() as s:
        stored = screenings.get_screenings(s, org="org-a", post_ids=[p["post_id"] for p in posts])
    assert len(stored) == 70


def test_confidentiality_rule_is_configurable_per_organisation(client, make_key):  # type: ignore[no-untyped-def]
    """Issue 17 §3: held by default; an org that switches the special-category hold off publishes redacted."""
    text = "Mrs Hughes in room 3 is HIV positive, please be careful with sharps"
    access = "the keysafe code at 14 Elm Road is 2580"
    a, b = auth(make_key("org-a", "poster")), auth(make_key("org-b", "poster"))
    admin_b = auth(make_key("org-b", "admin"))
    assert client.get("/v1/admin/confidentiality", headers=admin_b).json() == {
        "special_category": True,
        "access_details": True,
    }
    r = client.put("/v1/admin/confidentiality", json={"special_category": False}, headers=admin_b)
    assert r.status_code == 200 and r.json() == {"special_category": False, "access_details": True}
    held = client.post("/v1/screen", json={"text": text}, headers=a).json()
    assert held["decision"] == "hold" and "Hughes" not in held["redacted_text"]
    published = client.post("/v1/screen", json={"text": text}, headers=b).json()
    assert published["decision"] == "allow_redacted" and "Hughes" not in published["redacted_text"]
    # The access-details hold still applies to org-b, and the code is redacted in both organisations.
    for key in (a, b):
        body = client.post("/v1/screen", json={"text": access}, headers=key).json()
        assert body["decision"] == "hold" and "2580" not in body["redacted_text"]
    assert client.put("/v1/admin/confidentiality", json={"x": 1}, headers=admin_b).status_code == 422


def test_server_timing_says_where_the_answer_spent_its_time(client, poster):  # type: ignore[no-untyped-def]
    """Issue 22 §4: each stage's milliseconds in ``Server-Timing`` (a first screening: every stage; the
    idempotent repeat: only the look-up that answered it)."""
    import re

    r = client.post("/v1/screen", json={"text": "you useless cow", "post_id": "st-1"}, headers=poster)
    timing = r.headers["server-timing"]
    stages = dict(re.findall(r"(\w+);dur=([\d.]+)", timing))
    assert list(stages) == ["lookup", "pii", "normalise", "classifier", "policy", "store"], timing
    assert all(float(v) >= 0 for v in stages.values())
    assert "_timings" not in r.text  # a header, never part of the body
    again = client.post("/v1/screen", json={"text": "you useless cow", "post_id": "st-1"}, headers=poster)
    assert list(dict(re.findall(r"(\w+);dur=([\d.]+)", again.headers["server-timing"]))) == ["lookup"]
