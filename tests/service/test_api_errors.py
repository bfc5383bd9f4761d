"""Every error code of the contract, and bad input of every kind: a clear 4xx (JSON with "detail"), never a 500."""

from __future__ import annotations

import json
import time

import pytest

from models.policy import DECISIONS
from tests.helpers import auth


@pytest.fixture
def client(shared):  # type: ignore[no-untyped-def]
    return shared.client


@pytest.fixture
def make_key(shared):  # type: ignore[no-untyped-def]
    return shared.make_key


@pytest.fixture
def app_state(shared):  # type: ignore[no-untyped-def]
    return shared.state


def assert_json_error(r, status: int | None = None) -> None:  # type: ignore[no-untyped-def]
    if status is not None:
        assert r.status_code == status, (r.status_code, r.text)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    assert "detail" in r.json()


@pytest.fixture
def poster(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "poster"))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer cs_000000000000_notarealkeyatall"},
        {"Authorization": "Bearer not-even-the-right-shape"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer"},
        {"Authorization": "cs_000000000000_secret"},
    ],
    ids=["missing", "wrong-key", "malformed-key", "basic-scheme", "empty-token", "scheme-only", "no-scheme"],
)
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/screen"), ("GET", "/v1/reviews"), ("GET", "/v1/reports/risk")]
)
def test_401(client, headers, method, path):  # type: ignore[no-untyped-def]
    r = client.request(method, path, json={"text": "hello"} if method == "POST" else None, headers=headers)
    assert_json_error(r, 401)
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_401_tampered_secret_of_a_real_key(client, make_key):  # type: ignore[no-untyped-def]
    key = make_key("org-a", "poster")
    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert_json_error(client.post("/v1/screen", json={"text": "hi"}, headers=auth(tampered)), 401)


def test_401_revoked_key(client, make_key, app_state):  # type: ignore[no-untyped-def]
    from storage import keys

    key = make_key("org-a", "poster")
    assert client.post("/v1/screen", json={"text": "hi"}, headers=auth(key)).status_code == 200
    with app_state.require_db().session() as s:
        row = keys.authenticate(s, plaintext=key)
        assert row is not None
        assert keys.revoke_api_key(s, org="org-a", key_id=row.id)
    assert_json_error(client.post("/v1/screen", json={"text": "hi"}, headers=auth(key)), 401)


@pytest.mark.parametrize(
    ("role", "method", "path", "body"),
    [
        ("moderator", "POST", "/v1/screen", {"text": "hi"}),
        ("admin", "POST", "/v1/screen", {"text": "hi"}),
        ("safeguarding_lead", "POST", "/v1/screen/batch", {"posts": [{"text": "hi"}]}),
        ("poster", "GET", "/v1/reviews", None),
        ("poster", "GET", "/v1/reviews/stats", None),
        ("poster", "POST", "/v1/reviews/claim-next", None),
        ("moderator", "PUT", "/v1/staff-directory", {"names": ["A B"]}),
        ("safeguarding_lead", "PUT", "/v1/admin/sla", {"urgent_minutes": 5}),
        ("moderator", "POST", "/v1/admin/reload-model", None),
        ("moderator", "GET", "/v1/reports/risk", None),
        ("poster", "GET", "/v1/reports/risk", None),
        ("moderator", "GET", "/v1/audit/verify", None),
        ("moderator", "GET", "/v1/audit/export", None),
    ],
)
def test_403_wrong_role(client, make_key, role, method, path, body):  # type: ignore[no-untyped-def]
    r = client.request(method, path, json=body, headers=auth(make_key("org-a", role)))
    assert_json_error(r, 403)


def test_413_text_too_long(client, poster):  # type: ignore[no-untyped-def]
    assert_json_error(client.post("/v1/screen", json={"text": "a" * 10_001}, headers=poster), 413)


def test_exactly_10000_chars_is_accepted(client, poster):  # type: ignore[no-untyped-def]
    r = client.post("/v1/screen", json={"text": ("quiet shift " * 1000)[:10_000]}, headers=poster)
    assert r.status_code == 200, r.text
    assert r.json()["decision"] in DECISIONS


@pytest.mark.parametrize("size", [1_000_001, 10_000_000])
def test_413_body_too_large(client, poster, size):  # type: ignore[no-untyped-def]
    body = json.dumps({"text": "a" * size}).encode()
    t0 = time.monotonic()
    r = client.post("/v1/screen", content=body, headers={**poster, "Content-Type": "application/json"})
    assert_json_error(r, 413)
    assert time.monotonic() - t0 < 5


