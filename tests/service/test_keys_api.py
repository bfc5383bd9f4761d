"""Issue 19 §3: keys listed, created with an expiry, revoked and rotated by an admin of the same organisation;
a revoked or expired key is refused at once; ``last_used_at`` is kept; the secret is shown once only."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from storage.tables import ApiKey, utcnow
from tests.helpers import auth


def test_admin_manages_keys(client, make_key, app_state) -> None:  # type: ignore[no-untyped-def]
    admin = auth(make_key("org-a", "admin"))
    made = client.post(
        "/v1/admin/keys", json={"role": "moderator", "label": "nights", "expires_in_days": 30}, headers=admin
    )
    assert made.status_code == 201, made.text
    body = made.json()
    secret, kid = body["key"], body["id"]
    assert (
        body["expires_at"]
        and body["active"]
        and body["prefix"].startswith("cs_")
        and secret not in body["prefix"]
    )
    listed = client.get("/v1/admin/keys", headers=admin)
    assert secret not in listed.text and secret.split("_", 2)[2] not in listed.text  # shown once, never again
    row = next(k for k in listed.json() if k["id"] == kid)
    assert row["last_used_at"] is None
    assert client.get("/v1/reviews/stats", headers=auth(secret)).status_code == 200
    used = next(k for k in client.get("/v1/admin/keys", headers=admin).json() if k["id"] == kid)
    assert used["last_used_at"]  # recorded (at most once a minute)

    # Rotation: a new key at once; the old one works through the grace period, then is refused.
    rotated = client.post(f"/v1/admin/keys/{kid}/rotate", json={"grace_hours": 1}, headers=admin)
    assert rotated.status_code == 201
    new = rotated.json()["key"]
    assert client.get("/v1/reviews/stats", headers=auth(new)).status_code == 200
    assert (
        client.get("/v1/reviews/stats", headers=auth(secret)).status_code == 200
    )  # still in its grace period
    with app_state.require_db().session() as s:
        s.execute(update(ApiKey).where(ApiKey.id == kid).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get("/v1/reviews/stats", headers=auth(secret)).status_code == 401  # expired: refused
    old = next(k for k in client.get("/v1/admin/keys", headers=admin).json() if k["id"] == kid)
    assert old["replaced_by"] == rotated.json()["id"] and not old["active"]

    # Revocation: refused from the next request on; a second revoke, or another org's key, is a 404.
    new_id = rotated.json()["id"]
    assert client.delete(f"/v1/admin/keys/{new_id}", headers=admin).status_code == 204
    assert client.get("/v1/reviews/stats", headers=auth(new)).status_code == 401
    assert client.delete(f"/v1/admin/keys/{new_id}", headers=admin).status_code == 404
    other_admin = auth(make_key("org-b", "admin"))
    theirs = client.post("/v1/admin/keys", json={"role": "poster"}, headers=other_admin).json()
    assert client.delete(f"/v1/admin/keys/{theirs['id']}", headers=admin).status_code == 404
    assert client.post(f"/v1/admin/keys/{theirs['id']}/rotate", json={}, headers=admin).status_code == 404
    assert (
        client.get("/v1/reviews/stats", headers=auth(theirs["key"])).status_code == 403
    )  # a poster key, alive


def test_bad_key_requests(client, make_key) -> None:  # type: ignore[no-untyped-def]
    admin = auth(make_key("org-a", "admin"))
    for body in ({"role": "superuser"}, {"role": "poster", "expires_in_days": 0}, {"role": "poster", "x": 1}):
        assert client.post("/v1/admin/keys", json=body, headers=admin).status_code == 422
    assert client.delete("/v1/admin/keys/0", headers=admin).status_code == 404
    assert (
        client.delete(f"/v1/admin/keys/{2**40}", headers=admin).status_code == 404
    )  # beyond PostgreSQL's int
    assert client.post(f"/v1/admin/keys/{2**40}/rotate", json={}, headers=admin).status_code == 404
    assert client.delete("/v1/admin/keys/99999999999999999999", headers=admin).status_code in (404, 422)
    assert client.post("/v1/admin/keys/5/rotate", json={"grace_hours": -1}, headers=admin).status_code == 422
