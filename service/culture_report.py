"""The culture evidence report (issue 21): recognition, staff voice, shared practice, culture health and
wellbeing, for a period and the period of equal length before it, each tied to the inspection question it
evidences (``service/culture_text.py``).

Privacy by construction: storage answers counts only (``storage/culture.py``); every count goes into one
``Book`` that suppresses small numbers, and the complements that follow from them, across the whole report
before any rate is worked out; roles with fewer than 5 colleagues are grouped; circles are named only with at
least 5 posts. The JSON, the CSV, the printable page and the console page all render this one object.

Periods and weeks: ``service/culture_period.py``.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from models.disclosure import SUPPRESS_BELOW
from models.themes import theme_list
from service.culture_book import TOTAL, Book, Key, metric_cells
from service.culture_period import Frame, Period
from service.culture_text import KEY_LABELS, METRICS, PRIVACY, ROLE_LABELS, SECTIONS
from storage import culture, staff
from storage.tables import utcnow

PERIODS = ("current", "previous")
WELLBEING_THEME = "wellbeing_workload"


def culture_report(
    session: Session,
    *,
    org: str,
    period: Period,
    location: str | None = None,
    circle: str | None = None,
    decrypt: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """The whole report as one JSON-able object. ``decrypt`` opens anonymous authors in memory so that
    distinct people are counted (without it, or if it fails, only named authors are counted, and the report
    says so)."""
    frame = Frame.of(period)
    scope: dict[str, Any] = {"org": org, "location": location, "circle": circle}
    weekly: dict[str, Any] = {"edges": frame.weekly_edges, **scope}
    whole: dict[str, Any] = {"edges": frame.period_edges, **scope}
    book = Book()
    notes: list[str] = []
    staff_n = staff.staff_counts(session, org=org, location=location)
    facets = culture.post_facets(session, **weekly)
    _voice(book, frame, facets)
    _authors(book, session, whole, decrypt, notes)
    medians = _escalations(book, culture.escalation_waits(session, **whole))
    _practice(book, frame, culture.theme_counts(session, **weekly))
    _circles(book, culture.circle_spread(session, **whole), location)
    _recognition(
        book,
        frame,
        facets,
        staff_n,
        _role_groups(culture.staff_by_role(session, org=org, location=location)),
        culture.recognition_pairs(session, **whole),
        culture.recognised_colleagues(
            session, org=org, edges=frame.period_edges, recipient_location=location, circle=circle
        ),
    )
    book.suppress()
    _derive(book, frame, medians)
    cells = metric_cells(book, PERIODS)
    sections = []
    for sid, text in SECTIONS.items():
        metrics = [
            {"id": m, "label": METRICS[(s, m)][0], "unit": METRICS[(s, m)][1], **cells[(s, m)]}
            for (s, m) in METRICS
            if s == sid and (s, m) in cells
        ]
        sections.append(
            {
                "id": sid,
                "title": text.title,
                "question": text.question,
                "cqc": text.cqc,
                "evidences": text.evidences,
                "caveat": text.caveat,
                "metrics": metrics,
            }
        )
    themes = {t.id: t.name for t in theme_list().themes}
    return {
        "report": "culture",
        "org": org,
        "generated_at": utcnow().isoformat(),
        "timezone": "Europe/London",
        "filters": {"location": location, "circle": circle},
        "period": frame.current.describe(),
        "previous_period": frame.previous.describe(),
        "sections": sections,
        "labels": {"keys": KEY_LABELS, "roles": ROLE_LABELS, "themes": themes},
        "privacy": PRIVACY,
        "notes": notes,
    }


def _voice(book: Book, frame: Frame, facets: list[culture.Facets]) -> None:
    """Posts (all screened), concerns raised, crisis escalations, held for conduct: weekly series."""
    series: dict[str, dict[str, dict[str, int]]] = {
        name: {p: frame.zeros(p) for p in PERIODS}
        for name in ("posts", "raised", "crisis", "held", "published")
    }
    counts: dict[str, Counter[str]] = {p: Counter() for p in PERIODS}
    keys = frame.weekly
    for f in facets:
        period, week = keys[f.bucket]
        for name, on in (
            ("posts", True),
            ("raised", f.raised),
            ("crisis", f.crisis),
            ("held", f.held_conduct),
            ("published", f.published),
        ):
            if on:
                series[name][period][week] += f.n
        c = counts[period]
        c["anonymous"] += f.n if f.anonymous else 0
        if f.question and f.published and f.kind == "post":
            c["asked"] += f.n
            c["answered"] += f.n if f.answered else 0
    for p in PERIODS:
        posts = book.series("staff_voice", "posts", p, series["posts"][p])
        anon = book.count(("staff_voice", "posts_by_voice", p, "anonymous"), counts[p]["anonymous"])
        named = book.count(
            ("staff_voice", "posts_by_voice", p, "named"), book.values[posts] - counts[p]["anonymous"]
        )
        book.line([anon, named], posts)
        asked = book.count(("staff_voice", "questions", p, "asked"), counts[p]["asked"])
        answered = book.count(("staff_voice", "questions", p, "answered"), counts[p]["answered"])
        unanswered = book.count(
            ("staff_voice", "questions", p, "unanswered"), counts[p]["asked"] - counts[p]["answered"]
        )
        book.line([answered, unanswered], asked)
        book.series("staff_voice", "concerns_raised", p, series["raised"][p])
        book.series("wellbeing", "crisis_escalations", p, series["crisis"][p])
        book.series("culture_health", "held_for_conduct", p, series["held"][p])
        book.series("shared_practice", "published_posts", p, series["published"][p])
        for w in [*series["posts"][p], TOTAL]:
            whole = ("staff_voice", "posts", p, w)
            book.part(("culture_health", "held_for_conduct", p, w), whole)
            book.part(("shared_practice", "published_posts", p, w), whole)
            book.part(("wellbeing", "crisis_escalations", p, w), ("staff_voice", "concerns_raised", p, w))


def _authors(
    book: Book,
    session: Session,
    whole: dict[str, Any],
    decrypt: Callable[[str], str] | None,
    notes: list[str],
) -> None:
    """Distinct colleagues who posted, named or anonymous, each once (someone who posts both ways too):
    anonymous authors are opened in memory only to be counted, then forgotten. Without ``decrypt``, or when
    a stored author cannot be opened, named authors are counted and the report says so."""
    tokens = culture.anonymous_author_tokens(session, **whole)
    counts: dict[int, int] | None = None
    if tokens and decrypt is not None:
        people: dict[int, set[str]] = defaultdict(set)
        try:
            for b, who in culture.named_author_ids(session, **whole):
                people[b].add(who)
            for b, token in tokens:
                people[b].add(decrypt(token))
            counts = {b: len(p) for b, p in people.items()}
        except Exception:  # a stored author no secret opens: fall back, and say so
            counts = None
        people.clear()
    if counts is None:
        counts = culture.named_authors(session, **whole)
        if tokens:
            notes.append(
                "Colleagues who posted counts named authors only: the anonymous authors could not be counted "
                "without being opened, which this report did not do."
            )
    for b, p in enumerate(("previous", "current")):
        book.count(("staff_voice", "active_authors", p, TOTAL), counts.get(b, 0))


def _escalations(book: Book, waits: list[tuple[int, float | None]]) -> dict[str, float | None]:
    """Escalations at screening, how many were acted on, and the median minutes to the first action (worked
    out here, shown only if the count of those acted on is)."""
    medians: dict[str, float | None] = {}
    for b, p in enumerate(("previous", "current")):
        mine = [w for bb, w in waits if bb == b]
        esc = book.count(("staff_voice", "escalation_response", p, "escalated_at_screening"), len(mine))
        acted = [w / 60 for w in mine if w is not None]
        done = book.count(("staff_voice", "escalation_response", p, "acted_on"), len(acted))
        waiting = book.count(("staff_voice", "escalation_response", p, "awaiting"), len(mine) - len(acted))
        book.line([done, waiting], esc)
        medians[p] = statistics.median(acted) if acted else None
    return medians


def _practice(book: Book, frame: Frame, themes: dict[tuple[int, str], int]) -> None:
    """Published posts per theme (period totals) and week by week; wellbeing and workload has its own weekly
    series in the wellbeing section (entered once: there)."""
    ids = list(theme_list().ids) + sorted({t for _, t in themes} - set(theme_list().ids))
    keys = frame.weekly
    for p in PERIODS:
        weekly = {t: frame.zeros(p) for t in ids}
        for (b, t), n in themes.items():
            period, week = keys[b]
            if period == p:
                weekly[t][week] += n
        for t in ids:
            total = book.count(("shared_practice", "themes", p, t), sum(weekly[t].values()))
            if t == WELLBEING_THEME:
                cells = [book.count(("wellbeing", "wellbeing_posts", p, w), n) for w, n in weekly[t].items()]
                for w in weekly[t]:
                    book.part(
                        ("wellbeing", "wellbeing_posts", p, w), ("shared_practice", "published_posts", p, w)
                    )
                book.part(total, ("shared_practice", "published_posts", p, TOTAL))
            else:
                cells = [
                    book.count(("shared_practice", "themes_by_week", p, f"{t}/{w}"), n)
                    for w, n in weekly[t].items()
                ]
            book.line(cells, total)


def _circles(book: Book, rows: list[tuple[int, str, int, int, int]], location: str | None) -> None:
    """Circles with published posts (from the location, when filtered), those spanning more than one location
    across the organisation, and the posts in them; a circle is named only with 5 or more posts."""
    for b, p in enumerate(("previous", "current")):
        mine = [r for r in rows if r[0] == b and r[4] > 0]
        spanning = [r for r in mine if r[2] > 1]
        active = book.count(("shared_practice", "circles", p, "active"), len(mine))
        book.part(book.count(("shared_practice", "circles", p, "spanning"), len(spanning)), active)
        in_circles = book.count(
            ("shared_practice", "circles", p, "posts_in_circles"), sum(r[4] for r in mine)
        )
        in_spanning = book.count(
            ("shared_practice", "circles", p, "posts_in_spanning"), sum(r[4] for r in spanning)
        )
        book.part(in_spanning, in_circles)
        named = sorted((r for r in spanning if r[3] >= SUPPRESS_BELOW), key=lambda r: (-r[4], r[1]))
        listed = [
            book.count(("shared_practice", "spanning_circles", p, f"circle:{r[1]}"), r[4]) for r in named
        ]
        # Posts of unnamed (small) spanning circles: entered, and protected, only when there are any (when
        # there are none, the named circles add up to the total: that says only "zero").
        rest = sum(r[4] for r in spanning) - sum(r[4] for r in named)
        if rest:
            listed.append(book.count(("shared_practice", "spanning_circles", p, "smaller"), rest))
        if listed:
            book.line(listed, in_spanning)


def _role_groups(by_role: dict[str, int]) -> dict[str, str]:
    """Role -> how it is shown: a role with fewer than 5 colleagues in the directory (or none) joins "other
    roles", so no cell of the matrix is one person's."""
    return {r: r for r, n in by_role.items() if n >= SUPPRESS_BELOW}


