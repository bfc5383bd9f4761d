"""``carescreen demo seed``: months of a demo organisation's activity screened through the real pipeline.

The plan (``evaluation/demo_plan.py``) is screened by ``service.screening.screen_batch``, the function behind
``POST /v1/screen/batch``, in this process (idempotency look-up, staff directory, the served pipeline, policy,
storage with review items, outbox events and audit entries), week by week in time order. Then moderators and the
safeguarding lead act on what was held or escalated, through ``storage.reviews.decide_review`` and
``storage.alerts.acknowledge`` (what ``/v1/reviews/{id}/decision`` and the console's acknowledge call).

Backdating: each screening, review item, acknowledgement and decision carries its planned time (the optional
``at``/``now`` arguments those functions take for this purpose only; the API never sets them). Audit entries
keep the real time of seeding: the chain is appended in order and ``carescreen audit verify`` passes.

Refusing: an organisation that already has screenings is refused (``DemoError``), so a second run adds
nothing; seed another ``--org`` or a fresh database instead. Nothing is deleted (the audit chain forbids it).
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from carescreen.config import Settings
from evaluation.demo_plan import DATA_DIR, LONDON, Planned, load_org, plan_activity
from models.taxonomy import CATEGORIES
from service.auth import Principal
from service.schemas import ScreenBody, ScreenResponse
from service.state import AppState
from storage import alerts, audit, keys, reviews, staff
from storage.tables import ReviewItem, Screening, utcnow

ACTOR = "cli:demo-seed"
#: Posts screened per call (one week is 40-60 posts).
CHUNK = 128
URGENT_INTENTS = frozenset({"safeguarding", "self_harm"})


class DemoError(Exception):
    """The demo cannot be seeded (no model, or the organisation already has activity)."""


@dataclass
class Summary:
    org: str
    posts: int = 0
    first: datetime | None = None
    last: datetime | None = None
    by_decision: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    mentions: int = 0
    mentions_named: int = 0
    questions: int = 0
    answered: int = 0
    conduct_planned: int = 0
    conduct_held: int = 0
    clean_held: int = 0
    urgent_planned: int = 0
    urgent_escalated: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    pending: int = 0
    lead_minutes: list[float] = field(default_factory=list)
    seconds: float = 0.0
    audit_ok: bool = False

    def text(self) -> str:
        def pairs(c: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"

        span = f"{self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}" if self.first and self.last else "-"
        median = f"{statistics.median(self.lead_minutes):.0f} min" if self.lead_minutes else "-"
        ms = 1000 * self.seconds / max(1, self.posts)
        return "\n".join(
            [
                f"Seeded organisation {self.org!r}: {self.posts} posts screened, {span} "
                f"({self.seconds:.0f} s, {ms:.0f} ms a post with storage)",
                f"  by kind: {pairs(self.by_kind)}",
                f"  by decision: {pairs(self.by_decision)}",
                f"  Special Mentions and OOOs: {self.mentions}, {self.mentions_named} naming a directory colleague",
                f"  questions: {self.questions}, {self.answered} answered",
                f"  rude or bullying posts: {self.conduct_held} of {self.conduct_planned} held; "
                f"clean posts held for review: {self.clean_held}",
                f"  disclosures and crisis posts: {self.urgent_escalated} of {self.urgent_planned} escalated",
                f"  moderator decisions: {pairs(self.decisions)}; still pending: {self.pending}",
                f"  safeguarding lead's first action on escalations: median {median}",
                f"  audit chain: {'verifies' if self.audit_ok else 'DOES NOT VERIFY'}",
            ]
        )


def require_model(settings: Settings) -> None:
    """Like ``carescreen serve``: a registered model must hold the served alias (the demo never trains one)."""
    from storage import model_store as registry

    if registry.get_alias(settings.model_alias, settings) is None:
        raise DemoError(
            f"no trained model holds the alias {settings.model_alias!r}: run `carescreen train` (or `make run`, "
            "which trains the default model on its first start), then seed the demo"
        )


def activity(state: AppState, org: str) -> int:
    with state.require_db().read_session() as s:
        return int(s.execute(select(func.count()).where(Screening.org == org)).scalar_one())


def run_demo(settings: Settings, *, org: str, months: int, per_week: int, seed: int) -> Summary:
    """The CLI's entry: the served model, this settings' database, progress bars."""
    from service.state import build_state

    state = build_state(settings)
    if not state.connect_db():
        raise DemoError(f"cannot open the database: {state.db_error}")
    refuse_if_active(state, org)
    require_model(settings)
    state.holder.load()
    return seed_demo(state, org=org, months=months, per_week=per_week, seed=seed, progress=True)


def refuse_if_active(state: AppState, org: str) -> None:
    if n := activity(state, org):
        raise DemoError(
            f"organisation {org!r} already has activity ({n} screenings); the demo seeds only an empty "
            "organisation and never deletes anything: choose another --org, or a fresh database"
        )


def seed_demo(
    state: AppState,
    *,
    org: str,
    months: int,
    per_week: int = 50,
    seed: int = 7,
    now: datetime | None = None,
    progress: bool = False,
) -> Summary:
    """Seed ``org`` with ``months`` months of activity up to ``now``; ``state`` has its pipeline loaded."""
    refuse_if_active(state, org)
    if state.holder.pipeline is None:
        raise DemoError(f"the screening pipeline is not loaded: {state.holder.readiness.errors}")
    started = time.perf_counter()
    now = now or utcnow()
    plan = plan_activity(
        end=now - timedelta(minutes=5), months=months, per_week=per_week, seed=seed, prefix=org
    )
    poster, moderators, lead = _keys_and_directory(state, org)
    answers = asyncio.run(_screen(state, poster, plan, progress))
    summary = Summary(org=org)
    _moderate(state, org, plan, answers, moderators, lead, now, random.Random(seed + 1), summary)
    _summarise(state, org, plan, answers, summary)
    summary.seconds = time.perf_counter() - started
    return summary


def _keys_and_directory(state: AppState, org: str) -> tuple[Principal, list[Principal], Principal]:
    """The posting service's key, two moderators' and the safeguarding lead's; the staff directory."""
    made: list[Principal] = []
    with state.require_db().write_session() as s:
        for role in ("poster", "moderator", "moderator", "safeguarding_lead"):
            row, _ = keys.create_api_key(s, org=org, role=role, label="demo seed", actor=ACTOR)
            made.append(Principal(key_id=row.id, org=org, role=role))
        entries = [staff.StaffEntry(p.name, p.role, p.location) for p in load_org(DATA_DIR).staff]
        staff.replace_staff_directory(s, org=org, entries=entries, actor=ACTOR)
    return made[0], made[1:3], made[3]


