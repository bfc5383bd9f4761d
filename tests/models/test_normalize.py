"""Normalisation against evasion, with offsets that map back to exactly what the author wrote."""

from __future__ import annotations

import re

import pytest

from models.confusables import HAND_MADE
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


# --- Homoglyphs from Unicode's confusables data, small capitals, and the offset map (issue "operations" 5) ---

# (original, the folded word, the disguised span it must map back to)
UNICODE_CASES = [
    ("ask \u1d05\u1d0f\u0280\u026as in the lounge", "doris", "\u1d05\u1d0f\u0280\u026as"),  # small capitals
    ("\u1d1c\ua731\u1d07\u029f\u1d07\ua731\ua731 cow", "useless", "\u1d1c\ua731\u1d07\u029f\u1d07\ua731\ua731"),
    ("you \u0455\u0441\u0430\u0440\u0435\u0445\u0443 lot", "scapexy", "\u0455\u0441\u0430\u0440\u0435\u0445\u0443"),  # Cyrillic
    ("\u0456\u0458 and more", "ij", "\u0456\u0458"),  # Cyrillic і ј
    ("such a l\u03bf\u03bdely d\u03b1y", "lovely", "l\u03bf\u03bdely"),  # Greek ο ν
    ("what a \U0001d422\U0001d41d\U0001d422\U0001d428\U0001d42d", "idiot", "\U0001d422\U0001d41d\U0001d422\U0001d428\U0001d42d"),
    ("what a \U0001d55a\U0001d555\U0001d55a\U0001d560\U0001d565", "idiot", "\U0001d55a\U0001d555\U0001d55a\U0001d560\U0001d565"),
    ("a \u0501\u0456rty \u04bbab\u0456t", "dirty", "\u0501\u0456rty"),  # from the data: Cyrillic komi de, shha
    ("\u13aa\u13f4USE here", "ABUSE", "\u13aa\u13f4USE"),  # Cherokee look-alikes
    ("s\u200b\u1d1b\u1d1c\u1d18\u026a\u1d05 ok", "stupid", "s\u200b\u1d1b\u1d1c\u1d18\u026a\u1d05"),  # invisible + small caps
]  # fmt: skip


@pytest.mark.parametrize(("original", "word", "disguised"), UNICODE_CASES)
def test_unicode_look_alikes_fold_and_map_back(original: str, word: str, disguised: str) -> None:
    test_fold_and_map_back(original, word, disguised)


def test_the_table_comes_from_unicode_data_and_keeps_every_hand_made_pair() -> None:
    from models.confusables import FOLDS, HAND_MADE, HOMOGLYPHS, small_capitals, unicode_confusables

    assert len(unicode_confusables()) > 1000
    assert all(FOLDS[k] == v for k, v in HAND_MADE.items())  # the hand-made pairs win ("І" -> "I", not "l")
    assert all(len(k) == 1 and len(v) == 1 and v.isascii() and v.isalnum() for k, v in FOLDS.items())
    assert not any(k.isascii() for k in FOLDS)  # ASCII ("@", "0", "1", "l") is never folded by the table
    assert "".join(sorted(small_capitals().values())) == "Iabcdefghijklmnopqrstuvwyz"
    assert str.maketrans(FOLDS) == HOMOGLYPHS


@pytest.mark.parametrize("pair", list(HAND_MADE.items()))
def test_each_hand_made_pair_still_folds(pair: tuple[str, str]) -> None:
    source, target = pair
    for conservative in (False, True):
        n = normalize(f"w{source}w", conservative=conservative)
        assert n.text == f"w{target}w" and n.index == (0, 1, 2, 3)


@pytest.mark.parametrize(
    "text",
    [
        "Zażółć gęślą jaźń, ștefan țară, niño, über, façade",  # letters of Latin-script languages stay
        "कमरा ०७ में",  # a Devanagari zero is a zero, not an "o"
        "\u0d2e\u0d32\u0d2f\u0d3e\u0d33\u0d02",  # a Malayalam anusvara stays a mark on its letter
        "paracetamol 1g × 4",  # symbols stand for themselves
        "مرحبا جميعا",  # right-to-left letters are never folded
    ],
)
def test_letters_digits_marks_and_symbols_that_are_not_disguises_stay(text: str) -> None:
    assert normalize(text, fold_leet=False).text == text


