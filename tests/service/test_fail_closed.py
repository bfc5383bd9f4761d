"""Fail closed (issue 2 §7, issue 10 §4): a fault in the classifier, the PII engine or the database never
yields ``allow``; the post is held (and stored) or the answer is a 503 the posting flow treats as "do not
publish". Readiness says what is wrong and recovers when the fault clears."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.exc import OperationalError

from models.policy import PUBLISHABLE
from tests.helpers import KeywordClassifier, auth, wait_ready

TEXTS = [
    "Lovely shift today, the team were brilliant",
    "Doris in room 4 enjoyed the garden today",
    "whoever left the sluice like that is a lazy idiot",
    "send pics of you in your uniform",
]


@pytest.fixture
def poster(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "poster"))


@pytest.fixture
def moderator(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "moderator"))


def _stored(app_state, post_id: str):  # type: ignore[no-untyped-def]
    from storage import reviews, screenings

    with app_state.require_db().session() as s:
        row = screenings.get_screening(s, org="org-a", post_id=post_id)
        item = reviews.review_for_screening(s, screening_id=row.id) if row else None
        return row, item


@pytest.mark.parametrize("text", TEXTS)
def test_classifier_fault_holds_and_stores(client, classifier, poster, moderator, app_state, text):  # type: ignore[no-untyped-def]
    classifier.fail = True
    r = client.post("/v1/screen", json={"text": text, "post_id": "cf-1"}, headers=poster)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == "hold"
    assert body["degraded"] == ["classifier"]
    assert body["flags"] == []
    assert body["review"] is not None
    assert "moderator" in body["author_message"]
    row, item = _stored(app_state, "cf-1")
    assert row.decision == "hold" and row.degraded == ["classifier"]
    assert item is not None and item.id == body["review"]["id"] and item.status == "pending"
    listed = client.get("/v1/reviews", headers=moderator).json()["items"]
    assert [i["id"] for i in listed] == [body["review"]["id"]]
    assert listed[0]["reasons"] == ["degraded:classifier"]


def test_classifier_recovers_after_fault(client, classifier, poster):  # type: ignore[no-untyped-def]
    classifier.fail = True
    assert client.post("/v1/screen", json={"text": "nice day"}, headers=poster).json()["decision"] == "hold"
    classifier.fail = False
    assert client.post("/v1/screen", json={"text": "nice day"}, headers=poster).json()["decision"] == "allow"


@pytest.mark.parametrize(
    "bad",
    [
        lambda n: [[0.1] * 8] * (n + 1),  # wrong shape
        lambda n: [[float("nan")] * 8] * n,  # non-finite
        lambda n: [[0.1] * 7] * n,  # wrong width
    ],
)
def test_classifier_garbage_output_fails_closed(client, classifier, poster, monkeypatch, bad):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(classifier, "predict_proba", lambda texts: bad(len(texts)))
    body = client.post("/v1/screen", json={"text": "nice day"}, headers=poster).json()
    assert body["decision"] == "hold"
    assert body["degraded"] == ["classifier"]


def _boom(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise RuntimeError("injected PII fault")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Lovely shift today, the team were brilliant", "hold"),
        ("Doris in room 4 enjoyed the garden today", "hold"),
        ("Doris in room 4 has a bruise on her arm", "escalate"),  # a disclosure still reaches the lead
    ],
)
def test_pii_fault_never_allows(client, redactor, poster, app_state, monkeypatch, text, expected):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(redactor.analyzer, "analyze", _boom)
    r = client.post("/v1/screen", json={"text": text, "post_id": "pii-1"}, headers=poster)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == expected
    assert body["decision"] not in PUBLISHABLE
    assert body["degraded"] == ["pii"]
    assert "Doris" not in body["redacted_text"]
    assert body["review"] is not None
    row, item = _stored(app_state, "pii-1")
    assert row.degraded == ["pii"] and item is not None


def test_pii_and_classifier_fault_together(client, redactor, classifier, poster, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(redactor.analyzer, "analyze", _boom)
    classifier.fail = True
    body = client.post("/v1/screen", json={"text": "nice day"}, headers=poster).json()
    assert body["decision"] == "hold"
    assert sorted(body["degraded"]) == ["classifier", "pii"]


def _operational_error(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise OperationalError("SELECT 1", {}, Exception("injected: database is down"))


def _assert_503(r) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 503, r.text
    assert r.headers.get("retry-after")
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["detail"]


def test_database_down_is_503_never_allow(client, poster, app_state, monkeypatch):  # type: ignore[no-untyped-def]
    for method in ("session", "read_session", "write_session"):
        monkeypatch.setattr(app_state.db, method, _operational_error)
    for text in TEXTS:
        _assert_503(client.post("/v1/screen", json={"text": text}, headers=poster))


@pytest.mark.parametrize("stage", ["record_screenings", "get_screenings", "staff_entries", "sla_minutes"])
def test_database_fails_mid_request(client, poster, moderator, app_state, monkeypatch, stage):  # type: ignore[no-untyped-def]
    from storage import org_settings, screenings, staff

    module = {"staff_entries": staff, "sla_minutes": org_settings}.get(stage, screenings)
    monkeypatch.setattr(module, stage, _operational_error)
    _assert_503(
        client.post("/v1/screen", json={"text": "you useless cow", "post_id": "mid-1"}, headers=poster)
    )
    monkeypatch.undo()
    assert _stored(app_state, "mid-1") == (None, None)  # nothing half-written
    # Once the fault clears, the retried post is screened and stored normally.
    body = client.post(
        "/v1/screen", json={"text": "you useless cow", "post_id": "mid-1"}, headers=poster
    ).json()
    assert body["decision"] == "hold"
    assert _stored(app_state, "mid-1")[1] is not None


def test_database_disconnected_is_503_and_recovers(client, poster, app_state, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(app_state, "connect_db", lambda: False)  # keep the background retry from reconnecting
    db = app_state.db
    app_state.db, app_state.db_error = None, "OperationalError"
    try:
        _assert_503(client.post("/v1/screen", json={"text": "nice day"}, headers=poster))
        _assert_503(client.get("/v1/reviews", headers=poster))
    finally:
        app_state.db, app_state.db_error = db, None
    r = client.post("/v1/screen", json={"text": "nice day"}, headers=poster)
    assert (
        r.status_code == 200 and r.json()["decision"] == "allow"
    )  # recovered: screened as normal, and stored
    held = client.post("/v1/screen", json={"text": "you useless cow"}, headers=poster).json()
    assert held["decision"] == "hold" and held["review"]["id"]


def test_database_at_an_invalid_path(tmp_path, settings, classifier, redactor, make_key):  # type: ignore[no-untyped-def]
    """The database file cannot be opened: readiness says so and screening is a 503, never an allow."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import build_state

    (tmp_path / "blocker").write_text("a file, so no directory can be made here")
    bad = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'blocker' / 'sub' / 'x.db'}"})
    state = build_state(bad, classifier_loader=lambda: classifier, analyzer_factory=lambda: redactor)
    with TestClient(create_app(bad, state=state)) as c:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and state.holder.pipeline is None:
            time.sleep(0.05)
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["database"] is False
        assert "database" in r.json()["errors"]
        _assert_503(c.post("/v1/screen", json={"text": "nice day"}, headers=auth("cs_000000000000_whatever")))


