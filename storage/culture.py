"""What the culture evidence report counts (issue 21), grouped in the database: counts, never rows of posts.

Every function takes the organisation, ``edges`` (ascending instants that cut [edges[0], edges[-1]) into
buckets: the weeks of two periods, or the two periods themselves) and the report's filters, and answers counts
keyed by the bucket's index. No text, name, author id, post id or recipient pseudonym leaves here, with one
exception the service needs: ``anonymous_author_tokens`` returns the ciphertexts of anonymous authors, which the
service decrypts in memory only to count distinct people (Fernet ciphertexts differ for the same author, so the
database cannot count them).

Whether a post was published is decided here as ``storage.outcomes.post_status`` decides it (the latest human
decision, an appeal's over the first one's; before any, the screening's), a test keeps the two equal. JSON
arrays (flags, themes, recipients) are read with ``json_each`` on SQLite and ``json_array_elements_text`` on
PostgreSQL. Grouped expressions are labelled in a subquery and grouped outside it: PostgreSQL does not see two
renderings of one expression with bound parameters as the same expression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, distinct, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from storage.outcomes import APPROVALS, PUBLISHED_AT_SCREENING
from storage.tables import Appeal, Decision, ReviewItem, Screening, StaffName

#: ``models.culture_signals.RECIPIENT_KINDS`` (storage cannot import models; a test keeps them equal).
RECOGNITION_KINDS = ("special_mention", "ooo")
#: Flags of a post held for how colleagues were treated (culture health).
CONDUCT_FLAGS = ("toxicity", "bullying")
HELD = ("hold", "block")


@dataclass(frozen=True)
class Facets:
    """One group of screened posts: how many share these facets in this bucket."""

    bucket: int
    kind: str
    published: bool
    anonymous: bool
    question: bool
    answered: bool
    raised: bool  # escalated, at screening or by a moderator: a concern raised
    held_conduct: bool  # held or blocked and flagged toxicity or bullying
    crisis: bool  # raised and flagged self-harm
    n: int


class _Outcome:
    """A post's human decisions (its own item's, its appeal's) joined beside it, and what follows from them."""

    def __init__(self, s: Any) -> None:
        self.s = s
        self.item = aliased(ReviewItem)
        self.first = aliased(Decision)
        self.appeal = aliased(Appeal)
        self.second = aliased(Decision)
        human = func.coalesce(self.second.action, self.first.action)
        self.published: ColumnElement[bool] = case(
            (human.is_not(None), human.in_(APPROVALS)), else_=s.decision.in_(PUBLISHED_AT_SCREENING)
        )
        self.raised: ColumnElement[bool] = or_(
            s.decision == "escalate", self.first.action == "escalate", self.second.action == "escalate"
        )

    def join(self, q: Any) -> Any:
        s = self.s
        return (
            q.outerjoin(self.item, and_(self.item.screening_id == s.id, self.item.kind == "screen"))
            .outerjoin(self.first, self.first.review_id == self.item.id)
            .outerjoin(self.appeal, self.appeal.screening_id == s.id)
            .outerjoin(self.second, self.second.review_id == self.appeal.review_id)
        )


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _elements(session: Session, column: Any, name: str) -> tuple[Any, Any, Any]:
    """A JSON array's elements as rows: (FROM item, element as text, position)."""
    if _postgres(session):
        tv = (
            func.json_array_elements_text(column)
            .table_valued("value", with_ordinality="pos")
            .render_derived(name=name)
        )
        return tv, tv.c.value, tv.c.pos
    tv = func.json_each(column).table_valued("value", "key", name=name)
    return tv, tv.c.value, tv.c.key


def _has_flag(session: Session, s: Any, flags: Sequence[str]) -> ColumnElement[bool]:
    tv, value, _ = _elements(session, s.flags, "f")
    return select(literal(1)).select_from(tv).where(value.in_(list(flags))).exists()


def _bucket(s: Any, edges: Sequence[datetime]) -> ColumnElement[int]:
    if len(edges) <= 2:
        return literal(0)
    return case(*[(s.created_at < edge, i) for i, edge in enumerate(edges[1:-1])], else_=len(edges) - 2)


def _scope(
    q: Any,
    s: Any,
    *,
    org: str,
    edges: Sequence[datetime],
    location: str | None,
    circle: str | None,
) -> Any:
    q = q.where(s.org == org, s.created_at >= edges[0], s.created_at < edges[-1])
    if location is not None:
        q = q.where(s.location == location)
    if circle is not None:
        q = q.where(s.circle == circle)
    return q