def test_413_body_too_large_without_content_length(client, poster):  # type: ignore[no-untyped-def]
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"text": "'
        for _ in range(11):
            yield b"a" * 100_000
        yield b'"}'

    r = client.post("/v1/screen", content=chunks(), headers={**poster, "Content-Type": "application/json"})
    assert_json_error(r, 413)


@pytest.mark.parametrize(
    "payload",
    [
        {"text": ""},
        {"text": "   \n\t  "},
        {"text": "\u00a0\u2003"},
        {"text": 123},
        {"text": None},
        {"text": ["a list"]},
        {"text": "hi", "anonymous": "yes"},
        {"text": "hi", "anonymous": 1},
        {"text": "hi", "post_id": 7},
        {"text": "hi", "kind": "tweet"},
        {"text": "hi", "unexpected": True},
        {"text": "hi\x00there"},
        {"text": "hi", "post_id": "p\x00"},
        {"text": "hi", "author_id": "a\x00b", "anonymous": True},
        {"text": "hi", "circle": "\x00"},
        {"text": "hi", "post_id": "x" * 201},
        {},
        {"post_id": "p"},
    ],
    ids=lambda p: repr(p)[:40],
)
def test_422_bad_bodies(client, poster, payload):  # type: ignore[no-untyped-def]
    assert_json_error(client.post("/v1/screen", json=payload, headers=poster), 422)


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b'"just a string"',
        b"null",
        b"{not json",
        b'{"text": "a",}',
        b"",
    ],
    ids=["list", "string", "null", "broken", "trailing-comma", "empty"],
)
def test_422_not_an_object(client, poster, raw):  # type: ignore[no-untyped-def]
    r = client.post("/v1/screen", content=raw, headers={**poster, "Content-Type": "application/json"})
    assert_json_error(r, 422)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"text": "caf\xe9 \xff\xfe"}', 400),
        (b'\xff\xfe{"text": "hello"}', 400),
        (b'{"text": "\xed\xa0\x80"}', 422),
    ],
)
def test_invalid_utf8(client, poster, raw, status):  # type: ignore[no-untyped-def]
    r = client.post("/v1/screen", content=raw, headers={**poster, "Content-Type": "application/json"})
    assert_json_error(r, status)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"text": "bad \\ud800 surrogate"}',
        b'{"text": "hi", "post_id": "\\udfff"}',
        b'{"text": "hi", "anonymous": true, "author_id": "\\udc00"}',
    ],
)
def test_lone_surrogate_escape_is_a_422(client, poster, raw):  # type: ignore[no-untyped-def]
    r = client.post("/v1/screen", content=raw, headers={**poster, "Content-Type": "application/json"})
    assert_json_error(r, 422)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"text": "hi", "post_id": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b"[" * 100_000,
    ],
    ids=["array", "in-field", "objects", "unclosed"],
)
def test_deeply_nested_json_is_rejected_fast(client, poster, raw):  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    r = client.post("/v1/screen", content=raw, headers={**poster, "Content-Type": "application/json"})
    assert time.monotonic() - t0 < 2.0
    assert_json_error(r, 422)


def test_nested_brackets_inside_a_string_are_fine(client, poster):  # type: ignore[no-untyped-def]
    r = client.post("/v1/screen", json={"text": "[[[[" * 50 + " {{{{ " * 20}, headers=poster)
    assert r.status_code == 200, r.text


