"""Residents' identifiers never reach published text, measured through ``/v1/screen`` itself (issue 17).

A table of identifier forms staff really type (emails of many shapes, UK mobiles and landlines, NHS numbers
with spaces, dashes or none, postcodes with and without the space, NI numbers, dates of birth in words and
digits, rooms, flats, street addresses, key-safe and door codes in several sentence orders, names with titles,
hyphens, apostrophes and non-English origins), each inside an ordinary sentence, and a table of look-alikes that
must stay as written (times, doses, "Room for improvement", "Email", months, weekdays, staff-directory names).
Every row goes through the same HTTP path the posting flow calls; no parallel helper.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers import auth

EMAILS = [
    "jo.hughes@example.org", "j.hughes+care@example.co.uk", "DORIS.HUGHES@EXAMPLE.ORG", "mark_jones12@example.com",
    "o'brien.family@example.org", "a.b.c@mail.example.org", "sam-lee@example.net", "nok.patel@example.org",
    "x@example.org", "family2024@example.co.uk", "k.okafor@nhs.example.org", "first.last@sub.example.com",
    "r.wojcik@example.org", "help+rota@example.org", "anne.marie.smith@example.org",
]  # fmt: skip
EMAIL_FRAMES = ["email her son on {x} please", "Contact: {x}.", "daughter's email ({x}) for updates",
                "send the photos to {x}, she asked"]  # fmt: skip

PHONES = [
    "07700 900123", "07700900123", "+44 7700 900123", "+447700900123", "(07700) 900123", "07700-900-123",
    "0044 7700 900123", "07700 900 456", "0113 496 0123", "0113 4960123", "(0113) 496 0123", "020 7946 0123",
    "0161 496 0987", "+44 113 496 0555", "01632 960123", "0114 496 0789",
]  # fmt: skip
PHONE_FRAMES = ["ring her daughter on {x} after 6", "son's number is {x}", "NOK {x} - call if any change"]

NHS = ["943 476 5919", "9434765919", "943-476-5919", "945 807 3022", "1573681938", "997 220 0337",
       "224-538-3230", "549 909 5140", "5475277206", "405 608 6567", "907 029 3137"]  # fmt: skip
NHS_FRAMES = ["NHS no {x} for the referral", "her NHS number is {x}", "nhs: {x}"]

POSTCODES = ["LS6 2QR", "LS62QR", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "W1A 0AX", "EC1A 1BB", "ls6 2qr",
             "SW1A 2AA", "G12 8QQ", "CF10 3NQ"]  # fmt: skip
POSTCODE_FRAMES = ["the new client is at {x}", "moved to a flat in {x} last week"]

NI = ["QQ 12 34 56 C", "QQ123456C", "qq 12 34 56 c", "QQ 98 76 54 A"]
NI_FRAMES = ["NI number {x} for her blue badge form"]

DOB = ["12/03/1941", "12.03.41", "3rd March 1941", "1941-03-12", "3 March 1941", "12th of March 1938",
       "14/11/1929", "March 3, 1941"]  # fmt: skip
DOB_FRAMES = ["DOB {x}", "date of birth {x} on the form", "she was born on {x}"]

ROOMS = ["room 14", "Room 3B", "rm 12", "flat 4", "Flat 12a", "bedroom 7", "room number 22"]
ROOM_FRAMES = ["the lady in {x} needs her glasses fixing", "{x} buzzer is playing up"]

ADDRESSES = ["14 Elm Road", "3 Church Lane", "221 Station Street", "7 Mill Court", "52a Victoria Avenue",
             "9 St John's Close"]  # fmt: skip
ADDRESS_FRAMES = ["new call at {x} from Monday", "client at {x} has moved her bins again"]

CODES = [
    ("keysafe {x}", "4471"), ("key safe code is {x}", "2580"), ("the keysafe code at 4 Elm Road is {x}", "2580"),
    ("door code {x}", "1234#"), ("alarm code: {x}", "9911"), ("code for number 12's key safe is {x}", "1-9-7-3"),
    ("gate code {x} for the Jones house", "0451"), ("key box at the back, code {x}", "7302"),
    ("new keysafe number for Mrs Patel's is {x}", "0 4 9 2"), ("the door entry code is now {x}", "55123"),
]  # fmt: skip

NAMES = [
    "Mrs O'Brien", "Mr Okonkwo-Adeyemi", "Doris Hughes", "Mr van der Berg", "Mrs Nguyen", "Mr Przybylski",
    "Margaret-Rose Ellis", "Mr Siddiqui", "Mrs Wójcik", "Mr Oyelaran", "Mrs Kaur", "Mr MacDonald",
    "Mrs D'Souza", "Mr Abdi", "Dorothy Fitzgerald", "Mrs Ferreira", "Mr Ionescu", "Mrs Chowdhury",
    "Mr Zhang Wei", "Mrs Mbeki", "Mrs Ní Bhriain", "Mr Adebayo-Smith", "Mrs Kowalczyk",
]  # fmt: skip
NAME_FRAMES = ["{x} had a lovely visit from her grandson today", "can someone help {x} with her hearing aid"]


def _rows() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for xs, frames in (
        (EMAILS, EMAIL_FRAMES), (PHONES, PHONE_FRAMES), (NHS, NHS_FRAMES), (POSTCODES, POSTCODE_FRAMES),
        (NI, NI_FRAMES), (DOB, DOB_FRAMES), (ROOMS, ROOM_FRAMES), (ADDRESSES, ADDRESS_FRAMES),
        (NAMES, NAME_FRAMES),
    ):  # fmt: skip
        for k, x in enumerate(xs):  # each form in two sentence frames (where there are two)
            for frame in dict.fromkeys([frames[k % len(frames)], frames[(k + 1) % len(frames)]]):
                rows.append((frame.format(x=x), x))
    rows += [(frame.format(x=code), code) for frame, code in CODES]
    return rows


ROWS = _rows()

#: Look-alikes that must stay exactly as written (precision: a redaction here hurts readability and trust).
KEEP = [
    ("meds round at 10:30 then lunch", "10:30"), ("give 500mg paracetamol at 14:00 if needed", "500mg"),
    ("Room for improvement on the MAR charts", "Room for improvement"),
    ("Email the office if you can't make it", "Email"), ("Text the on-call if you're stuck", "Text"),
    ("March has been a busy month", "March"), ("Monday's handover was spot on", "Monday"),
    ("Rose Ward is having a quiz night", "Rose Ward"), ("2 carers on the double-up call", "2 carers"),
    ("we scored 98% on the audit", "98%"), ("thanks to the NHS district nurses", "NHS"),
    ("fluids 1500ml by teatime", "1500ml"), ("running 15 minutes late on my 3 o'clock", "15 minutes"),
    ("May is dementia awareness month", "May"), ("big thanks to Priya Sharma for covering", "Priya Sharma"),
    ("OOO to Tom Baker for the brews", "Tom Baker"),
]  # fmt: skip
STAFF = ["Priya Sharma", "Tom Baker"]


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


@pytest.fixture
def poster(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("org-a", "poster"))


def test_the_table_is_large_and_varied() -> None:
    assert len(ROWS) >= 150
    assert len({text for text, _ in ROWS}) == len(ROWS)
    assert len({x for _, x in ROWS}) >= 110  # distinct identifier forms


def test_no_identifier_reaches_published_text(client, poster) -> None:  # type: ignore[no-untyped-def]
    leaks: list[str] = []
    for text, identifier in ROWS:
        r = client.post("/v1/screen", json={"text": text}, headers=poster)
        assert r.status_code == 200, r.text
        published = r.json()["redacted_text"]
        digits = _digits(identifier)
        if identifier.lower() in published.lower() or (len(digits) >= 4 and digits in _digits(published)):
            leaks.append(f"{identifier!r} in {published!r}")
    assert leaks == [], f"{len(leaks)} of {len(ROWS)} identifiers published:\n" + "\n".join(leaks)


def test_look_alikes_and_staff_names_stay(client, poster, make_key) -> None:  # type: ignore[no-untyped-def]
    admin = auth(make_key("org-a", "admin"))
    assert client.put("/v1/staff-directory", json={"names": STAFF}, headers=admin).status_code == 200
    lost = []
    for text, keep in KEEP:
        published = client.post("/v1/screen", json={"text": text}, headers=poster).json()["redacted_text"]
        if keep not in published:
            lost.append(f"{keep!r}: {published!r}")
    assert lost == [], "\n".join(lost)
