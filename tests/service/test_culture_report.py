"""The culture evidence report (issue 21): numbers on posts screened through the real path, small-number
suppression (secondary too), who may read it, periods, formats, and that no name or text ever leaves in it.

One service per module and database (``shared``); each test has an organisation of its own.
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.tables import Screening
from tests.helpers import auth
from tests.service.culture_seed import (
    CELL_RE,
    MARK,
    NAMES,
    Org,
    console_page,
    metric,
    seed,
    shown,
    this_week,
    today,
)


@pytest.fixture
def org(shared) -> Org:  # type: ignore[no-untyped-def]
    return Org(shared.client, shared.make_key, shared.state)


def test_numbers_suppression_and_previous_period(org: Org) -> None:
    seed(org)
    r = org.report(**this_week())
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (
        rep["period"]["days"] == 7
        and rep["previous_period"]["end"] == (today() - timedelta(days=7)).isoformat()
    )
    # Recognition: 6 Special Mentions, 15 staff, 5 distinct nurses.
    assert shown(rep, "recognition", "recognitions") == "6"
    assert shown(rep, "recognition", "staff_in_directory") == "15"
    assert metric(rep, "recognition", "recognitions_per_100_staff_per_week")["total"]["value"] == 40.0
    assert shown(rep, "recognition", "colleagues_recognised") == "5"
    assert shown(rep, "recognition", "share_of_staff_recognised") == "33%"
    # 6 = 6 Special Mentions + 0 OOOs: the 0 is "<5", so the 6 beside it is hidden too (secondary).
    kinds = metric(rep, "recognition", "recognitions_by_kind")
    assert kinds["ooo"] == {"value": None, "suppressed": True, "shown": "<5"}
    assert kinds["special_mention"] == {"value": None, "suppressed": True, "shown": "[c]"}
    matrix = metric(rep, "recognition", "role_matrix")
    assert {k: v["shown"] for k, v in matrix.items()} == {
        "carer>nurse": "6",
        "carer>all": "6",
        "all>nurse": "6",
        "all>all": "6",
    }
    # Previous period: five OOOs from nurses to five carers.
    assert shown(rep, "recognition", "recognitions", period="previous") == "5"
    assert shown(rep, "recognition", "colleagues_recognised", period="previous") == "5"
    assert metric(rep, "recognition", "role_matrix", "previous")["nurse>carer"]["shown"] == "5"
    # Staff voice: 44 posts, 18 people (named and anonymous, counted once each), 5 anonymous.
    assert shown(rep, "staff_voice", "posts") == "44"
    assert shown(rep, "staff_voice", "active_authors") == "18"
    assert shown(rep, "staff_voice", "posts_by_voice", "anonymous") == "5"
    assert shown(rep, "staff_voice", "anonymous_share") == "11%"
    questions = metric(rep, "staff_voice", "questions")
    assert questions["asked"]["shown"] == "6" and questions["unanswered"]["shown"] == "<5"
    assert questions["answered"]["shown"] == "[c]"  # 6 asked - 1 unanswered would give it away
    assert shown(rep, "staff_voice", "answered_share") == "[c]"
    assert shown(rep, "staff_voice", "concerns_raised") == "10"
    response = metric(rep, "staff_voice", "escalation_response")
    assert [response[k]["shown"] for k in ("escalated_at_screening", "acted_on", "awaiting")] == [
        "10",
        "5",
        "5",
    ]
    assert metric(rep, "staff_voice", "median_minutes_to_first_action")["total"]["value"] == 30.0
    # Shared practice: 29 published; falls on 10, wellbeing on 5; one circle spans two homes.
    assert shown(rep, "shared_practice", "published_posts") == "29"
    assert shown(rep, "shared_practice", "themes", "falls") == "10"
    assert shown(rep, "shared_practice", "themes", "medication") == "<5"
    circles = metric(rep, "shared_practice", "circles")
    assert circles["posts_in_spanning"]["shown"] == "11" and circles["posts_in_circles"]["shown"] == "24"
    assert shown(rep, "shared_practice", "spanning_share") == "46%"
    assert list(metric(rep, "shared_practice", "spanning_circles")) == ["circle:practice"]
    # Culture health and wellbeing.
    assert shown(rep, "culture_health", "held_for_conduct") == "5"
    assert shown(rep, "culture_health", "held_share") == "11%"
    assert shown(rep, "wellbeing", "crisis_escalations") == "<5"
    assert shown(rep, "wellbeing", "wellbeing_share") == "17%"
    # Every section says what it evidences.
    assert [s["question"] for s in rep["sections"]] == [
        "A positive, open culture; teamwork across roles",
        "Freedom to speak up",
        "Learning and improvement",
        "A positive, open culture",
        "Workforce wellbeing",
    ]
    # A location with fewer than 5 staff: per-staff figures are hidden.
    elm = org.report(location="Elm  Court", **this_week()).json()
    assert elm["filters"]["location"] == "Elm Court"
    assert shown(elm, "recognition", "staff_in_directory") == "<5"
    assert shown(elm, "recognition", "recognitions_per_100_staff_per_week") == "[c]"
    assert shown(elm, "recognition", "share_of_staff_recognised") == "[c]"
    oak = org.report(location="Oak House", **this_week()).json()
    assert shown(oak, "recognition", "staff_in_directory") == "12"
    assert metric(oak, "recognition", "recognitions_per_100_staff_per_week")["total"]["value"] == 50.0
    # The manager (1 in the directory) is grouped, never a row or column of their own.
    assert all("manager" not in k for k in metric(oak, "recognition", "role_matrix"))


def test_no_names_text_or_ids_in_any_format(org: Org) -> None:
    seed(org)
    with org.state.require_db().read_session() as s:
        keys = [
            k
            for (ks,) in s.execute(select(Screening.recipient_keys).where(Screening.org == org.name))
            for k in ks or []
        ]
    assert keys
    outputs = [org.report(format=f, **this_week()).text for f in ("json", "csv", "html")]
    outputs.append(console_page(org, **this_week()))
    for text in outputs:
        text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
        assert MARK not in text  # post text, post ids, author ids and the 2-post circle all carry it
        for name in NAMES:
            for part in name.split():
                assert part not in text, part
        assert not any(k in text for k in keys)
        assert "/reviews" not in text  # no review items or links to them
        assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", text)  # no ids of posts or items


def test_console_page_shows_the_json_numbers(org: Org) -> None:
    seed(org)
    rep = org.report(**this_week()).json()
    page = console_page(org, **this_week())
    cells = [(s, m, p, html.unescape(k), html.unescape(v)) for s, m, p, k, v in CELL_RE.findall(page)]
    assert len(cells) > 100
    for s, m, p, k, v in cells:
        assert v == metric(rep, s, m, p)[k]["shown"], (s, m, p, k)
    assert 'href="/console/culture.csv?' in page and "Evidence for:" in page
    bad = console_page(org, expect=422, start="2026-03-10", end="2026-03-01")
    assert "end must not be before start" in bad and "data-s=" not in bad


@pytest.mark.parametrize(
    ("role", "code"),
    [("manager", 200), ("safeguarding_lead", 200), ("admin", 200), ("moderator", 403), ("poster", 403)],
)
def test_who_may_read_it(org: Org, role: str, code: int) -> None:
    headers = auth(org.make_key(org.name, role))
    assert org.report(headers).status_code == code
    assert org.report(headers, format="csv").status_code == code
    if role == "manager":  # a manager reads reports, never review items
        assert org.c.get("/v1/reviews", headers=headers).status_code == 403
        assert org.c.get("/v1/reports/risk", headers=headers).status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-03-10", "end": "2026-03-01"},
        {"start": "2026-13-01"},
        {"start": "yesterday"},
        {"start": "2025-01-01", "end": "2026-01-02"},
        {"start": "0001-01-01", "end": "0001-01-02"},
        {"start": "9999-12-30", "end": "9999-12-31"},
        {"format": "xml"},
        {"location": "x" * 201},
        {"start": "2" * 21},
        # No database can store these, and PostgreSQL refuses them in the audit entry: 422, never a 5xx.
        {"location": "Oak\x00House"},
        {"circle": "\x00"},
    ],
)
def test_invalid_requests_are_422(org: Org, params: dict[str, str]) -> None:
    r = org.report(**params)
    assert r.status_code == 422, r.text


def test_empty_and_one_day_periods(org: Org) -> None:
    for params in (
        {"start": "2026-01-01", "end": "2026-03-31"},
        {"start": "2026-02-11", "end": "2026-02-11"},
    ):
        rep = org.report(**params).json()
        for section in rep["sections"]:
            for m in section["metrics"]:
                for cell in [*m["current"].values(), *m["previous"].values()]:
                    assert cell["value"] is None and cell["suppressed"] is True, (m["id"], cell)
        assert org.report(format="csv", **params).status_code == 200
        assert org.report(format="html", **params).status_code == 200
    one = org.report(start="2026-02-11", end="2026-02-11").json()
    assert one["period"]["weeks"] == [{"key": "2026-02-11", "start": "2026-02-11", "days": 1}]
    assert one["previous_period"] == {
        "start": "2026-02-10",
        "end": "2026-02-10",
        "days": 1,
        "weeks": [{"key": "2026-02-10", "start": "2026-02-10", "days": 1}],
    }


def test_csv_and_printable_page(org: Org) -> None:
    seed(org)
    rep = org.report(**this_week()).json()
    r = org.report(format="csv", **this_week())
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["section", "metric", "period", "key", "value", "suppressed"]
    assert ["recognition", "recognitions", "current", "total", "6", "false"] in rows
    assert ["recognition", "recognitions_by_kind", "current", "ooo", "", "true"] in rows
    cells = sum(len(m[p]) for s in rep["sections"] for m in s["metrics"] for p in ("current", "previous"))
    assert len(rows) == cells + 1
    page = org.report(format="html", **this_week())
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "style-src 'sha256-" in csp and "script-src" not in csp and "<script" not in page.text
    assert page.text.count("data:image/png;base64,") == 5 and "@media print" in page.text
    values = {(s, m, p, html.unescape(k)): html.unescape(v) for s, m, p, k, v in CELL_RE.findall(page.text)}
    assert values[("recognition", "recognitions", "current", "total")] == "6"
    assert values[("staff_voice", "questions", "current", "answered")] == "[c]"
