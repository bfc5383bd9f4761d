"""The read-only ``manager`` role (issue 21): culture evidence only. Every other route, and the console's queue,
review pages and risk reports, refuse it."""

from __future__ import annotations

import re
import uuid
from typing import get_args

import pytest

from service.deps import ROLES_OF, CultureReader
from service.routes.keys import Role
from storage import keys
from tests.helpers import auth

CULTURE = re.compile(r"culture", re.IGNORECASE)
PARAMS = re.compile(r"\{(\w+)\}")


def _manager(shared) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    org = f"org-{uuid.uuid4().hex[:8]}"
    return org, auth(shared.make_key(org, "manager"))


def test_manager_is_a_role_everywhere_roles_are_listed() -> None:
    assert "manager" in keys.ROLES
    assert set(get_args(Role)) == set(keys.ROLES)
    guard = get_args(CultureReader)[1].dependency
    assert ROLES_OF[guard] == ("safeguarding_lead", "admin", "manager")


def test_every_route_but_culture_refuses_a_manager(shared) -> None:  # type: ignore[no-untyped-def]
    """All of /v1 (screening, posts, review items, the queue, risk reports, audit, admin, keys, webhooks, the
    staff directory) and /metrics: 403 for a manager key."""
    org, manager = _manager(shared)
    poster = auth(shared.make_key(org, "poster"))
    held = shared.client.post(
        "/v1/screen", json={"text": "you useless cow", "post_id": "p-1"}, headers=poster
    )
    rid = held.json()["review"]["id"]
    paths = shared.client.app.openapi()["paths"]
    checked = 0
    for path, ops in paths.items():
        if not path.startswith("/v1/") or CULTURE.search(path):
            continue
        for method in ops:
            url = PARAMS.sub(lambda m: {"review_id": rid, "post_id": "p-1"}.get(m.group(1), "1"), path)
            body = None if method in ("get", "delete") else {}
            r = shared.client.request(method.upper(), url, json=body, headers=manager)
            assert r.status_code == 403, (method, path, r.status_code, r.text)
            checked += 1
    assert checked >= 30  # every /v1 operation (34 before the culture report)
    assert shared.client.get("/metrics", headers=manager).status_code == 403
    # The held item is untouched: the manager neither claimed nor read it.
    lead = auth(shared.make_key(org, "safeguarding_lead"))
    item = shared.client.get(f"/v1/reviews/{rid}", headers=lead).json()
    assert item["status"] == "pending" and item["claimed"] is False


def test_culture_report_admits_a_manager(shared) -> None:  # type: ignore[no-untyped-def]
    paths = shared.client.app.openapi()["paths"]
    if "/v1/reports/culture" not in paths:
        pytest.skip("GET /v1/reports/culture is not built yet (the culture report)")
    _, manager = _manager(shared)
    r = shared.client.get("/v1/reports/culture", headers=manager)
    assert r.status_code not in (401, 403), r.text
    poster = auth(shared.make_key("org-a", "poster"))
    assert shared.client.get("/v1/reports/culture", headers=poster).status_code == 403


def test_admins_create_manager_keys(shared) -> None:  # type: ignore[no-untyped-def]
    org = f"org-{uuid.uuid4().hex[:8]}"
    admin = auth(shared.make_key(org, "admin"))
    r = shared.client.post("/v1/admin/keys", json={"role": "manager", "label": "home manager"}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "manager"
    # A manager cannot make keys, not even another manager's.
    manager = auth(r.json()["key"])
    assert shared.client.post("/v1/admin/keys", json={"role": "manager"}, headers=manager).status_code == 403


def test_cli_creates_a_manager_key(monkeypatch, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from carescreen import cli
    from carescreen.config import get_settings
    from storage.db import Database

    monkeypatch.setenv("CARESCREEN_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CARESCREEN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        assert cli.main(["keys", "create", "--org", "home-1", "--role", "manager"]) == 0
        secret = capsys.readouterr().out.strip().splitlines()[-1]
        db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
        with db.session() as s:
            row = keys.authenticate(s, plaintext=secret)
            assert row is not None and row.role == "manager"
        db.dispose()
    finally:
        get_settings.cache_clear()


CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def test_console_lets_a_manager_reach_only_the_culture_report(client, make_key):  # type: ignore[no-untyped-def]
    poster = make_key(role="poster")
    held = client.post("/v1/screen", json={"text": "you useless cow"}, headers=auth(poster)).json()
    rid = held["review"]["id"]
    page = client.get("/console/login")
    token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        "/console/login", data={"api_key": make_key(role="manager"), "csrf": token}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/culture"
    assert "cs_console" in client.cookies
    # Home and sign-in lead to the culture report, never the queue.
    for path in ("/console", "/console/login"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console/culture", path
    queue = client.get("/console/queue")
    assert queue.status_code == 403 and rid not in queue.text
    assert 'href="/console"' not in queue.text.split("<main", 1)[0].replace(
        'class="brand" href="/console"', ""
    )
    csrf = CSRF_RE.search(queue.text).group(1)  # type: ignore[union-attr]  # the sign-out form's
    assert client.get("/console/live/queue").status_code == 403
    r = client.get(f"/console/reviews/{rid}")
    assert r.status_code == 403 and "useless" not in r.text
    assert client.post("/console/next", data={"csrf": csrf}, follow_redirects=False).status_code == 403
    r = client.post(f"/console/reviews/{rid}/decide", data={"csrf": csrf, "action": "approve"})
    assert r.status_code == 403
    assert client.get("/console/reports").status_code == 403
    assert client.get("/console/reports.csv").status_code in (403, 404)
    # Nothing was claimed or decided.
    lead = auth(make_key(role="safeguarding_lead"))
    item = client.get(f"/v1/reviews/{rid}", headers=lead).json()
    assert item["status"] == "pending" and item["claimed"] is False