def _recognition(
    book: Book,
    frame: Frame,
    facets: list[culture.Facets],
    staff_n: int,
    roles: dict[str, str],
    pairs: dict[tuple[int, str, str], int],
    recognised: dict[int, int],
) -> None:
    keys = frame.weekly
    weekly = {p: frame.zeros(p) for p in PERIODS}
    kinds: dict[str, Counter[str]] = {p: Counter() for p in PERIODS}
    for f in facets:
        if f.published and f.kind in culture.RECOGNITION_KINDS:
            period, week = keys[f.bucket]
            weekly[period][week] += f.n
            kinds[period][f.kind] += f.n
    staff_key = book.count(("recognition", "staff_in_directory", "current", TOTAL), staff_n)
    grouped: dict[tuple[int, str, str], int] = Counter()
    for (b, g, r), n in pairs.items():
        grouped[(b, roles.get(g, "other_roles"), roles.get(r, "other_roles"))] += n
    for b, p in enumerate(("previous", "current")):
        total = book.series("recognition", "recognitions", p, weekly[p])
        by_kind = [
            book.count(("recognition", "recognitions_by_kind", p, k), kinds[p][k])
            for k in culture.RECOGNITION_KINDS
        ]
        book.line(by_kind, total)
        seen = book.count(("recognition", "colleagues_recognised", p, TOTAL), recognised.get(b, 0))
        if staff_n >= recognised.get(b, 0):
            book.part(seen, staff_key)
        # Only the roles of this period: a role that gave or received nothing would add only zeros, and a
        # zero beside a single count in a row or column hides that count (every "<5" needs a partner).
        cells = {(g, r): n for (bb, g, r), n in grouped.items() if bb == b and n}
        givers = sorted({g for g, _ in cells}, key=_role_order)
        receivers = sorted({r for _, r in cells}, key=_role_order)
        _matrix(book, p, cells, givers, receivers)


