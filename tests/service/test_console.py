"""The moderator console over TestClient: sign-in cookie, CSRF, queue, deciding, lease expiry, reports."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from storage.tables import ReviewItem, utcnow
from tests.helpers import auth

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def login(client, key: str) -> str:  # type: ignore[no-untyped-def]
    """Sign in through the form; returns the session's CSRF token."""
    page = client.get("/console/login")
    assert page.status_code == 200
    r = client.post(
        "/console/login", data={"api_key": key, "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    queue = client.get("/console")
    assert queue.status_code == 200
    return csrf_of(queue.text)


def screen(client, poster: str, text: str, **extra: object) -> dict:  # type: ignore[no-untyped-def,type-arg]
    r = client.post("/v1/screen", json={"text": text, **extra}, headers=auth(poster))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_login_sets_a_safe_session_cookie(client, make_key):  # type: ignore[no-untyped-def]
    key = make_key(role="moderator")
    page = client.get("/console/login")
    assert 'lang="en-GB"' in page.text and '<label for="api_key">' in page.text
    r = client.post(
        "/console/login", data={"api_key": key, "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/console"
    cookies = [c for c in r.headers.get_list("set-cookie") if c.startswith("cs_console=")]
    assert len(cookies) == 1
    cookie = cookies[0].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=28800" in cookie
    assert key.lower() not in cookie and key.split("_", 2)[2].lower() not in cookie  # never the API key


def test_secure_flag_follows_settings(client, make_key, app_state):  # type: ignore[no-untyped-def]
    app_state.settings.cookie_secure = True
    client.base_url = "https://testserver"  # Secure cookies only travel over HTTPS
    page = client.get("/console/login")
    r = client.post(
        "/console/login",
        data={"api_key": make_key(role="moderator"), "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert (
        "secure" in next(c for c in r.headers.get_list("set-cookie") if c.startswith("cs_console=")).lower()
    )


def test_poster_and_bad_keys_refused(client, make_key):  # type: ignore[no-untyped-def]
    page = client.get("/console/login")
    token = csrf_of(page.text)
    r = client.post("/console/login", data={"api_key": make_key(role="poster"), "csrf": token})
    assert r.status_code == 403 and "Poster keys cannot sign in" in r.text
    assert "cs_console" not in client.cookies
    r = client.post("/console/login", data={"api_key": "cs_nope_nope", "csrf": token})
    assert r.status_code == 401
    # Without the login CSRF token the form is refused outright.
    r = client.post("/console/login", data={"api_key": make_key(role="moderator")})
    assert r.status_code == 403


def test_pages_need_a_session(client):  # type: ignore[no-untyped-def]
    for path in ("/console", "/console/reviews/x", "/console/reports", "/console/reports.csv"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console/login", path


def test_revoked_key_ends_the_session(client, make_key, app_state):  # type: ignore[no-untyped-def]
    from storage import keys
    from storage.tables import ApiKey

    key = make_key(role="moderator")
    login(client, key)
    with app_state.require_db().session() as s:
        row = s.query(ApiKey).filter(ApiKey.prefix == key.split("_")[1]).one()
        keys.revoke_api_key(s, org=row.org, key_id=row.id)
    r = client.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"


def test_queue_lists_items_urgent_first(client, make_key):  # type: ignore[no-untyped-def]
    poster = make_key(role="poster")
    hold = screen(client, poster, "you idiot, nobody asked", circle="night-shift")
    urgent = screen(
        client,
        poster,
        "Doris in room 4 has a bruise on her arm",
        circle="west-wing",
        anonymous=True,
        author_id="secret-author-42",
    )
    assert urgent["review"]["priority"] == "urgent"
    assert hold["review"] is not None
    login(client, make_key(role="moderator"))
    page = client.get("/console").text
    assert "[RESIDENT]" in page and "Doris" not in page  # redacted text only
    assert page.index("bruise") < page.index("idiot")  # urgent first
    assert "badge-urgent" in page and "west-wing" in page and "night-shift" in page
    assert "secret-author-42" not in page
    assert "On time" in page and "Waiting" in page
    assert f"/console/reviews/{urgent['review']['id']}" in page
    # Filters.
    only = client.get("/console", params={"category": "toxicity"}).text
    assert "idiot" in only and "bruise" not in only
    only = client.get("/console", params={"priority": "urgent"}).text
    assert "bruise" in only and "idiot" not in only


def test_post_without_or_with_wrong_csrf_is_403(client, make_key):  # type: ignore[no-untyped-def]
    poster = make_key(role="poster")
    rid = screen(client, poster, "Doris in room 4 has a bruise on her arm")["review"]["id"]
    token = login(client, make_key(role="moderator"))
    for data in ({}, {"csrf": "wrong"}, {"csrf": token[:-2] + "xx"}):
        assert client.post("/console/next", data=data).status_code == 403
        r = client.post(f"/console/reviews/{rid}/decide", data={**data, "action": "approve"})
        assert r.status_code == 403
        assert client.post("/console/logout", data=data).status_code == 403


def test_decide_via_form_records_the_decision(client, make_key):  # type: ignore[no-untyped-def]
    poster = make_key(role="poster")
    first = screen(client, poster, "Doris in room 4 has a bruise on her arm")["review"]["id"]
    second = screen(client, poster, "you idiot")["review"]["id"]
    mod = make_key(role="moderator")
    token = login(client, mod)
    r = client.post("/console/next", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/console/reviews/{first}"
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert '<mark class="pii"' in page.text and "[RESIDENT]" in page.text
    assert 'id="label-safeguarding" name="label" value="safeguarding" checked' in page.text
    assert '<label for="label-toxicity">' in page.text and "<meter" in page.text
    assert "Keyboard shortcuts" in page.text and "console.js" in page.text
    r = client.post(
        f"/console/reviews/{first}/decide",
        data={
            "csrf": token,
            "action": "escalate",
            "label": ["safeguarding"],
            "note": "called the lead",
            "redacted_text": "[RESIDENT] in [ROOM] has a bruise on her arm.",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/console/reviews/{second}"
    nxt = client.get(r.headers["location"])
    assert "Decision recorded: Escalated." in nxt.text
    got = client.get(f"/v1/reviews/{first}", headers=auth(mod)).json()
    assert got["status"] == "decided" and got["moderator_decision"] == "escalate"
    # Deciding it again says so plainly instead of failing silently.
    again = client.post(f"/console/reviews/{first}/decide", data={"csrf": token, "action": "approve"})
    assert again.status_code == 409 and "already decided by you" in again.text
    # Deciding the last item returns to the queue with a message.
    r = client.post(f"/console/reviews/{second}/decide", data={"csrf": token, "action": "approve"})
    assert r.status_code == 200 and "Nothing else is waiting" in r.text
    assert client.get(f"/v1/reviews/{second}", headers=auth(mod)).json()["moderator_decision"] == "approve"


def test_held_by_someone_else_and_expired_lease(client, make_key, app_state):  # type: ignore[no-untyped-def]
    poster = make_key(role="poster")
    rid = screen(client, poster, "Doris in room 4 has a bruise on her arm")["review"]["id"]
    other = make_key(role="moderator")
    assert client.post(f"/v1/reviews/{rid}/claim", headers=auth(other)).status_code == 200
    token = login(client, make_key(role="moderator"))
    page = client.get(f"/console/reviews/{rid}")
    assert page.status_code == 409 and "Another moderator is working on this item" in page.text
    assert 'id="decision-form"' not in page.text
    # Let every lease lapse: the console claims on open, then the hold lapses before the decision is sent.
    with app_state.require_db().session() as s:
        s.execute(update(ReviewItem).values(claimed_by=None, lease_expires_at=None))
    assert client.get(f"/console/reviews/{rid}").status_code == 200
    with app_state.require_db().session() as s:
        s.execute(update(ReviewItem).values(lease_expires_at=utcnow() - timedelta(seconds=5)))
    r = client.post(
        f"/console/reviews/{rid}/decide", data={"csrf": token, "action": "reject", "label": "toxicity"}
    )
    assert r.status_code == 409 and "Your hold on this item expired" in r.text and "Decide anyway" in r.text
    assert client.get(f"/v1/reviews/{rid}", headers=auth(other)).json()["status"] == "pending"
    confirm = {"csrf": csrf_of(r.text), "action": "reject", "label": "toxicity", "confirm": "1"}
    r = client.post(f"/console/reviews/{rid}/decide", data=confirm)
    assert r.status_code == 200
    got = client.get(f"/v1/reviews/{rid}", headers=auth(other)).json()
    assert got["status"] == "decided" and got["moderator_decision"] == "reject"


def test_skip_releases_the_item(client, make_key):  # type: ignore[no-untyped-def]
    poster = make_key(role="poster")
    first = screen(client, poster, "Doris in room 4 has a bruise on her arm")["review"]["id"]
    second = screen(client, poster, "you idiot")["review"]["id"]
    mod = make_key(role="moderator")
    token = login(client, mod)
    r = client.post("/console/next", data={"csrf": token}, follow_redirects=False)
    assert r.headers["location"] == f"/console/reviews/{first}"
    r = client.post("/console/next", data={"csrf": token, "skip": first}, follow_redirects=False)
    assert r.headers["location"] == f"/console/reviews/{second}"
    assert client.get(f"/v1/reviews/{first}", headers=auth(mod)).json()["claimed"] is False


def test_security_headers_on_console_pages(client, make_key):  # type: ignore[no-untyped-def]
    for path in ("/console/login", "/console/static/console.css", "/console/static/console.js"):
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
    page = client.get("/console/login").text
    assert "<script>" not in page and " style=" not in page and "<style" not in page


def test_logout(client, make_key):  # type: ignore[no-untyped-def]
    token = login(client, make_key(role="moderator"))
    r = client.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_logout_ends_the_session_on_the_server(client, make_key):  # type: ignore[no-untyped-def]
    """Issue 23: a copy of the cookie taken before sign-out no longer works afterwards."""
    token = login(client, make_key(role="moderator"))
    stolen = client.cookies.get("cs_console")
    assert stolen
    client.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    client.cookies.set("cs_console", stolen, path="/console")
    assert client.get("/console", follow_redirects=False).status_code == 303  # back to sign-in


def test_evidence_and_the_rule_are_shown(client, make_key):  # type: ignore[no-untyped-def]
    poster = make_key(role="poster")
    long_post = (
        "Lovely sunny day in the garden and everyone enjoyed the strawberries and cream. "
        "Then tonight Mrs Hughes told me the night carer hit her when she asked for the toilet."
    )
    item = screen(client, poster, long_post)["review"]["id"]
    held = screen(client, poster, "Mrs Hughes in room 4 has been diagnosed with Parkinson's, family not told")
    assert held["decision"] == "hold"
    login(client, make_key(role="moderator"))
    page = client.get(f"/console/reviews/{item}").text
    assert "The sentence behind each flag" in page and "night carer hit her" in page
    assert "strawberries" not in page.split("The sentence behind each flag")[1].split("</ul>")[0]
    rule = client.get(f"/console/reviews/{held['review']['id']}").text
    assert "Confidentiality rule: a health or other special-category detail" in rule


@pytest.mark.parametrize("role", ["safeguarding_lead", "admin"])
def test_reports_for_leads_only(client, make_key, role):  # type: ignore[no-untyped-def]
    poster = make_key(role="poster")
    for i in range(6):
        screen(client, poster, f"Doris in room 4 has a bruise on her arm ({i})", circle="west-wing")
    screen(client, poster, "you idiot", circle="west-wing")
    token = login(client, make_key(role="moderator"))
    assert client.get("/console/reports").status_code == 403
    assert client.get("/console/reports.csv").status_code == 403
    assert "/console/reports" not in client.get("/console").text  # no nav link either
    client.post("/console/logout", data={"csrf": token})
    login(client, make_key(role=role))
    r = client.get("/console/reports")
    assert r.status_code == 200
    assert len(re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', r.text)) == 3
    assert "&lt;5" in r.text and "Small numbers are suppressed" in r.text
    assert "@media print" in client.get("/console/static/console.css").text
    circle = client.get("/console/reports", params={"circle": "nowhere"})
    assert circle.status_code == 200 and "<dt>Posts screened</dt><dd>0</dd>" in circle.text
    csv = client.get("/console/reports.csv", params={"circle": "west-wing"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "by_category,safeguarding,6" in csv.text


def test_the_leads_urgent_banner_and_acknowledgement(client, make_key):  # type: ignore[no-untyped-def]
    """Issue 18 §4 over HTTP: only the lead sees the banner; acknowledging needs the CSRF token, happens once,
    is audited, and a foreign 'back' address is never followed."""
    from sqlalchemy import select

    from storage.tables import AuditEntry

    poster = make_key(role="poster")
    rid = screen(client, poster, "Doris has a bruise on her arm")["review"]["id"]
    screen(client, poster, "what an idiot")  # held, not urgent: never in the banner

    mod_csrf = login(client, make_key(role="moderator"))
    assert "urgent-banner" not in client.get("/console").text  # moderators: the queue, not the banner
    assert (
        client.post(
            f"/console/reviews/{rid}/acknowledge", data={"csrf": mod_csrf}, follow_redirects=False
        ).status_code
        == 403
    )
    client.cookies.clear()

    csrf = login(client, make_key(role="safeguarding_lead"))
    page = client.get("/console")
    assert "1 urgent item not yet acknowledged" in page.text and f'data-ack="{rid}"' in page.text
    assert (
        'data-live-src="/console/live/banner' in page.text
        and 'data-live-src="/console/live/queue' in page.text
    )
    assert "<script>" not in page.text  # the refresh is console.js, a file (CSP script-src 'self')
    fragment = client.get("/console/live/banner?back=/console")
    assert (
        fragment.status_code == 200 and f'data-ack="{rid}"' in fragment.text and "<html" not in fragment.text
    )
    queue = client.get("/console/live/queue")
    assert queue.status_code == 200 and "table" in queue.text and "<html" not in queue.text

    assert (
        client.post(f"/console/reviews/{rid}/acknowledge", data={}, follow_redirects=False).status_code == 403
    )
    r = client.post(
        f"/console/reviews/{rid}/acknowledge",
        data={"csrf": csrf, "back": "https://evil.example/phish"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/console"
    assert "urgent-banner" not in client.get("/console/live/banner").text
    again = client.post(f"/console/reviews/{rid}/acknowledge", data={"csrf": csrf}, follow_redirects=False)
    assert again.status_code == 303
    with client.app.state.cs.require_db().session() as s:
        acts = [
            a.action
            for a in s.execute(select(AuditEntry).where(AuditEntry.subject == f"review:{rid}")).scalars()
        ]
    assert acts.count("review.acknowledge") == 1
    client.cookies.clear()
    assert client.get("/console/live/banner").status_code == 401  # signed out: the script goes to sign-in


def test_an_appeal_shows_its_reason_to_the_moderator(client, make_key):  # type: ignore[no-untyped-def]
    poster = make_key(role="poster")
    held = screen(client, poster, "what an idiot", post_id="ap-1")
    r = client.post(
        "/v1/posts/ap-1/appeal", json={"reason": "it was a line from a film"}, headers=auth(poster)
    )
    assert r.status_code == 201
    login(client, make_key(role="moderator"))
    page = client.get(f"/console/reviews/{held['review']['id']}")
    assert "The author has appealed" in page.text and "it was a line from a film" in page.text
