"""The demo organisation's months of activity, planned: who posts what, where and when (no screening here).

Reads ``datasets/demo/org.yaml`` (locations, circles, the staff directory) and ``datasets/demo/posts.yaml``
(templates with slots) and returns ``Planned`` posts in time order. Deterministic for a seed (and an end time):
activity grows over the period as colleagues join, follows weekdays and shifts (day staff at handover and
breaks, night staff in the small hours, managers in office hours, UK local time), and mixes practice posts,
questions with their answers, comments, Special Mentions, OOOs, a small share of rude or bullying posts, about
one safeguarding disclosure a week and one or two crisis posts. ``evaluation/demo_seed.py`` screens the plan.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from carescreen.config import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "datasets" / "demo"
LONDON = ZoneInfo("Europe/London")

#: Share of a week's items per group (the rest of a week: answers to its questions, disclosures, crises).
MIX: dict[str, float] = {
    "theme": 0.40,
    "question": 0.10,
    "chatter": 0.08,
    "comment": 0.08,
    "special_mention": 0.12,
    "ooo": 0.14,
    "toxicity": 0.025,
    "bullying": 0.015,
}
#: What a moderator confirms a post of each group to be (the labels of the demo's decisions).
INTENT: dict[str, tuple[str, ...]] = {
    "toxicity": ("toxicity",),
    "bullying": ("bullying",),
    "safeguarding": ("safeguarding",),
    "crisis": ("self_harm",),
}
#: Chance that a post of the group is posted anonymously (others: ``ANONYMOUS_DEFAULT``).
ANONYMOUS = {"safeguarding": 0.4, "crisis": 0.5, "toxicity": 0.3, "bullying": 0.3, "question": 0.12}
ANONYMOUS_DEFAULT = 0.05
#: Roles that write each of these groups (others: anyone).
WRITERS = {
    "toxicity": ("carer", "senior_carer", "support_worker", "bank", "nurse"),
    "bullying": ("carer", "senior_carer", "support_worker", "bank"),
    "safeguarding": ("carer", "senior_carer", "support_worker", "bank", "nurse", "team_leader"),
    "crisis": ("carer", "support_worker", "bank"),
}
#: A template starting with this is an announcement: posted only by these roles.
LEAD_MARK = "[lead] "
LEADS = ("manager", "team_leader", "nurse", "senior_carer")
_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    location: str
    setting: str
    shift: str
    activity: float
    joins: float
    circles: tuple[str, ...]
    author_id: str

    @property
    def first(self) -> str:
        return self.name.split()[0]


@dataclass(frozen=True)
class Org:
    staff: tuple[Person, ...]
    home_circle: dict[str, str]
    residents: tuple[str, ...]
    clients: tuple[str, ...]
    hours: dict[str, dict[int, float]]  # per shift: local hour -> weight
    weekdays: tuple[float, ...]  # Monday first


@dataclass(frozen=True)
class Planned:
    """One post of the plan. ``ref``/``reply_ref`` link an answer to its question until ids are given."""

    at: datetime  # UTC
    text: str
    kind: str
    author: Person
    anonymous: bool
    circle: str | None
    group: str
    theme: str | None = None
    ref: int = 0
    reply_ref: int | None = None
    post_id: str = ""
    reply_to: str | None = None

    @property
    def intent(self) -> tuple[str, ...]:
        return INTENT.get(self.group, ())

    def body(self) -> dict[str, Any]:
        """The ``/v1/screen`` body of this post."""
        return {
            "text": self.text,
            "post_id": self.post_id,
            "author_id": self.author.author_id,
            "anonymous": self.anonymous,
            "circle": self.circle,
            "kind": self.kind,
            "author_role": self.author.role,
            "location": self.author.location,
            "reply_to": self.reply_to,
        }


def load_org(data_dir: Path = DATA_DIR) -> Org:
    raw = yaml.safe_load((data_dir / "org.yaml").read_text())
    settings = {loc["name"]: loc["setting"] for loc in raw["locations"]}
    staff = tuple(
        Person(
            name=s["name"],
            role=s["role"],
            location=s["location"],
            setting=settings[s["location"]],
            shift=s.get("shift", "day"),
            activity=float(s.get("activity", 1.0)),
            joins=float(s.get("joins", 0.0)),
            circles=tuple(s.get("circles", ())),
            author_id=f"staff-{i + 1:03d}",
        )
        for i, s in enumerate(raw["staff"])
    )
    return Org(
        staff=staff,
        home_circle={loc["name"]: loc["circle"] for loc in raw["locations"]},
        residents=tuple(raw["residents"]),
        clients=tuple(raw["clients"]),
        hours={
            shift: {int(h): float(w) for h, w in hours.items()}
            for shift, hours in raw["rhythm"]["hours"].items()
        },
        weekdays=tuple(raw["rhythm"]["weekdays"]),
    )


def load_templates(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    return yaml.safe_load((data_dir / "posts.yaml").read_text())  # type: ignore[no-any-return]


def pool(section: dict[str, list[Any]] | list[Any], author: Person) -> list[str]:
    """The templates of a section that fit the author: ``any`` plus their setting's own (``home`` for both
    homes); announcements (``LEAD_MARK``) only for leading roles, without the mark."""
    keys = {"home": ("any", "home"), "nursing": ("any", "home", "nursing"), "homecare": ("any", "homecare")}
    found = (
        section
        if isinstance(section, list)
        else [t for k in keys[author.setting] for t in section.get(k, [])]
    )
    lead = author.role in LEADS
    return [t.removeprefix(LEAD_MARK) for t in found if lead or not t.startswith(LEAD_MARK)]


class Planner:
    def __init__(self, org: Org, templates: dict[str, Any], rng: random.Random) -> None:
        self.org, self.t, self.rng = org, templates, rng
        self.refs = 0
        self.disclosed = True  # whether last week had a safeguarding disclosure
        self.frac = 0.0  # how far into the period the week being planned is

    # -- people, places and times ------------------------------------------------------------------------
    def author(self, frac: float, group: str) -> Person:
        """Someone who posts by then and writes this kind of post, the more active the likelier."""
        roles = WRITERS.get(group)
        people = [p for p in self.org.staff if p.joins <= frac and (roles is None or p.role in roles)]
        return self.rng.choices(people, weights=[p.activity for p in people])[0]

    def colleague(self, author: Person, exclude: tuple[str, ...] = (), *, writing: bool = False) -> Person:
        """Another colleague, usually from the author's location (``writing``: one who already posts)."""
        others = [
            p
            for p in self.org.staff
            if p.name != author.name and p.name not in exclude and (not writing or p.joins <= self.frac)
        ]
        near = [p for p in others if p.location == author.location]
        return self.rng.choice(near if near and self.rng.random() < 0.85 else others)

    def when(self, person: Person, week_start: datetime) -> datetime:
        days = [
            w * (0.15 if person.shift == "office" and i >= 5 else 1.0)
            for i, w in enumerate(self.org.weekdays)
        ]
        day = self.rng.choices(range(7), weights=days)[0]
        hours = self.org.hours[person.shift]
        hour = self.rng.choices(list(hours), weights=list(hours.values()))[0]
        local = (week_start + timedelta(days=day)).replace(hour=hour, minute=self.rng.randrange(60))
        return local.replace(tzinfo=LONDON).astimezone(UTC)

    def circle(self, author: Person, theme: str | None, at: datetime) -> str | None:
        """The circle a post is made in: a circle of the author's that fits it, else often their home's."""
        hour, roll = at.astimezone(LONDON).hour, self.rng.random()
        fitting = {
            "night-shift": (hour >= 21 or hour < 7) and roll < 0.6,
            "dementia-champions": theme == "dementia_distress" and roll < 0.7,
            "clinical-team": theme in ("medication", "skin_pressure_care"),
            "new-starters": theme == "training_new_starters" and roll < 0.6,
        }
        for circle, fits in fitting.items():
            if fits and circle in author.circles:
                return circle
        return self.org.home_circle[author.location] if roll < 0.6 else None

    # -- text ----------------------------------------------------------------------------------------------
    def fill(self, template: str, author: Person) -> str:
        slots = self.t["slots"]
        people = self.org.clients if author.setting == "homecare" else self.org.residents
        chosen: dict[str, str] = {}
        first = self.colleague(author)
        values = {
            "person": lambda: self.rng.choice(people),
            "colleague": lambda: first.first,
            "colleague_full": lambda: first.name,
            "colleague2": lambda: self.colleague(author, exclude=(first.name,)).first,
            "room": lambda: f"room {self.rng.randint(1, 38)}",
            "n": lambda: str(self.rng.randint(2, 6)),
        }

        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in chosen:
                chosen[name] = values[name]() if name in values else str(self.rng.choice(slots[name]))
            return chosen[name]

        return _SLOT.sub(one, template)

    def dress(self, template: str, group: str) -> str:
        """A greeting or a sign-off now and then, and the odd post typed in lower case on a phone."""
        text = template
        if group in ("theme", "question", "chatter") and self.rng.random() < 0.25:
            greeting = self.rng.choice(self.t["greetings"])
            if greeting.endswith(", ") and text[:1].isupper() and not text.startswith(("{", "I ", "I'")):
                text = text[0].lower() + text[1:]
            text = greeting + text
        if group in ("theme", "chatter", "comment", "ooo") and self.rng.random() < 0.2:
            sign_off = self.rng.choice(self.t["sign_offs"])
            if sign_off[1:2].isupper():  # a sentence: after a full stop
                text = text if text.endswith((".", "!", "?")) else text + "."
            else:
                text = text.rstrip(".")
            text += sign_off
        if group in ("theme", "question", "chatter", "comment") and self.rng.random() < 0.08:
            text = text.lower().rstrip(".")
        return text

    def post(self, group: str, template: str, author: Person, at: datetime, **extra: Any) -> Planned:
        self.refs += 1
        kind = {"special_mention": "special_mention", "ooo": "ooo", "comment": "comment"}.get(group, "post")
        if extra.get("reply_ref") is not None:
            kind = "comment"
        anonymous = self.rng.random() < ANONYMOUS.get(group, ANONYMOUS_DEFAULT)
        if extra.get("theme") == "wellbeing_workload":
            anonymous = self.rng.random() < 0.3
        return Planned(
            at=at,
            text=self.fill(self.dress(template, group), author),
            kind=kind,
            author=author,
            anonymous=anonymous,
            circle=extra.pop("circle", None) or self.circle(author, extra.get("theme"), at),
            group=group,
            ref=self.refs,
            **extra,
        )

    # -- one week ------------------------------------------------------------------------------------------
    def theme_choice(self, frac: float, outbreak: tuple[float, float]) -> str:
        themes = list(self.t["themes"])
        weights = [
            4.0 if t == "infection_control" and outbreak[0] <= frac < outbreak[1] else 1.0 for t in themes
        ]
        return self.rng.choices(themes, weights=weights)[0]

    def week(self, week_start: datetime, frac: float, volume: int, recent: list[Planned]) -> list[Planned]:
        self.frac = frac
        out: list[Planned] = []
        counts = {g: _count(self.rng, volume * share) for g, share in MIX.items()}
        for group, n in counts.items():
            for _ in range(n):
                out.extend(self.item(group, week_start, frac, recent + out))
        # About one disclosure a week, and never two weeks running without one.
        self.disclosed = self.rng.random() < 0.7 or not self.disclosed
        if self.disclosed:
            author = self.author(frac, "safeguarding")
            template = self.rng.choice(pool(self.t["safeguarding"], author))
            out.append(self.post("safeguarding", template, author, self.when(author, week_start)))
        return out

    def item(self, group: str, week_start: datetime, frac: float, recent: list[Planned]) -> list[Planned]:
        if group == "theme":
            theme = self.theme_choice(frac, (0.28, 0.36))
            author = self.author(frac, group)
            templates = pool(self.t["themes"][theme], author)
            if not templates:
                return []
            at = self.when(author, week_start)
            return [self.post(group, self.rng.choice(templates), author, at, theme=theme)]
        if group == "question":
            return self.question(week_start, frac)
        if group == "comment":
            targets = [p for p in recent if p.kind == "post" and not p.intent and p.group != "question"]
            if not targets:
                return []
            target = self.rng.choice(targets[-60:])
            author = self.colleague(target.author, writing=True)
            at = target.at + timedelta(minutes=_delay(self.rng, 60, 5, 24 * 60))
            return [self.post(group, self.rng.choice(self.t["comments"]), author, at, reply_ref=target.ref)]
        author = self.author(frac, group)
        section = {"chatter": self.t["chatter"], "special_mention": self.t["special_mentions"]}.get(group)
        if section is None:
            section = self.t["ooo"] if group == "ooo" else self.t["held"][group]
        template = self.rng.choice(pool(section, author))
        return [self.post(group, template, author, self.when(author, week_start))]

    def question(self, week_start: datetime, frac: float) -> list[Planned]:
        author = self.author(frac, "question")
        fits = [q for q in self.t["questions"] if q["where"] in ("any", author.setting)]
        fits += [q for q in self.t["questions"] if q["where"] == "home" and author.setting == "nursing"]
        spec = self.rng.choice(fits)
        theme = None if spec["theme"] == "none" else spec["theme"]
        q = self.post("question", spec["q"], author, self.when(author, week_start), theme=theme)
        out = [q]
        n = min(len(spec["answers"]), self.rng.choices((0, 1, 2, 3), weights=(0.2, 0.35, 0.3, 0.15))[0])
        at = q.at
        for text in self.rng.sample(spec["answers"], n):
            at = at + timedelta(minutes=_delay(self.rng, 75, 3, 30 * 60))
            who = self.colleague(author, writing=True)
            out.append(self.post("answer", text, who, at, reply_ref=q.ref, theme=theme, circle=q.circle))
        return out