def test_readyz_while_classifier_fails_to_load(settings, redactor, make_key):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import build_state

    broken = {"on": True}

    def loader():  # type: ignore[no-untyped-def]
        if broken["on"]:
            raise FileNotFoundError("model bundle missing")
        return KeywordClassifier()

    state = build_state(settings, classifier_loader=loader, analyzer_factory=lambda: redactor)
    with TestClient(create_app(settings, state=state)) as c:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "model" not in state.holder.readiness.errors:
            time.sleep(0.05)
        r = c.get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["ready"] is False and body["model"] is False
        assert "FileNotFoundError" in body["errors"]["model"]
        assert body["pii"] is True and body["database"] is True

        from storage import keys

        with state.require_db().session() as s:
            poster = auth(keys.create_api_key(s, org="org-a", role="poster")[1])
            admin = auth(keys.create_api_key(s, org="org-a", role="admin")[1])
        _assert_503(c.post("/v1/screen", json={"text": "nice day"}, headers=poster))
        _assert_503(c.post("/v1/screen/batch", json={"posts": [{"text": "nice day"}]}, headers=poster))

        # Still broken: a reload attempt fails and changes nothing.
        assert c.post("/v1/admin/reload-model", headers=admin).status_code == 409
        assert c.get("/readyz").status_code == 503

        broken["on"] = False
        r = c.post("/v1/admin/reload-model", headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["model_version"] == KeywordClassifier.version
        wait_ready(c, timeout=5)
        assert c.get("/readyz").json()["errors"] == {}
        assert c.post("/v1/screen", json={"text": "nice day"}, headers=poster).json()["decision"] == "allow"


def test_pii_engine_fails_to_load(settings, classifier):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import build_state

    def analyzer_factory():  # type: ignore[no-untyped-def]
        raise OSError("spaCy model missing")

    state = build_state(settings, classifier_loader=lambda: classifier, analyzer_factory=analyzer_factory)
    with TestClient(create_app(settings, state=state)) as c:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "pii" not in state.holder.readiness.errors:
            time.sleep(0.05)
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["pii"] is False and r.json()["errors"]["pii"] == "OSError"
        from storage import keys

        with state.require_db().session() as s:
            poster = auth(keys.create_api_key(s, org="org-a", role="poster")[1])
        _assert_503(c.post("/v1/screen", json={"text": "nice day"}, headers=poster))


def test_unexpected_exception_is_503_do_not_publish(client, poster, app_state, monkeypatch):  # type: ignore[no-untyped-def]
    async def explode(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("bug")

    from fastapi.testclient import TestClient

    monkeypatch.setattr(app_state.batcher, "screen", explode)
    r = TestClient(client.app, raise_server_exceptions=False).post(
        "/v1/screen", json={"text": "nice day"}, headers=poster
    )
    _assert_503(r)
    assert "do not publish" in r.json()["detail"]