def _role_order(role: str) -> tuple[int, str]:
    order = [*ROLE_LABELS]
    return (order.index(role) if role in order else len(order), role)


def _matrix(
    book: Book, p: str, cells: dict[tuple[str, str], int], givers: list[str], receivers: list[str]
) -> None:
    """Author role x recipient role with row, column and grand totals: every row and column is a line."""

    def key(g: str, r: str) -> Key:
        return ("recognition", "role_matrix", p, f"{g}>{r}")

    for g in givers:
        for r in receivers:
            book.count(key(g, r), cells.get((g, r), 0))
        book.count(key(g, "all"), sum(cells.get((g, r), 0) for r in receivers))
        book.line([key(g, r) for r in receivers], key(g, "all"))
    for r in receivers:
        book.count(key("all", r), sum(cells.get((g, r), 0) for g in givers))
        book.line([key(g, r) for g in givers], key("all", r))
    if givers:
        book.count(key("all", "all"), sum(cells.values()))
        book.line([key(g, "all") for g in givers], key("all", "all"))
        book.line([key("all", r) for r in receivers], key("all", "all"))


def _derive(book: Book, frame: Frame, medians: dict[str, float | None]) -> None:
    """Rates and shares, from counts that survived suppression only."""
    staff_key = ("recognition", "staff_in_directory", "current", TOTAL)
    for p in PERIODS:
        weeks = frame.period(p).days / 7

        def k(section: str, metric: str, key: str = TOTAL, period: str = p) -> Key:
            return (section, metric, period, key)

        book.derive(
            k("recognition", "recognitions_per_100_staff_per_week"),
            [k("recognition", "recognitions"), staff_key],
            lambda n, s, weeks=weeks: n / s * 100 / weeks if s else None,
        )
        book.derive(
            k("recognition", "share_of_staff_recognised"),
            [k("recognition", "colleagues_recognised"), staff_key],
            lambda c, s: c / s if s else None,
        )
        book.derive(
            k("staff_voice", "anonymous_share"),
            [k("staff_voice", "posts_by_voice", "anonymous"), k("staff_voice", "posts")],
            _share,
        )
        book.derive(
            k("staff_voice", "answered_share"),
            [k("staff_voice", "questions", "answered"), k("staff_voice", "questions", "asked")],
            _share,
        )
        median = medians.get(p)
        book.derive(
            k("staff_voice", "median_minutes_to_first_action"),
            [k("staff_voice", "escalation_response", "acted_on")],
            lambda _n, median=median: median,
        )
        book.derive(
            k("shared_practice", "spanning_share"),
            [
                k("shared_practice", "circles", "posts_in_spanning"),
                k("shared_practice", "circles", "posts_in_circles"),
            ],
            _share,
        )
        for w in [*frame.zeros(p), TOTAL]:
            posts = k("staff_voice", "posts", w)
            book.derive(
                k("culture_health", "held_share", w),
                [k("culture_health", "held_for_conduct", w), posts],
                _share,
            )
            mine = (
                k("wellbeing", "wellbeing_posts", w)
                if w != TOTAL
                else k("shared_practice", "themes", WELLBEING_THEME)
            )
            book.derive(
                k("wellbeing", "wellbeing_share", w),
                [mine, k("shared_practice", "published_posts", w)],
                _share,
            )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