async def _screen(
    state: AppState, poster: Principal, plan: list[Planned], progress: bool
) -> dict[str, ScreenResponse]:
    from tqdm import tqdm

    from service.screening import screen_batch

    out: dict[str, ScreenResponse] = {}
    with tqdm(total=len(plan), unit="post", desc="screening", disable=not progress) as bar:
        for i in range(0, len(plan), CHUNK):
            chunk = plan[i : i + CHUNK]
            bodies = [ScreenBody(**p.body()) for p in chunk]
            answers = await screen_batch(state, poster, bodies, at=[p.at for p in chunk])
            out.update({p.post_id: a for p, a in zip(chunk, answers, strict=True)})
            bar.update(len(chunk))
    return out


def _minutes(rng: random.Random, median: float, low: float, high: float) -> timedelta:
    return timedelta(minutes=min(high, max(low, rng.lognormvariate(math.log(median), 0.8))))


def _working_hours(at: datetime, rng: random.Random) -> datetime:
    """Moderators work 08:00-21:00 (UK time): a decision due outside that waits for the next morning."""
    local = at.astimezone(LONDON)
    if 8 <= local.hour < 21:
        return at
    morning = local.replace(hour=8, minute=rng.randrange(45)) + timedelta(days=1 if local.hour >= 21 else 0)
    return morning.astimezone(at.tzinfo)