def post_facets(
    session: Session,
    *,
    org: str,
    edges: Sequence[datetime],
    location: str | None = None,
    circle: str | None = None,
) -> list[Facets]:
    """Screened posts per bucket and facet (one query): what staff voice, culture health and wellbeing count.

    A question is answered when a published comment anywhere in the organisation replies to it (``reply_to``
    is its post id), at any time up to now. Asked as ``post_id IN (answered ids)``, which PostgreSQL runs as
    one hashed subplan whatever its row estimates (a join to the same subquery was planned as a nested loop on
    a table not yet analysed: 20 s for 20,000 posts)."""
    s = aliased(Screening)
    out = _Outcome(s)
    c = aliased(Screening)
    reply = _Outcome(c)
    answered_ids = reply.join(select(c.reply_to).select_from(c)).where(
        c.org == org, c.kind == "comment", c.reply_to.is_not(None), reply.published
    )
    question = func.coalesce(s.is_question, False)
    raised = out.raised
    inner = out.join(
        select(
            _bucket(s, edges).label("b"),
            s.kind.label("kind"),
            out.published.label("published"),
            s.anonymous.label("anonymous"),
            question.label("question"),
            and_(question, s.post_id.in_(answered_ids)).label("answered"),
            raised.label("raised"),
            and_(s.decision.in_(HELD), _has_flag(session, s, CONDUCT_FLAGS)).label("held_conduct"),
            and_(raised, _has_flag(session, s, ("self_harm",))).label("crisis"),
        ).select_from(s)
    )
    sub = _scope(inner, s, org=org, edges=edges, location=location, circle=circle).subquery()
    cols = [sub.c[k] for k in ("b", "kind", "published", "anonymous", "question", "answered")]
    cols += [sub.c[k] for k in ("raised", "held_conduct", "crisis")]
    rows = session.execute(select(*cols, func.count()).group_by(*cols))
    return [
        Facets(int(b), str(k), bool(pub), bool(anon), bool(q), bool(ans), bool(r), bool(h), bool(c), int(n))
        for b, k, pub, anon, q, ans, r, h, c, n in rows
    ]


def theme_counts(
    session: Session,
    *,
    org: str,
    edges: Sequence[datetime],
    location: str | None = None,
    circle: str | None = None,
) -> dict[tuple[int, str], int]:
    """Published posts per bucket and practice theme (a post with two themes counts once in each)."""
    s = aliased(Screening)
    out = _Outcome(s)
    tv, value, _ = _elements(session, s.themes, "t")
    inner = out.join(
        select(_bucket(s, edges).label("b"), value.label("theme")).select_from(s).join(tv, true())
    ).where(out.published)
    sub = _scope(inner, s, org=org, edges=edges, location=location, circle=circle).subquery()
    rows = session.execute(select(sub.c.b, sub.c.theme, func.count()).group_by(sub.c.b, sub.c.theme))
    return {(int(b), str(t)): int(n) for b, t, n in rows}


def recognition_pairs(
    session: Session,
    *,
    org: str,
    edges: Sequence[datetime],
    location: str | None = None,
    circle: str | None = None,
) -> dict[tuple[int, str, str], int]:
    """Published Special Mentions and OOOs per bucket, author role and recipient role: one per colleague
    named (the role-to-role matrix). Roles unknown on either side are "unknown"."""
    s = aliased(Screening)
    out = _Outcome(s)
    tv, value, _ = _elements(session, s.recipient_roles, "r")
    inner = out.join(
        select(
            _bucket(s, edges).label("b"),
            func.coalesce(s.author_role, "unknown").label("giver"),
            func.coalesce(value, "unknown").label("receiver"),
        )
        .select_from(s)
        .join(tv, true())
    ).where(out.published, s.kind.in_(RECOGNITION_KINDS))
    sub = _scope(inner, s, org=org, edges=edges, location=location, circle=circle).subquery()
    cols = (sub.c.b, sub.c.giver, sub.c.receiver)
    return {
        (int(b), str(g), str(r)): int(n)
        for b, g, r, n in session.execute(select(*cols, func.count()).group_by(*cols))
    }


def recognised_colleagues(
    session: Session,
    *,
    org: str,
    edges: Sequence[datetime],
    recipient_location: str | None = None,
    circle: str | None = None,
) -> dict[int, int]:
    """Distinct colleagues (keyed pseudonyms) named in published Special Mentions and OOOs, per bucket; with
    ``recipient_location``, only colleagues the directory places there (wherever the post came from)."""
    s = aliased(Screening)
    out = _Outcome(s)
    keys, key, key_pos = _elements(session, s.recipient_keys, "k")
    q = select(_bucket(s, edges).label("b"), key.label("who")).select_from(s).join(keys, true())
    if recipient_location is not None:
        places, place, place_pos = _elements(session, s.recipient_locations, "l")
        q = q.join(places, place_pos == key_pos).where(place == recipient_location)
    inner = out.join(q).where(out.published, s.kind.in_(RECOGNITION_KINDS))
    sub = _scope(inner, s, org=org, edges=edges, location=None, circle=circle).subquery()
    rows = session.execute(select(sub.c.b, func.count(distinct(sub.c.who))).group_by(sub.c.b))
    return {int(b): int(n) for b, n in rows}


