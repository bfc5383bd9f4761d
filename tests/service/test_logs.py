"""Issue 19 §1: JSON logs with request ids; no post text, identifier, author id or key ever reaches a log line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from service import logs, observability
from tests.helpers import auth, metric_samples, screen_ok
from tests.webhook_receiver import Receiver

RESIDENT = "Doris Pemberton-Quayle"
NHS = "943 476 5919"
PHONE = "07700 900461"
EMAIL = "doris.pq@example.org"
AUTHOR = "author-zz-991"
ANON_AUTHOR = "author-anon-zz-417"
CORRECTION = "Doris Pemberton-Quayle in room 7 slipped, please check"
POSTS = [
    f"{RESIDENT} (NHS number {NHS}) had a bruise on her arm after the night shift",
    f"Ring her son on {PHONE} or email {EMAIL} about {RESIDENT}'s visit",
    f"Lovely singing with {RESIDENT} this afternoon",
]
# Distinctive words of the posts (a leak of part of a post shows up too) and the identifiers in other spellings.
SECRETS = [
    RESIDENT,
    "Pemberton",
    "Quayle",
    NHS,
    NHS.replace(" ", ""),
    PHONE,
    PHONE.replace(" ", ""),
    EMAIL,
    AUTHOR,
    ANON_AUTHOR,
    "night shift",
    "singing",
    "slipped",
    *POSTS,
]


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Every record at DEBUG, formatted by the service's JSON handler (plus caplog's own records)."""
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logs.log_handler("json", stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _all_log_text(stream: io.StringIO, caplog: pytest.LogCaptureFixture) -> str:
    text_format = logs.text_formatter()
    parts = [stream.getvalue(), caplog.text]
    for record in caplog.records:
        record.request_id = getattr(record, "request_id", None)
        parts.append(text_format.format(record))
        parts.append(repr(record.args))
        parts.append(repr(vars(record)))
    return "\n".join(parts)


def test_logs_never_hold_post_text_identifiers_author_ids_or_keys(  # type: ignore[no-untyped-def]
    client, make_key, classifier, captured, caplog
):
    poster_key, moderator_key, lead_key, admin_key = (
        make_key("org-a", role) for role in ("poster", "moderator", "safeguarding_lead", "admin")
    )
    poster, moderator, lead, admin = (auth(k) for k in (poster_key, moderator_key, lead_key, admin_key))
    receiver = Receiver()
    try:
        hook = client.post(
            "/v1/admin/webhooks", json={"url": receiver.url, "events": ["post.escalated"]}, headers=admin
        )
        assert hook.status_code == 201, hook.text

        held = screen_ok(client, poster, POSTS[0], author_id=AUTHOR, post_id="p-1")
        assert held["review"] is not None
        screen_ok(client, poster, POSTS[1], author_id=ANON_AUTHOR, anonymous=True, post_id="p-2")
        r = client.post(
            "/v1/screen/batch",
            json={
                "posts": [{"text": POSTS[2], "author_id": AUTHOR}, {"text": POSTS[0], "author_id": AUTHOR}]
            },
            headers=poster,
        )
        assert r.status_code == 200, r.text
        # an edit under the same post id (409), the text in failing bodies (422), a bad key (401)
        assert (
            client.post("/v1/screen", json={"text": POSTS[1], "post_id": "p-1"}, headers=poster).status_code
            == 409
        )
        assert client.post("/v1/screen", json={"text": POSTS[0] + "\x00"}, headers=poster).status_code == 422
        bad = client.post(
            "/v1/screen", json={"text": POSTS[0], "author_id": AUTHOR, "kind": 7}, headers=poster
        )
        assert bad.status_code == 422
        assert client.post("/v1/screen", content=POSTS[0].encode(), headers=poster).status_code == 422
        assert (
            client.post("/v1/screen", json={"text": POSTS[0]}, headers=auth(poster_key + "x")).status_code
            == 401
        )
        # a classifier fault: the post is held, the fault logged (with a traceback) without the post
        classifier.fail = True
        faulted = screen_ok(client, poster, POSTS[1] + " again", author_id=AUTHOR)
        assert faulted["decision"] != "allow" and faulted["degraded"]
        classifier.fail = False

        # moderators: a corrected redaction refused (still names her), then one accepted; the lead reads
        rid = held["review"]["id"]
        assert client.get(f"/v1/reviews/{rid}", headers=moderator).status_code == 200
        assert client.post(f"/v1/reviews/{rid}/claim", headers=moderator).status_code == 200
        refused = client.post(
            f"/v1/reviews/{rid}/decision",
            json={"action": "reject", "labels": {}, "redacted_text": CORRECTION},
            headers=moderator,
        )
        assert refused.status_code == 422, refused.text
        assert (
            client.get(
                f"/v1/reviews/{rid}/original", params={"reason": "checking the original text"}, headers=lead
            ).json()["text"]
            == POSTS[0]
        )
        decided = client.post(
            f"/v1/reviews/{rid}/decision",
            json={"action": "reject", "labels": {}, "redacted_text": "[RESIDENT] in [ROOM] slipped"},
            headers=moderator,
        )
        assert decided.status_code == 200, decided.text
        anon = client.get("/v1/reviews", headers=moderator).json()
        for item in anon["items"]:
            client.post(
                f"/v1/reviews/{item['id']}/reveal-author",
                json={"reason": "Risk to life: s42 enquiry opened"},
                headers=lead,
            )
        assert client.get("/metrics", headers=admin).status_code == 200
        receiver.wait_for(lambda r: True)
    finally:
        receiver.stop()

    logged = _all_log_text(captured, caplog)
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert any(line["logger"] == "carescreen.access" for line in lines)
    assert any(line["level"] == "ERROR" and line["request_id"] for line in lines)  # the classifier fault
    for secret in [*SECRETS, poster_key, moderator_key, lead_key, admin_key]:
        assert secret.lower() not in logged.lower(), f"{secret!r} reached the logs"


HEX32 = re.compile(r"[0-9a-f]{32}")


def test_invalid_request_ids_are_replaced(client) -> None:  # type: ignore[no-untyped-def]
    for given in ["x" * 65, "has space", "<script>", "a/b", "ünïcode", "", "a,b", "new\\nline"]:
        r = client.get("/healthz", headers={"X-Request-ID": given.encode("utf-8")})
        assert r.headers["x-request-id"] != given
        assert HEX32.fullmatch(r.headers["x-request-id"]), given


def test_request_ids_are_echoed_or_generated(client, make_key, captured, caplog) -> None:  # type: ignore[no-untyped-def]
    given = "abc-DEF_1.2"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["x-request-id"] == given
    assert client.get("/healthz", headers={"X-Request-ID": "z" * 64}).headers["x-request-id"] == "z" * 64
    first, second = (client.get("/healthz").headers["x-request-id"] for _ in range(2))
    assert HEX32.fullmatch(first) and HEX32.fullmatch(second) and first != second
    # on answers the guard and the auth layer give too
    assert client.get("/v1/reviews", headers={"X-Request-ID": "r-401"}).headers["x-request-id"] == "r-401"
    big = client.post(
        "/v1/screen", content=b"x" * 2_000_000, headers={"X-Request-ID": "r-413", **auth(make_key())}
    )
    assert big.status_code == 413 and big.headers["x-request-id"] == "r-413"
    access = [json.loads(x) for x in captured.getvalue().splitlines() if '"carescreen.access"' in x]
    assert any(
        a["request_id"] == "r-413" and a["route"] == "/v1/screen" and a["status"] == 413 for a in access
    )


def test_request_id_reaches_the_micro_batch_thread(client, make_key, classifier, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    root_handler = caplog.handler
    root_handler.addFilter(logs.RequestIdFilter())
    classifier.fail = True
    r = client.post(
        "/v1/screen", json={"text": "fine words"}, headers={"X-Request-ID": "rid-77", **auth(make_key())}
    )
    classifier.fail = False
    assert r.status_code == 200
    faults = [rec for rec in caplog.records if rec.levelno >= logging.ERROR and rec.name == "models.pipeline"]
    assert faults and all(getattr(rec, "request_id", None) == "rid-77" for rec in faults)


def test_access_line(client, make_key, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="carescreen.access")
    key = make_key("org-a", "moderator")
    r = client.get(
        "/v1/reviews/review-secret-id?status=pending&q=Doris",
        headers={"X-Request-ID": "acc-1", "X-Custom": "header-value-zz", **auth(key)},
    )
    assert r.status_code in (404, 405)
    records = [rec for rec in caplog.records if rec.name == "carescreen.access"]
    assert len(records) == 1
    record = records[0]
    record.request_id = "acc-1" if not hasattr(record, "request_id") else record.request_id
    line = json.loads(logs.json_formatter().format(record))
    assert line["level"] == "INFO" and line["logger"] == "carescreen.access"
    assert (
        line["method"] == "GET"
        and line["route"] == "/v1/reviews/{review_id}"
        and line["status"] == r.status_code
    )
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == "acc-1"
    raw = json.dumps(line)
    for absent in ("review-secret-id", "status=pending", "Doris", "header-value-zz", key, "Bearer"):
        assert absent not in raw


def test_champion_change_is_logged_at_warning(caplog) -> None:  # type: ignore[no-untyped-def]
    from service.app import _poll_champion

    class Holder:
        pipeline = None
        model_version = "m/1"

        def current_alias_version(self) -> str:
            return "m/2"

        def reload(self) -> str:
            self.model_version = "m/2"
            return "m/2"

    state = SimpleNamespace(
        settings=SimpleNamespace(model_poll_seconds=0.01), holder=Holder(), db=None, loading=False
    )

    async def run() -> None:
        task = asyncio.create_task(_poll_champion(state))  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        task.cancel()

    caplog.set_level(logging.DEBUG)
    asyncio.run(run())
    changed = [r for r in caplog.records if "champion changed" in r.getMessage()]
    assert changed and all(r.levelno >= logging.WARNING for r in changed)


def test_configure_logging_json_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    """``carescreen serve``'s set-up: basicConfig's handler replaced by one JSON handler on the root logger
    (writing to the current stderr), uvicorn's loggers routed through it; other handlers (pytest's) kept."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    basic = logging.StreamHandler()
    root.addHandler(basic)
    ours = lambda: [h for h in root.handlers if h not in saved[0]]  # noqa: E731
    try:
        logs.configure_logging("json", level=logging.WARNING)
        assert basic not in root.handlers and len(ours()) == 1
        assert all(h in root.handlers for h in saved[0])
        capsys.readouterr()
        token = logs.request_id_var.set("cfg-1")
        try:
            logging.getLogger("uvicorn.error").warning("listening")
            observability.access_log.info("GET / 200")
        finally:
            logs.request_id_var.reset(token)
        lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
        assert [(x["logger"], x["request_id"]) for x in lines] == [
            ("uvicorn.error", "cfg-1"),
            ("carescreen.access", "cfg-1"),
        ]
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", x["time"]) for x in lines)
        logs.configure_logging("text", level=logging.WARNING)
        assert len(ours()) == 1 and "[%(request_id)s]" in ours()[0].formatter._fmt  # type: ignore[union-attr]
    finally:
        for h in ours():
            root.removeHandler(h)
        root.setLevel(saved[1])
        observability.access_log.setLevel(logging.NOTSET)


def test_an_unhandled_error_is_logged_with_its_request_id(client, make_key, caplog) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    def boom() -> None:
        raise RuntimeError("injected fault")

    client.app.add_api_route("/v1/boom/{thing}", boom)
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(logs.RequestIdFilter())
    admin = auth(make_key("org-a", "admin"))
    before = metric_samples(client.get("/metrics", headers=admin).text)
    raw = TestClient(client.app, raise_server_exceptions=False)
    r = raw.get("/v1/boom/one", headers={"X-Request-ID": "boom-1"})
    assert r.status_code == 503
    errors = [rec for rec in caplog.records if rec.name == "service.app" and rec.levelno >= logging.ERROR]
    assert errors and errors[0].request_id == "boom-1"
    after = metric_samples(client.get("/metrics", headers=admin).text)
    key = (
        "carescreen_http_requests_total",
        (("method", "GET"), ("route", "/v1/boom/{thing}"), ("status", "500")),
    )
    assert after.get(key, 0) - before.get(key, 0) == 1