def _action(planned: Planned, answer: ScreenResponse) -> str:
    """What a person decides: the planned intent, whatever the model said."""
    intent = set(planned.intent)
    if intent & URGENT_INTENTS:
        return "escalate"
    if intent:
        return "reject"
    return "approve_redacted" if answer.entities else "approve"


def _labels(planned: Planned, answer: ScreenResponse) -> dict[str, bool]:
    """Per-category labels: each flag confirmed or refuted, and each intended category confirmed."""
    return {c: c in planned.intent for c in {*answer.flags, *planned.intent} if c in CATEGORIES}


def _moderate(
    state: AppState,
    org: str,
    plan: list[Planned],
    answers: dict[str, ScreenResponse],
    moderators: list[Principal],
    lead: Principal,
    now: datetime,
    rng: random.Random,
    summary: Summary,
) -> None:
    """Act on every review item as the organisation would have, at the planned times: the lead acknowledges
    escalations within minutes (longer at night, on call) and decides within hours; moderators decide held
    posts in working hours, most within the day. Items whose time has not come yet stay pending."""
    db = state.require_db()
    for planned in plan:
        answer = answers[planned.post_id]
        if answer.review is None:
            continue
        urgent = answer.decision == "escalate"
        hour = planned.at.astimezone(LONDON).hour
        if urgent:
            day = 8 <= hour < 18
            seen = planned.at + _minutes(rng, 7 if day else 30, 1, 360)
            decided = seen + _minutes(rng, 120, 10, 48 * 60)
            who = lead
        else:
            seen = None
            decided = _working_hours(planned.at + _minutes(rng, 180, 4, 50 * 60), rng)
            who = rng.choice(moderators)
        with db.write_session() as s:
            if seen is not None and seen < now:
                alerts.acknowledge(s, org=org, review_id=answer.review.id, actor=lead.actor, now=seen)
            if decided < now:
                action = _action(planned, answer)  # a held disclosure: the moderator escalates it
                reviews.decide_review(
                    s,
                    org=org,
                    review_id=answer.review.id,
                    key_id=who.key_id,
                    action=action,
                    labels=_labels(planned, answer),
                    redacted_text=None,
                    note=None,
                    actor=who.actor,
                    now=decided,
                )
                summary.decisions[action] += 1
            else:
                summary.pending += 1


def _summarise(
    state: AppState, org: str, plan: list[Planned], answers: dict[str, ScreenResponse], summary: Summary
) -> None:
    summary.posts = len(plan)
    summary.first, summary.last = (plan[0].at, plan[-1].at) if plan else (None, None)
    replied = {p.reply_to for p in plan if p.reply_to}
    for p in plan:
        a = answers[p.post_id]
        summary.by_decision[a.decision] += 1
        summary.by_kind[p.kind] += 1
        held = a.decision in ("hold", "block")
        if p.group == "question":
            summary.questions += 1
            summary.answered += p.post_id in replied
        if p.intent and not set(p.intent) & URGENT_INTENTS:
            summary.conduct_planned += 1
            summary.conduct_held += held
        elif set(p.intent) & URGENT_INTENTS:
            summary.urgent_planned += 1
            summary.urgent_escalated += a.decision == "escalate"
        elif held or a.decision == "escalate":
            summary.clean_held += 1
    with state.require_db().read_session() as s:
        mentions = s.execute(
            select(Screening.recipient_roles).where(
                Screening.org == org, Screening.kind.in_(("special_mention", "ooo"))
            )
        ).scalars()
        for roles in mentions:
            summary.mentions += 1
            summary.mentions_named += bool(roles)
        waits = s.execute(
            select(ReviewItem.created_at, ReviewItem.first_action_at)
            .join(Screening, Screening.id == ReviewItem.screening_id)
            .where(
                Screening.org == org,
                Screening.decision == "escalate",
                ReviewItem.first_action_at.is_not(None),
            )
        )
        summary.lead_minutes = [(acted - made).total_seconds() / 60 for made, acted in waits if acted]
        summary.audit_ok = audit.verify(s, org=org).ok