def test_wrong_content_type(client, poster):  # type: ignore[no-untyped-def]
    r = client.post(
        "/v1/screen",
        content=b"text=hello",
        headers={**poster, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_json_error(r, 422)


def test_invalid_content_length(client, poster):  # type: ignore[no-untyped-def]
    r = client.post(
        "/v1/screen",
        content=b'{"text": "hi"}',
        headers={**poster, "Content-Length": "abc", "Content-Type": "application/json"},
    )
    assert_json_error(r, 400)


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("\U0001f642\U0001f642\U0001f602", {"allow"}),
        ("Сегодня был очень тяжёлый день на работе, все устали", {"hold"}),  # cannot judge: a person must
        ("今日はとても忙しい一日でした。みんな疲れています。", {"hold"}),
        ("Heute war ein sehr langer Tag auf der Station, alle waren müde", {"hold"}),
        ("what a lazy id\u202eiot", {"hold"}),  # RTL override inside a word: still flagged
        ("you useless\u200b cow", {"hold"}),
        ("control \x01\x02\x1b[31m characters", set(DECISIONS)),
        ("\u202e\u2066\u2067 mixed bidi marks \u2069", set(DECISIONS)),
        ("a", set(DECISIONS)),
    ],
)
def test_odd_but_valid_text_gets_a_correct_decision(client, poster, text, allowed):  # type: ignore[no-untyped-def]
    r = client.post("/v1/screen", json={"text": text}, headers=poster)
    assert r.status_code == 200, r.text
    assert r.json()["decision"] in allowed, r.json()


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/v1/reviews?limit=0", {}),
        ("GET", "/v1/reviews?limit=100000", {}),
        ("GET", "/v1/reviews?limit=abc", {}),
        ("GET", "/v1/reviews?status=bogus", {}),
        ("GET", "/v1/reviews?priority=asap", {}),
        ("GET", "/v1/reviews?category=gossip", {}),
        ("GET", "/v1/reviews?cursor=%%%not-base64", {}),
        ("GET", "/v1/reviews?cursor=WzEsMl0=", {}),  # valid base64, wrong shape
        ("POST", "/v1/reviews/claim-next", {"content": b"[" * 5000}),
        ("GET", "/v1/reviews/nonexistent-id", {}),
        ("POST", "/v1/reviews/nonexistent-id/claim", {}),
        ("POST", "/v1/reviews/nonexistent-id/decision", {"json": {"action": "approve"}}),
    ],
    ids=lambda v: str(v)[:40],
)
def test_review_routes_bad_input(client, make_key, method, path, kwargs):  # type: ignore[no-untyped-def]
    r = client.request(method, path, headers=auth(make_key("org-a", "moderator")), **kwargs)
    assert_json_error(r, 404 if "nonexistent-id" in path else 422)


@pytest.mark.parametrize(
    "body",
    [
        {"action": "delete"},
        {"action": "approve", "labels": {"gossip": True}},
        {"action": "approve", "labels": {"toxicity": "yes"}},
        {"action": "approve", "redacted_text": "   "},
        {"action": "approve", "extra": 1},
        {"labels": {}},
        {"action": "approve", "note": "n" * 2001},
    ],
)
def test_decision_bad_bodies(client, make_key, body):  # type: ignore[no-untyped-def]
    r = client.post("/v1/screen", json={"text": "you useless cow"}, headers=auth(make_key("org-a", "poster")))
    rid = r.json()["review"]["id"]
    r = client.post(f"/v1/reviews/{rid}/decision", json=body, headers=auth(make_key("org-a", "moderator")))
    assert_json_error(r, 422)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("PUT", "/v1/staff-directory", {"json": {"names": "Priya"}}),
        ("PUT", "/v1/staff-directory", {"json": {"names": [1, 2]}}),
        ("PUT", "/v1/staff-directory", {"json": {"names": ["x" * 201]}}),
        ("PUT", "/v1/staff-directory", {"json": {"names": [], "more": 1}}),
        ("PUT", "/v1/admin/sla", {"json": {"urgent_minutes": 0}}),
        ("PUT", "/v1/admin/sla", {"json": {"urgent_minutes": "soon"}}),
    ],
)
def test_admin_routes_bad_input(client, make_key, method, path, kwargs):  # type: ignore[no-untyped-def]
    r = client.request(method, path, headers=auth(make_key("org-a", "admin")), **kwargs)
    assert_json_error(r, 422)


@pytest.mark.parametrize("query", ["from=yesterday", "to=2026-13-45", "from=" + "9" * 41])
def test_report_bad_dates(client, make_key, query):  # type: ignore[no-untyped-def]
    r = client.get(f"/v1/reports/risk?{query}", headers=auth(make_key("org-a", "safeguarding_lead")))
    assert_json_error(r, 422)


def test_reveal_bad_bodies(client, make_key):  # type: ignore[no-untyped-def]
    lead = auth(make_key("org-a", "safeguarding_lead"))
    r = client.post(
        "/v1/screen",
        json={"text": "you useless cow", "anonymous": True, "author_id": "u1"},
        headers=auth(make_key("org-a", "poster")),
    )
    rid = r.json()["review"]["id"]
    for body in ({}, {"reason": ""}, {"reason": 5}, {"reason": "a valid enough reason", "x": 1}):
        assert_json_error(client.post(f"/v1/reviews/{rid}/reveal-author", json=body, headers=lead), 422)


def test_unknown_route_and_method(client, make_key):  # type: ignore[no-untyped-def]
    assert_json_error(client.get("/v1/nothing-here"), 404)
    assert_json_error(client.get("/v1/screen", headers=auth(make_key("org-a", "poster"))), 405)