def test_conservative_mode_keeps_its_guarantees_with_look_alikes() -> None:
    assert (
        normalize("email j\u043ehn.smith@example.org", conservative=True).text
        == "email john.smith@example.org"
    )
    assert normalize("postcode \u0405W1A 1AA", conservative=True).text == "postcode SW1A 1AA"
    assert normalize(
        "NHS \uff19\uff14\uff13 \uff14\uff17\uff16 \uff15\uff19\uff11\uff19", conservative=True
    ).text == ("NHS 943 476 5919")
    assert (
        normalize("D0r\u0456s in \u0280\u1d0f\u1d0f\u1d0d 14", conservative=True).text == "Doris in room 14"
    )


def test_offset_map_is_exact_on_folded_text() -> None:
    """Every character of the folded text maps to the input character it came from (fold_leet off: every output
    character is then a fold of its source), on random mixes of every kind of disguise."""
    import random
    import unicodedata

    from models.confusables import HOMOGLYPHS

    pool = [
        *"abcdefghij XYZ 0123 .,!",
        "\u1d05", "\u1d0f", "\u0280", "\u026a", "\u0430", "\u0435", "\u043e", "\u0440", "\u0441", "\u0443",
        "\u0445", "\u0456", "\u0458", "\u0455", "\u03bf", "\u03b1", "\u03bd", "\uff41", "\uff22",
        "\U0001d41a", "\U0001d7ce", "\ufb01", "\u2460", "\u200b", "\u00ad", "\u202e", "\u202c", "\x01", "\n",
        "\U0001f642", "\u00e9", "\u0142", "\u0905", "\u13aa",
    ]  # fmt: skip
    rng = random.Random(7)
    for _ in range(500):
        original = "".join(rng.choice(pool) for _ in range(rng.randint(0, 40)))
        n = normalize(original, fold_leet=False)
        assert len(n.index) == len(n.text) + 1 and n.index[-1] == len(original)
        for k, ch in enumerate(n.text):
            source = original[n.index[k]]
            folded = unicodedata.normalize("NFKC", source).translate(HOMOGLYPHS)
            assert ch in folded or (ch == " " and unicodedata.category(source) == "Cc"), (original, k)
            s, e = n.to_original(k, k + 1)
            assert original[s:e] == source


@pytest.mark.parametrize(
    "text",
    [
        "Buna ziua, este cineva care poate sa schimbe tura de sambata cu mine",  # Romanian (was judged English)
        "Alguém pode trocar o turno de sábado comigo? Tenho um casamento",  # Portuguese (was judged English)
        "Diolch yn fawr i bawb am eich help ddoe, roeddech chi'n wych",  # Welsh
        "Kal raat doosri manzil wale dada ji guzar gaye, main unke paas thi",  # Hindi, romanised
        "Καλημέρα σε όλους, πολύ κουραστική νύχτα σήμερα",  # Greek: the script typed, not its folded look-alikes
        "Хорошо",  # (folded, this was "Xopoшo": mostly "Latin")
    ],
)
def test_more_languages_go_to_a_person(text: str) -> None:
    assert not is_judgeable(text)


@pytest.mark.parametrize(
    "text",
    [
        "shift swap anyone?",
        "ta x",
        "pt refused meds at 8, MAR chart signed and nurse aware",
        "DNACPR in place for rm 6, family aware, EOL care going well",
        "Long night but we got through it, inshallah tomorrow is calmer",
        "cant beleive the rota agian, 4 nights in a row and no brake",
        "she is a us\u0435l\u0435ss c\u043ew and \u0435v\u0435ry\u043en\u0435 kn\u043ews it",  # Cyrillic mixed into words
        "\u1d05\u1d0f\u0280\u026as \u026as \u1d00 \u029f\u1d00\u1d22\u028f \u1d04\u1d0f\u1d21 and everyone knows it",
        "\U0001d432\U0001d428\U0001d42e \U0001d41a\U0001d42b\U0001d41e a useless idiot and everyone knows",
    ],
)
def test_english_short_slang_and_disguised_posts_stay_judgeable(text: str) -> None:
    assert is_judgeable(text)
