"""Culture-evidence inputs (issue 21): the optional screening fields, the staff directory's roles and locations,
and the recognised colleagues of a Special Mention, stored as roles, locations and keyed pseudonyms, never names."""

from __future__ import annotations

import uuid
from typing import Any, get_args

import pytest

from models.culture_signals import STAFF_ROLES
from service.schemas import StaffRole
from storage import screenings, staff
from storage.crypto import recipient_key
from storage.tables import Screening
from tests.helpers import auth

CULTURE_COLUMNS = (
    "author_role",
    "location",
    "reply_to",
    "is_question",
    "themes",
    "recipient_roles",
    "recipient_locations",
    "recipient_keys",
)
DIRECTORY = [
    {"name": "Sam Taylor", "role": "nurse", "location": "Oak House"},
    {"name": "Priya Shah"},
    "Jo Bloggs",
]


def _org(shared) -> tuple[str, dict[str, str], dict[str, str]]:  # type: ignore[no-untyped-def]
    """A fresh organisation (the module shares one service): its name, a poster's and an admin's headers."""
    org = f"org-{uuid.uuid4().hex[:8]}"
    return org, auth(shared.make_key(org, "poster")), auth(shared.make_key(org, "admin"))


def _row(shared, org: str, post_id: str) -> Screening:  # type: ignore[no-untyped-def]
    with shared.state.require_db().read_session() as s:
        row = screenings.get_screening(s, org=org, post_id=post_id)
        assert row is not None
        return row


