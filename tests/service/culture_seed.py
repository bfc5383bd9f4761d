"""Seeding for the culture report's tests (issue 21): an organisation with a staff directory at two homes and a
week of posts screened through the real path, whose figures the tests know; helpers to read the report.

Every post's text, post id and author id carries ``MARK``, so a test can prove none of them reaches a report.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import update

from service.culture_period import LONDON, instant
from storage.tables import ReviewItem, Screening
from tests.helpers import auth

MARK = "zqmark"  # in every post's text: must never appear in a report
OAK = {
    "carer": ["Alice Brown", "Ben Carter", "Chloe Davies", "Dan Evans", "Ella Fox", "Finn Green"],
    "nurse": ["Grace Hill", "Harry Irwin", "Isla Jones", "Jack King", "Kate Lewis"],
    "manager": ["Liam Moore"],
}
ELM = ["Mia Nash", "Noah Owen", "Olivia Price"]
NAMES = [n for names in OAK.values() for n in names] + ELM
CELL_RE = re.compile(r'data-s="([^"]+)" data-m="([^"]+)" data-p="([^"]+)" data-k="([^"]*)">([^<]*)</span>')


def today() -> date:
    return datetime.now(LONDON).date()


class Org:
    """A fresh organisation on a running service (a TestClient, or an httpx client of a real server), with
    its keys and helpers."""

    def __init__(self, client: Any, make_key: Callable[[str, str], str], state: Any) -> None:
        self.c, self.make_key, self.state = client, make_key, state
        self.name = f"org-{uuid.uuid4().hex[:8]}"
        self.poster = auth(make_key(self.name, "poster"))
        self.admin = auth(make_key(self.name, "admin"))
        self.manager = auth(make_key(self.name, "manager"))
        self.n = 0

    def screen(self, text: str, **body: Any) -> dict[str, Any]:
        self.n += 1
        body.setdefault("post_id", f"pid-{MARK}-{self.n}")
        r = self.c.post("/v1/screen", json={"text": f"{text} {MARK}", **body}, headers=self.poster)
        assert r.status_code == 200, r.text
        return {**r.json(), "post_id": body["post_id"]}

    def report(self, headers: dict[str, str] | None = None, **params: Any) -> Any:
        return self.c.get("/v1/reports/culture", params=params, headers=headers or self.manager)

    def sql(self, stmt: Any) -> Any:
        with self.state.require_db().session() as s:
            return s.execute(stmt)


def metric(rep: dict[str, Any], section: str, name: str, period: str = "current") -> dict[str, Any]:
    sec = next(s for s in rep["sections"] if s["id"] == section)
    return next(m for m in sec["metrics"] if m["id"] == name)[period]  # type: ignore[no-any-return]


def shown(rep: dict[str, Any], section: str, name: str, key: str = "total", period: str = "current") -> str:
    return metric(rep, section, name, period)[key]["shown"]  # type: ignore[no-any-return]


def seed(o: Org) -> None:
    """This week at Oak House and Elm Court, and five OOOs ten days ago (the previous period)."""
    directory = [{"name": n, "role": r, "location": "Oak House"} for r, ns in OAK.items() for n in ns]
    directory += [{"name": n, "role": "carer", "location": "Elm Court"} for n in ELM]
    assert o.c.put("/v1/staff-directory", json={"names": directory}, headers=o.admin).status_code == 200
    oak = {"location": "Oak House", "author_role": "carer"}
    nurses = OAK["nurse"]
    for i in range(6):  # carers recognise nurses: 5 distinct colleagues
        o.screen(
            f"Special mention to {nurses[i % 5]} for staying late with the hoist",
            kind="special_mention",
            author_id=f"author-{MARK}-{i}",
            circle="thanks",
            **oak,
        )
    questions = [
        o.screen(
            "Does anyone have tips for settling residents after tea?",
            author_id=f"author-{MARK}-{i}",
            circle="practice",
            **oak,
        )["post_id"]
        for i in range(6)
    ]
    for i, q in enumerate(questions[:5]):  # five answered, one not
        o.screen(
            "A quiet walk round the garden works for us.",
            kind="comment",
            reply_to=q,
            author_id=f"author-{MARK}-{i}",
            **oak,
        )
    for who in ("0", "1", "x1", "x2", "x3"):  # anonymous: two of them also post named
        o.screen(
            "The new rota works well for the night team.",
            anonymous=True,
            author_id=f"author-{MARK}-{who}",
            circle="nights",
            **oak,
        )
    for i in range(5):
        o.screen("whoever left the sluice like that is a lazy idiot", author_id=f"author-{MARK}-{i}", **oak)
    escalated = [
        o.screen("Doris in room 4 has a bruise on her arm", author_id=f"author-{MARK}-{i}", **oak)
        for i in range(10)
    ]
    elm = {"location": "Elm Court", "author_role": "carer"}
    falls = [
        o.screen(
            "Sharing our falls huddle notes from today.",
            author_id=f"author-{MARK}-e{i}",
            circle="practice",
            **elm,
        )["post_id"]
        for i in range(5)
    ]
    for _ in range(2):
        o.screen("Cake in the staff room.", author_id=f"author-{MARK}-e0", circle=f"tiny-{MARK}", **elm)
    # Five escalations acted on after 10, 20 ... 50 minutes; five still waiting.
    for i, e in enumerate(escalated[:5]):
        rid = e["review"]["id"]
        with o.state.require_db().session() as s:
            item = s.get(ReviewItem, rid)
            item.first_action_at = item.created_at + timedelta(minutes=10 * (i + 1))
    # Themes (no tagger runs in these tests): falls on the Elm posts, wellbeing on the anonymous ones.
    o.sql(
        update(Screening)
        .where(Screening.org == o.name, Screening.post_id.in_(falls))
        .values(themes=["falls"])
    )
    o.sql(
        update(Screening)
        .where(Screening.org == o.name, Screening.anonymous.is_(True))
        .values(themes=["wellbeing_workload", "falls"])
    )
    # The previous period: nurses thank five carers, ten days ago.
    before = [
        o.screen(
            f"Thank you {OAK['carer'][i]} for covering my shift",
            kind="ooo",
            author_id=f"author-{MARK}-n{i}",
            location="Oak House",
            author_role="nurse",
        )["post_id"]
        for i in range(5)
    ]
    o.sql(
        update(Screening)
        .where(Screening.org == o.name, Screening.post_id.in_(before))
        .values(created_at=instant(today() - timedelta(days=10)) + timedelta(hours=12))
    )


def this_week() -> dict[str, str]:
    return {"start": (today() - timedelta(days=6)).isoformat(), "end": today().isoformat()}


def console_page(o: Org, expect: int = 200, **params: str) -> str:
    """``/console/culture`` for ``params``, signed in through the form with a manager's key."""
    c = o.c
    c.cookies.clear()
    page = c.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    key = o.make_key(o.name, "manager")
    r = c.post("/console/login", data={"api_key": key, "csrf": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    got = c.get("/console/culture", params=params)
    assert got.status_code == expect, got.text
    c.cookies.clear()
    return got.text
