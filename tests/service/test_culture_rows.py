"""The culture report's storage (issue 21): "published" as the post status says, on SQLite and PostgreSQL;
the kinds storage restates; UK-day periods."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from models.culture_signals import RECIPIENT_KINDS
from service.culture_period import Period, instant
from storage import culture, outcomes
from storage.tables import Screening
from tests.helpers import auth
from tests.service.culture_seed import Org, today


@pytest.fixture
def org(shared) -> Org:  # type: ignore[no-untyped-def]
    return Org(shared.client, shared.make_key, shared.state)


def test_published_is_decided_as_the_post_status_says(org: Org) -> None:
    mod1, mod2 = (auth(org.make_key(org.name, "moderator")) for _ in range(2))
    org.screen("Lovely shift today")
    held = [org.screen("you idiot number one")["review"]["id"] for _ in range(4)]
    org.screen("Doris in room 4 has a bruise on her arm")
    appealed = org.screen("you idiot number two")
    for rid, action, mod in (
        (held[0], "approve", mod1),
        (held[1], "reject", mod1),
        (appealed["review"]["id"], "reject", mod1),
    ):
        assert org.c.post(f"/v1/reviews/{rid}/claim", headers=mod).status_code == 200
        assert (
            org.c.post(
                f"/v1/reviews/{rid}/decision", json={"action": action, "labels": {}}, headers=mod
            ).status_code
            == 200
        )
    r = org.c.post(
        f"/v1/posts/{appealed['post_id']}/appeal",
        json={"reason": "It was a joke between friends"},
        headers=org.poster,
    )
    assert r.status_code == 201, r.text
    rid = r.json()["appeal"]["review_id"]
    assert org.c.post(f"/v1/reviews/{rid}/claim", headers=mod2).status_code == 200
    assert (
        org.c.post(
            f"/v1/reviews/{rid}/decision", json={"action": "approve", "labels": {}}, headers=mod2
        ).status_code
        == 200
    )
    edges = [instant(today() - timedelta(days=1)), instant(today() + timedelta(days=1))]
    with org.state.require_db().read_session() as s:
        rows = s.execute(select(Screening).where(Screening.org == org.name)).scalars().all()
        statuses = [
            outcomes.post_status(outcomes.load_for_screening(s, screening=row))["status"] for row in rows
        ]
        facets = culture.post_facets(s, org=org.name, edges=edges)
    published = sum(f.n for f in facets if f.published)
    assert published == sum(st.startswith("published") for st in statuses) == 3  # allow, approved, appeal won
    assert sum(f.n for f in facets if f.raised) == 1


def test_storage_restates_the_recognition_kinds() -> None:
    assert set(culture.RECOGNITION_KINDS) == set(RECIPIENT_KINDS)


def test_periods_are_uk_days() -> None:
    summer = Period(date(2026, 7, 1), date(2026, 7, 1))
    assert instant(summer.first).isoformat() == "2026-06-30T23:00:00+00:00"
    assert [w.isoformat() for w in Period(date(2026, 1, 1), date(2026, 1, 10)).weeks()] == [
        "2026-01-01",
        "2026-01-08",
    ]
    assert Period(date(2026, 1, 1), date(2026, 1, 10)).previous() == Period(
        date(2025, 12, 22), date(2025, 12, 31)
    )


def test_anonymous_authors_counted_once_or_named_only_with_a_note(org: Org) -> None:
    from service.culture_report import culture_report

    for i in range(5):
        org.screen("Lovely shift today", author_id=f"named-{i}")
    for who in ("named-0", "anon-1", "anon-2", "anon-3"):
        org.screen("Lovely shift today", author_id=who, anonymous=True)
    period = Period(today(), today())

    def authors(decrypt):  # type: ignore[no-untyped-def]
        with org.state.require_db().read_session() as s:
            rep = culture_report(s, org=org.name, period=period, decrypt=decrypt)
        voice = next(x for x in rep["sections"] if x["id"] == "staff_voice")
        cell = next(m for m in voice["metrics"] if m["id"] == "active_authors")["current"]["total"]
        return cell["value"], rep["notes"]

    assert authors(org.state.vault.decrypt) == (8, [])  # 5 named + 3 only anonymous; named-0 once

    def broken(token: str) -> str:
        raise ValueError("no secret opens it")

    for decrypt in (None, broken):
        value, notes = authors(decrypt)
        assert value == 5 and len(notes) == 1 and "named authors only" in notes[0]