def _screen(shared, headers: dict[str, str], **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = shared.client.post("/v1/screen", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_role_literal_restates_the_models_list() -> None:
    assert get_args(StaffRole) == STAFF_ROLES


def test_optional_fields_are_stored(shared) -> None:  # type: ignore[no-untyped-def]
    org, poster, _ = _org(shared)
    _screen(
        shared,
        poster,
        text="Does anyone know where the spare hoist slings are kept",
        post_id="q-1",
        author_role="senior_carer",
        location="  Oak   House ",
    )
    _screen(
        shared, poster, text="Top shelf of the linen cupboard.", post_id="a-1", kind="comment", reply_to="q-1"
    )
    question, answer = _row(shared, org, "q-1"), _row(shared, org, "a-1")
    assert (question.author_role, question.location, question.reply_to) == ("senior_carer", "Oak House", None)
    assert question.is_question is True and answer.is_question is False
    assert (answer.author_role, answer.location, answer.reply_to) == (None, None, "q-1")
    assert question.themes is None or isinstance(question.themes, list)
    # Not a Special Mention: no recipients recorded at all.
    assert question.recipient_roles is None and question.recipient_keys is None
    # The batch takes the same fields.
    r = shared.client.post(
        "/v1/screen/batch",
        json={
            "posts": [
                {
                    "text": "Lovely quiz today",
                    "post_id": "b-1",
                    "author_role": "volunteer",
                    "location": "Elm",
                },
                {"text": "Who has the minibus keys", "post_id": "b-2", "reply_to": "x-9"},
            ]
        },
        headers=poster,
    )
    assert r.status_code == 200, r.text
    b1, b2 = _row(shared, org, "b-1"), _row(shared, org, "b-2")
    assert (b1.author_role, b1.location, b1.is_question) == ("volunteer", "Elm", False)
    assert (b2.reply_to, b2.is_question) == ("x-9", True)


@pytest.mark.parametrize(
    "extra",
    [
        {"author_role": "Senior carer"},
        {"author_role": "senior-carer"},
        {"author_role": "ceo"},
        {"author_role": 3},
        {"location": "x" * 201},
        {"location": 7},
        {"reply_to": "p" * 201},
        {"reply_to": 12},
    ],
)
def test_bad_values_are_422(shared, extra: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    _, poster, _ = _org(shared)
    r = shared.client.post("/v1/screen", json={"text": "Nice day", **extra}, headers=poster)
    assert r.status_code == 422, r.text
    r = shared.client.post(
        "/v1/screen/batch", json={"posts": [{"text": "Nice day", **extra}]}, headers=poster
    )
    assert r.status_code == 422, r.text


def test_directory_takes_objects_and_mixed_lists(shared) -> None:  # type: ignore[no-untyped-def]
    org, _, admin = _org(shared)
    c = shared.client
    r = c.put(
        "/v1/staff-directory",
        json={"names": [*DIRECTORY, "  Jo   Bloggs ", {"name": "Ann Lee"}]},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"org": org, "count": 4}
    got = c.get("/v1/staff-directory", headers=admin).json()
    assert got["names"] == ["Ann Lee", "Jo Bloggs", "Priya Shah", "Sam Taylor"] and got["count"] == 4
    assert {"name": "Sam Taylor", "role": "nurse", "location": "Oak House"} in got["entries"]
    assert got["by_role"] == {"": 3, "nurse": 1} and got["by_location"] == {"": 3, "Oak House": 1}
    with shared.state.require_db().read_session() as s:
        assert staff.staff_counts(s, org=org) == 4
        assert staff.staff_counts(s, org=org, location="Oak House") == 1
        assert staff.staff_counts(s, org=org, location="Elm") == 0
        assert staff.staff_entries(s, org=org)[-1] == staff.StaffEntry("Sam Taylor", "nurse", "Oak House")
    # Plain names, as before.
    assert c.put("/v1/staff-directory", json={"names": ["Sam Taylor"]}, headers=admin).json()["count"] == 1
    for bad in (
        {"names": [{"name": "Sam Taylor", "role": "Nurse"}]},
        {"names": [{"name": "Sam Taylor", "team": "nights"}]},
        {"names": [{"name": "x" * 201}]},
        {"names": [{"name": "Sam", "location": "y" * 201}]},
        {"names": [{"role": "nurse"}]},
        {"names": ["x" * 201]},
    ):
        assert c.put("/v1/staff-directory", json=bad, headers=admin).status_code == 422, bad


def test_replace_staff_directory_keeps_its_keyword_signature(shared) -> None:  # type: ignore[no-untyped-def]
    org = f"org-{uuid.uuid4().hex[:8]}"
    with shared.state.require_db().session() as s:
        assert staff.replace_staff_directory(s, org=org, names=["Ann Lee", "Ann  Lee"], actor="t") == 1
        n = staff.replace_staff_directory(
            s, org=org, entries=[staff.StaffEntry("Bo Chen", "carer", "Elm"), "Cy Dee"], actor="t"
        )
        assert n == 2 and sorted(staff.staff_directory(s, org=org)) == ["Bo Chen", "Cy Dee"]


def test_a_special_mention_records_colleagues_as_roles_and_keys(shared) -> None:  # type: ignore[no-untyped-def]
    org, poster, admin = _org(shared)
    assert (
        shared.client.put("/v1/staff-directory", json={"names": DIRECTORY}, headers=admin).status_code == 200
    )
    text = "Special mention to Sam Taylor and Priya Shah for staying late to help with the hoist. Sam was brilliant!"
    answer = _screen(shared, poster, text=text, post_id="sm-1", kind="special_mention")
    assert "Sam Taylor" in answer["redacted_text"]  # directory colleagues stay named in the post
    row = _row(shared, org, "sm-1")
    assert row.recipient_roles == ["nurse", "unknown"]
    assert row.recipient_locations == ["Oak House", None]
    secret = shared.state.settings.secrets()[0]
    assert row.recipient_keys == [
        recipient_key(secret, org=org, name="Sam Taylor"),
        recipient_key(secret, org=org, name="Priya Shah"),
    ]
    assert all(len(k) == 64 and int(k, 16) >= 0 for k in row.recipient_keys)
    # The same colleague recognised again has the same key (distinct staff can be counted); another
    # organisation's colleague of the same name has another.
    _screen(shared, poster, text="Thank you Sam Taylor for the cake", post_id="sm-2", kind="ooo")
    assert _row(shared, org, "sm-2").recipient_keys == row.recipient_keys[:1]
    assert recipient_key(secret, org="other", name="Sam Taylor") != row.recipient_keys[0]
    # Nothing in the new columns names anyone.
    stored = " ".join(str(getattr(row, c)) for c in CULTURE_COLUMNS).lower()
    for word in ("sam", "taylor", "priya", "shah"):
        assert word not in stored


def test_names_not_in_the_directory_give_no_recipient(shared) -> None:  # type: ignore[no-untyped-def]
    org, poster, admin = _org(shared)
    shared.client.put("/v1/staff-directory", json={"names": DIRECTORY}, headers=admin)
    _screen(
        shared,
        poster,
        text="Huge thanks to Grace Miller for the lovely cake",
        post_id="n-1",
        kind="special_mention",
    )
    row = _row(shared, org, "n-1")
    assert (row.recipient_roles, row.recipient_locations, row.recipient_keys) == ([], [], [])
    assert "grace" not in " ".join(str(getattr(row, c)) for c in CULTURE_COLUMNS).lower()
    # A colleague named in an ordinary post is not a recipient.
    _screen(shared, poster, text="Sam Taylor is on the late shift", post_id="n-2")
    assert _row(shared, org, "n-2").recipient_keys is None