def _count(rng: random.Random, expected: float) -> int:
    """An integer around ``expected`` (its fraction decided by chance)."""
    whole = math.floor(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def _delay(rng: random.Random, median_minutes: float, low: float, high: float) -> float:
    return min(high, max(low, rng.lognormvariate(math.log(median_minutes), 0.9)))


def plan_activity(
    *,
    end: datetime,
    months: int,
    per_week: int,
    seed: int,
    prefix: str,
    data_dir: Path = DATA_DIR,
) -> list[Planned]:
    """The posts of ``months`` months up to ``end`` (UTC), in time order, with post ids ``<prefix>-00001``...
    ``per_week`` is the volume of a typical week at the end of the period (fewer at the start)."""
    rng = random.Random(seed)
    planner = Planner(load_org(data_dir), load_templates(data_dir), rng)
    start = end - timedelta(days=round(months * 30.44))
    local_start = start.astimezone(LONDON).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    weeks = math.ceil((end - start).days / 7)
    posts: list[Planned] = []
    for w in range(weeks):
        frac = w / max(1, weeks)
        volume = round(per_week * (0.7 + 0.3 * frac) * rng.uniform(0.9, 1.1))
        posts += planner.week(local_start + timedelta(days=7 * w), frac, volume, posts)
    crises = (0.6,) if months < 4 else (0.45, 0.85)
    for frac in crises:
        author = planner.author(frac, "crisis")
        week_start = local_start + timedelta(days=7 * int(frac * weeks))
        posts.append(
            planner.post("crisis", rng.choice(planner.t["crisis"]), author, planner.when(author, week_start))
        )
    inside = sorted((p for p in posts if start <= p.at < end), key=lambda p: (p.at, p.ref))
    refs = {p.ref for p in inside}
    kept = [p for p in inside if p.reply_ref is None or p.reply_ref in refs]  # no answer without its question
    ids = {p.ref: f"{prefix}-{i + 1:05d}" for i, p in enumerate(kept)}
    return [
        replace(p, post_id=ids[p.ref], reply_to=None if p.reply_ref is None else ids[p.reply_ref])
        for p in kept
    ]
