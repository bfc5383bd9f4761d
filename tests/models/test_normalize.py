"""Normalisation against evasion, with offsets that map back to exactly what the author wrote."""

from __future__ import annotations

import re

import pytest

from models.normalize import is_judgeable, normalize

ZW = "\u200b"


# (original, the folded word we look for, the disguised span of the original it must map back to)
CASES = [
    (f"you are so s{ZW}t{ZW}u{ZW}p{ZW}i{ZW}d honestly", "stupid", f"s{ZW}t{ZW}u{ZW}p{ZW}i{ZW}d"),
    ("what an \u0456d\u0456ot", "idiot", "\u0456d\u0456ot"),  # Cyrillic i
    ("\u0430buse in the home", "abuse", "\u0430buse"),  # Cyrillic a
    ("such a 1d10t", "idiot", "1d10t"),
    ("he will k1ll her", "kill", "k1ll"),
    ("you are s t u p i d", "stupid", "s t u p i d"),
    ("i will k.i.l.l you", "kill", "k.i.l.l"),
    ("D0ris in room 4", "Doris", "D0ris"),
    ("what a \uff49\uff44\uff49\uff4f\uff54", "idiot", "\uff49\uff44\uff49\uff4f\uff54"),  # full-width (NFKC)
    ("soft\u00adhyphen bru\u200dise", "bruise", "bru\u200dise"),
    ("id\u202eiot reversed", "idiot", "id\u202eiot"),
    ("$tupid and @buse", "stupid", "$tupid"),
]


@pytest.mark.parametrize(("original", "word", "disguised"), CASES)
def test_fold_and_map_back(original: str, word: str, disguised: str) -> None:
    n = normalize(original)
    assert word in n.text, n.text
    start = n.text.index(word)
    s, e = n.to_original(start, start + len(word))
    assert original[s:e] == disguised
    assert len(n.index) == len(n.text) + 1
    assert n.index[-1] == len(original)
    assert list(n.index) == sorted(n.index)  # monotone: spans never invert


@pytest.mark.parametrize(
    "text",
    [
        "Doris in room 4 had a lovely day",
        "call 07700 900123 or LS6 2AB",
        "",
        "\U0001f642\U0001f642",
        "line one\nline\ttwo",
    ],
)
def test_identity_and_index_for_plain_text(text: str) -> None:
    n = normalize(text, conservative=True)
    assert len(n.index) == len(n.text) + 1
    if text.isascii() and not re.search(r"[013457@$]", text):
        assert n.text == text
        assert list(n.index[:-1]) == list(range(len(text)))


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("postcode LS6 0AA please", "LS6 0AA"),
        ("NHS 943 476 5919", "943 476 5919"),
        ("ring 07700 900123", "07700 900123"),
        ("room 14", "room 14"),
    ],
)
def test_conservative_keeps_codes_and_numbers(text: str, kept: str) -> None:
    assert kept in normalize(text, conservative=True).text


def test_conservative_still_folds_disguised_names() -> None:
    assert normalize("D0ris and M4ry", conservative=True).text == "Doris and Mary"


def test_control_characters_become_spaces_not_merges() -> None:
    n = normalize("bad\x01word\x1bhere")
    assert n.text == "bad word here"
    s, e = n.to_original(4, 8)
    assert "bad\x01word\x1bhere"[s:e] == "word"


def test_empty_span_maps_to_a_point() -> None:
    n = normalize("abc")
    assert n.to_original(1, 1) == (1, 1)


def test_leet_does_not_touch_plain_numbers() -> None:
    assert normalize("shift at 7 in room 10").text == "shift at 7 in room 10"


@pytest.mark.parametrize(
    ("text", "judgeable"),
    [
        ("Lovely shift today, the team were brilliant", True),
        ("\U0001f642\U0001f642\U0001f602", True),
        ("ok", True),
        ("Сегодня был очень тяжёлый день на работе", False),
        ("今日はとても忙しい一日でした", False),
        ("Heute war ein sehr langer Tag auf der Station", False),
        ("Cześć wszystkim, dzisiaj była bardzo długa zmiana", False),
    ],
)
def test_is_judgeable(text: str, judgeable: bool) -> None:
    assert is_judgeable(text) is judgeable


@pytest.mark.parametrize(
    "text",
    [
        "Dzień dobry, czy ktoś może zamienić się ze mną na sobotę? Mam wesele siostry",
        "Hola a todos, no sé si alguien me puede ayudar con el turno del sábado",
        "Bonjour à tous, je suis très fatiguée après le travail de nuit",
        "Buna ziua, este cineva care poate sa schimbe tura de sambata cu mine",
        "Hallo zusammen, kann jemand mit mir die Schicht am Samstag tauschen",
        "Kumusta po kayo, may pwede po bang makipagpalit ng shift sa Sabado",
    ],
)
def test_posts_in_other_languages_go_to_a_person(text: str) -> None:
    from models.normalize import is_judgeable

    assert not is_judgeable(text)


def test_every_english_care_post_is_judgeable() -> None:
    from models.normalize import is_judgeable
    from training.care_corpus import load_posts

    assert [p.id for p in load_posts() if not is_judgeable(p.text)] == []