def named_authors(
    session: Session,
    *,
    org: str,
    edges: Sequence[datetime],
    location: str | None = None,
    circle: str | None = None,
) -> dict[int, int]:
    """Distinct named authors (``author_id`` of non-anonymous posts) per bucket."""
    s = aliased(Screening)
    inner = select(_bucket(s, edges).label("b"), s.author_id.label("who")).where(
        s.author_id.is_not(None), s.anonymous.is_(False)
    )
    sub = _scope(inner, s, org=org, edges=edges, location=location, circle=circle).subquery()
    rows = session.execute(select(sub.c.b, func.count(distinct(sub.c.who))).group_by(sub.c.b))
    return {int(b): int(n) for b, n in rows}


def anonymous_author_tokens(
    session: Session,
    *,
    org: str,
    edges: Sequence[datetime],
    location: str | None = None,
    circle: str | None = None,
) -> list[tuple[int, str]]:
    """(bucket, encrypted author) of anonymous posts that gave an author: for counting distinct people only,
    after decrypting in memory (see the module's docstring). Never shown, logged or stored."""
    s = aliased(Screening)
    q = select(_bucket(s, edges), s.author_enc).where(s.anonymous.is_(True), s.author_enc.is_not(None))
    q = _scope(q, s, org=org, edges=edges, location=location, circle=circle)
    return [(int(b), str(token)) for b, token in session.execute(q)]


def named_author_ids(
    session: Session,
    *,
    org: str,
    edges: Sequence[datetime],
    location: str | None = None,
    circle: str | None = None,
) -> list[tuple[int, str]]:
    """(bucket, author id) of named posts, distinct: joined in memory with decrypted anonymous authors, so a
    colleague who posts both ways is one person. Never shown, logged or stored."""
    s = aliased(Screening)
    q = select(_bucket(s, edges).label("b"), s.author_id.label("who")).where(
        s.author_id.is_not(None), s.anonymous.is_(False)
    )
    sub = _scope(q, s, org=org, edges=edges, location=location, circle=circle).subquery()
    return [(int(b), str(w)) for b, w in session.execute(select(sub.c.b, sub.c.who).distinct())]


def escalation_waits(
    session: Session,
    *,
    org: str,
    edges: Sequence[datetime],
    location: str | None = None,
    circle: str | None = None,
) -> list[tuple[int, float | None]]:
    """(bucket, seconds from an escalation at screening to the first action on its item; None while nobody
    has acted) for each such post: durations only, for the median."""
    s = aliased(Screening)
    item = aliased(ReviewItem)
    q = (
        select(_bucket(s, edges), item.created_at, item.first_action_at)
        .join(item, and_(item.screening_id == s.id, item.kind == "screen"))
        .where(s.decision == "escalate")
    )
    rows = session.execute(_scope(q, s, org=org, edges=edges, location=location, circle=circle))
    return [
        (int(b), None if acted is None else max(0.0, (acted - made).total_seconds()))
        for b, made, acted in rows
    ]


def circle_spread(
    session: Session,
    *,
    org: str,
    edges: Sequence[datetime],
    location: str | None = None,
    circle: str | None = None,
) -> list[tuple[int, str, int, int, int]]:
    """(bucket, circle, distinct locations, published posts, of which from ``location``) per circle with
    published posts. Locations are counted over the whole organisation, so a circle shared with other homes
    counts as spanning even when the report is filtered to one of them."""
    s = aliased(Screening)
    out = _Outcome(s)
    here = case((s.location == location, 1), else_=0) if location is not None else literal(1)
    inner = out.join(
        select(
            _bucket(s, edges).label("b"),
            s.circle.label("circle"),
            s.location.label("place"),
            here.label("here"),
        ).select_from(s)
    ).where(out.published, s.circle.is_not(None))
    sub = _scope(inner, s, org=org, edges=edges, location=None, circle=circle).subquery()
    q = select(
        sub.c.b, sub.c.circle, func.count(distinct(sub.c.place)), func.count(), func.sum(sub.c.here)
    ).group_by(sub.c.b, sub.c.circle)
    return [(int(b), str(c), int(p), int(n), int(h or 0)) for b, c, p, n, h in session.execute(q)]


def staff_by_role(session: Session, *, org: str, location: str | None = None) -> dict[str, int]:
    """Colleagues in the directory per role ("unknown" without one), at ``location`` when given: which roles
    are big enough to be shown on their own."""
    q = select(StaffName.role, func.count()).where(StaffName.org == org)
    if location is not None:
        q = q.where(StaffName.location == location)
    out: dict[str, int] = {}
    for role, n in session.execute(q.group_by(StaffName.role)):
        out[role or "unknown"] = out.get(role or "unknown", 0) + int(n)
    return out


def locations(session: Session, *, org: str) -> list[str]:
    """Locations the directory or the posts name (the report form's choices): place names, no people."""
    staff = select(StaffName.location).where(StaffName.org == org, StaffName.location.is_not(None))
    posts = select(Screening.location).where(Screening.org == org, Screening.location.is_not(None))
    return sorted({str(v) for v in session.execute(staff.union(posts)).scalars()})
