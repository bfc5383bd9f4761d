"""Reports, the audit trail over the API, the original text and the anonymous-author reveal (issue 8)."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from sqlalchemy import select

from storage import audit
from storage.tables import AuditEntry
from tests.helpers import auth

TOXIC = "whoever left the sluice like that is a lazy idiot"
AUTHOR = "carer-anon-5150"


@pytest.fixture
def poster(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "poster"))


@pytest.fixture
def lead(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "safeguarding_lead"))


def screen(client, poster, text: str, **extra):  # type: ignore[no-untyped-def]
    r = client.post("/v1/screen", json={"text": text, **extra}, headers=poster)
    assert r.status_code == 200, r.text
    return r.json()


def audit_entries(app_state, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with app_state.require_db().session() as s:
        return list(
            s.execute(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
            ).scalars()
        )


@pytest.mark.parametrize(
    ("role", "status"), [("safeguarding_lead", 200), ("admin", 200), ("moderator", 403), ("poster", 403)]
)
def test_risk_report_access(client, make_key, role, status):  # type: ignore[no-untyped-def]
    headers = auth(make_key("org-a", role))
    assert client.get("/v1/reports/risk", headers=headers).status_code == status
    assert client.get("/v1/reports/risk", headers={**headers, "Accept": "text/csv"}).status_code == status


def test_risk_report_json_and_small_count_suppression(client, poster, lead, make_key):  # type: ignore[no-untyped-def]
    for i in range(6):
        screen(
            client, poster, "Lovely shift today, the team were brilliant", circle="days", post_id=f"ok-{i}"
        )
    for i in range(2):
        screen(client, poster, TOXIC, circle="nights", post_id=f"tox-{i}")
    esc = screen(client, poster, "Doris in room 4 has a bruise on her arm", circle="nights")
    mod = auth(make_key("org-a", "moderator"))
    client.post(
        f"/v1/reviews/{esc['review']['id']}/decision",
        json={"action": "escalate", "labels": {"safeguarding": True}},
        headers=mod,
    )
    screen(client, auth(make_key("org-b", "poster")), TOXIC)  # another org: never counted

    r = client.get("/v1/reports/risk", headers=lead)
    assert r.status_code == 200
    rep = r.json()
    assert rep["org"] == "org-a"
    assert rep["total_screened"] == 9
    assert rep["by_decision"] == {"allow": 6, "escalate": "<5", "hold": "<5"}
    assert rep["by_circle"] == {"days": 6, "nights": "<5"}
    assert rep["by_category"]["toxicity"] == "<5" and rep["by_category"]["hate"] == 0
    assert rep["escalations"]["count"] == "<5"
    assert rep["escalations"]["outcomes"] == {"escalate": "<5"}
    assert rep["escalations"]["time_to_first_action_minutes"]["n"] == 1
    for v in [*rep["by_decision"].values(), *rep["by_circle"].values(), *rep["by_category"].values()]:
        assert v == "<5" or v == 0 or v >= 5  # no count from 1 to 4 is ever shown

    only_days = client.get("/v1/reports/risk", params={"circle": "days"}, headers=lead).json()
    assert only_days["total_screened"] == 6
    future = client.get("/v1/reports/risk", params={"from": "2999-01-01"}, headers=lead).json()
    assert future["total_screened"] == 0
    assert audit_entries(client.app.state.cs, "report.risk")


def test_risk_report_csv(client, poster, lead):  # type: ignore[no-untyped-def]
    for i in range(5):
        screen(client, poster, TOXIC, post_id=f"t{i}")
    r = client.get("/v1/reports/risk", headers={**lead, "Accept": "text/csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["section", "key", "value"]
    assert ["summary", "total_screened", "5"] in rows
    assert ["by_decision", "hold", "5"] in rows
    assert ["by_category", "toxicity", "5"] in rows
    assert ["by_category", "hate", "0"] in rows


def test_reveal_author(client, poster, lead, make_key, app_state, caplog):  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    body = screen(client, poster, TOXIC, anonymous=True, author_id=AUTHOR)
    rid = body["review"]["id"]
    url = f"/v1/reviews/{rid}/reveal-author"
    reason = "Risk to life: the post describes a plan; s42 enquiry opened"
    for role in ("moderator", "admin", "poster"):
        assert (
            client.post(url, json={"reason": reason}, headers=auth(make_key("org-a", role))).status_code
            == 403
        )
    assert client.post(url, json={}, headers=lead).status_code == 422
    assert client.post(url, json={"reason": "because"}, headers=lead).status_code == 422
    assert (
        client.post(
            url, json={"reason": reason}, headers=auth(make_key("org-b", "safeguarding_lead"))
        ).status_code
        == 404
    )
    assert audit_entries(app_state, "author.reveal") == []

    r = client.post(url, json={"reason": reason}, headers=lead)
    assert r.status_code == 200, r.text
    assert r.json() == {"review_id": rid, "author_id": AUTHOR}

    entries = audit_entries(app_state, "author.reveal")
    assert len(entries) == 1
    e = entries[0]
    assert e.subject == f"review:{rid}" and e.details == {"reason": reason}
    assert e.actor.startswith("safeguarding_lead:") and e.org == "org-a"
    assert AUTHOR not in repr(e.details)

    caplog.clear()
    client.post(url, json={"reason": reason}, headers=lead)
    screen(client, poster, "another anonymous one, you useless cow", anonymous=True, author_id=AUTHOR)
    assert AUTHOR not in caplog.text
    assert all(AUTHOR not in r.getMessage() and AUTHOR not in str(r.args) for r in caplog.records)


def test_author_never_in_logs_even_on_failures(client, poster, classifier, app_state, monkeypatch, caplog):  # type: ignore[no-untyped-def]
    from storage import screenings

    caplog.set_level(logging.DEBUG)
    classifier.fail = True
    screen(client, poster, TOXIC, anonymous=True, author_id=AUTHOR)
    classifier.fail = False

    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("store failed")

    monkeypatch.setattr(screenings, "record_screenings", fail)
    r = client.post(
        "/v1/screen",
        json={"text": "Doris in room 4 has a bruise", "anonymous": True, "author_id": AUTHOR},
        headers=poster,
    )
    assert r.status_code == 503
    assert caplog.records  # the faults were logged...
    assert AUTHOR not in caplog.text  # ...without the author
    assert "Doris" not in caplog.text  # ...or a resident's name


def test_reveal_refused_for_named_posts(client, poster, lead):  # type: ignore[no-untyped-def]
    rid = screen(client, poster, TOXIC, author_id="named-1")["review"]["id"]
    r = client.post(f"/v1/reviews/{rid}/reveal-author", json={"reason": "a long enough reason"}, headers=lead)
    assert r.status_code == 409


def test_read_original_lead_only_and_audited(client, poster, lead, make_key, app_state):  # type: ignore[no-untyped-def]
    text = "Doris in room 4 has a bruise on her arm"
    rid = screen(client, poster, text)["review"]["id"]
    for role in ("moderator", "admin"):
        assert (
            client.get(
                f"/v1/reviews/{rid}/original?reason=checking+the+original+text",
                headers=auth(make_key("org-a", role)),
            ).status_code
            == 403
        )
    assert (
        client.get(
            f"/v1/reviews/{rid}/original?reason=checking+the+original+text",
            headers=auth(make_key("org-b", "safeguarding_lead")),
        ).status_code
        == 404
    )
    assert audit_entries(app_state, "original.read") == []
    r = client.get(f"/v1/reviews/{rid}/original?reason=checking+the+original+text", headers=lead)
    assert r.status_code == 200
    assert r.json() == {"review_id": rid, "text": text}
    entries = audit_entries(app_state, "original.read")
    assert [e.subject for e in entries] == [f"review:{rid}"]
    assert entries[0].details == {"reason": "checking the original text"}
    # A read needs a written reason of visible characters (issue 23): none, short, blank or zero-width is 422.
    for bad in ("", "?reason=why", "?reason=" + "%20" * 12, "?reason=" + "%E2%80%8B" * 12):
        assert client.get(f"/v1/reviews/{rid}/original{bad}", headers=lead).status_code == 422
    assert len(audit_entries(app_state, "original.read")) == 1


def test_reveal_reason_must_be_visible(client, poster, lead):  # type: ignore[no-untyped-def]
    rid = screen(client, poster, TOXIC, anonymous=True, author_id=AUTHOR)["review"]["id"]
    for reason in (" " * 20, "\u200b" * 20, "\u2800" * 12):
        r = client.post(f"/v1/reviews/{rid}/reveal-author", json={"reason": reason}, headers=lead)
        assert r.status_code == 422, reason


def test_risk_csv_neutralises_formula_cells(client, poster, lead):  # type: ignore[no-untyped-def]
    for circle in ('=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)"):
        screen(client, poster, TOXIC, circle=circle)
    csv_text = client.get("/v1/reports/risk", headers=lead | {"Accept": "text/csv"}).text
    cells = [c for line in csv_text.splitlines() for c in line.split(",")]
    assert not [c for c in cells if c.lstrip('"').startswith(("=", "+", "-", "@"))], csv_text
    assert any(c.lstrip('"').startswith("'=HYPERLINK") for c in cells)


@pytest.mark.parametrize(
    "query",
    [
        "from=0001-01-01T00:00:00%2B14:00",
        "to=9999-12-31T23:59:59-14:00",
        "from=2026-05-01&to=2026-04-01",
        # A value no database stores (PostgreSQL refused it in the audit entry: a 503 found by the fuzz run).
        "circle=%00",
        "from=2026-05-01%00",
    ],
)
def test_out_of_range_dates_are_422(client, lead, query: str):  # type: ignore[no-untyped-def]
    r = client.get(f"/v1/reports/risk?{query}", headers=lead)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "payload",
    [
        [99999999999999999999, 0.5, "2026-01-01T00:00:00+00:00", "x"],
        [0, float("nan"), "2026-01-01", "x"],
        [0, 0.5, "0001-01-01T00:00:00-14:00", "x"],
        [0, 0.5, "2026-01-01", "x" * 500],
    ],
)
def test_crafted_cursors_are_422(client, make_key, payload):  # type: ignore[no-untyped-def]
    import base64
    import json

    cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
    r = client.get(f"/v1/reviews?cursor={cursor}", headers=auth(make_key("org-a", "moderator")))
    assert r.status_code == 422, r.text


def test_audit_trail_after_activity(client, poster, lead, make_key, app_state):  # type: ignore[no-untyped-def]
    mod = auth(make_key("org-a", "moderator"))
    rid = screen(client, poster, TOXIC, anonymous=True, author_id=AUTHOR)["review"]["id"]
    screen(client, poster, "nice day")
    client.post(f"/v1/reviews/{rid}/claim", headers=mod)
    client.post(
        f"/v1/reviews/{rid}/decision", json={"action": "approve", "labels": {"toxicity": False}}, headers=mod
    )
    client.get(f"/v1/reviews/{rid}/original?reason=checking+the+original+text", headers=lead)
    client.post(f"/v1/reviews/{rid}/reveal-author", json={"reason": "welfare check requested"}, headers=lead)

    with app_state.require_db().session() as s:
        actions = [e.action for e in s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()]
        assert audit.verify(s).ok
    for action in ("key.create", "screen", "review.claim", "review.decide", "original.read", "author.reveal"):
        assert action in actions
    r = client.get("/v1/audit/verify", headers=lead)
    assert r.status_code == 200
    assert r.json()["ok"] is True and r.json()["entries"] == len(actions)

    export = client.get("/v1/audit/export", headers=lead)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {r["action"] for r in rows} >= {"screen", "review.decide", "author.reveal"}
    assert all(r["org"] == "org-a" and len(r["hash"]) == 64 for r in rows)
    assert AUTHOR not in export.text


def test_audit_verify_api_reports_tampering(client, poster, lead, app_state):  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    screen(client, poster, TOXIC)
    with app_state.require_db().session() as s:
        s.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"))
    body = client.get("/v1/audit/verify", headers=lead).json()
    assert body["ok"] is False and body["seq"] == 2
