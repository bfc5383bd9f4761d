"""What console templates may see: view models of review items and the words and times they show."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from models.pii.findings import placeholder_for
from models.taxonomy import CATEGORIES
from service.console import charts
from service.routes.reviews import sla_state
from storage import reviews

LONDON = ZoneInfo("Europe/London")


ACTIONS = {
    "approve": "Approved",
    "approve_redacted": "Approved (redacted)",
    "reject": "Rejected",
    "escalate": "Escalated",
}


CATEGORY_LABELS = {c: c.replace("_", " ").capitalize() for c in CATEGORIES}


DECISION_LABELS = charts.DECISION_LABELS


#: Which rule held a post, in words a moderator can act on (reasons that are not a model flag).
RULE_LABELS = {
    "special_category": "Confidentiality rule: a health or other special-category detail about someone we care for",
    "access_details": "Confidentiality rule: how to get into someone's home (a code, or where a key is kept)",
    "hidden_text": "Hidden text: reversed or invisible characters make the post read differently from its code",
    "unjudgeable": "The model cannot judge this post (for example, not in English)",
    "confidentiality": "Confidentiality: private details the redaction could not remove",
}


SLA_LABELS = {"ok": "On time", "due_soon": "Due soon", "breached": "SLA breached"}


SNIPPET_CHARS = 160


def age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if hours < 6 else f"{hours} h"
    return f"{hours // 24} days"


def local(dt: datetime | None) -> str:
    return dt.astimezone(LONDON).strftime("%d %b %Y, %H:%M") if dt else ""


def segments(text: str, entities: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """Split the redacted text into (text, is_placeholder) runs. Entity offsets point into the original,
    which is never shown, so the placeholders those entities became are what get highlighted."""
    marks = sorted(
        {placeholder_for(str(e.get("type", "")), str(e.get("role", "other"))) for e in entities},
        key=len,
        reverse=True,
    )
    if not marks:
        return [(text, False)]
    pattern = re.compile("|".join(re.escape(m) for m in marks))
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            out.append((text[pos : m.start()], False))
        out.append((m.group(0), True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def evidence(text: str, evidence: dict[str, Any], flags: list[str]) -> list[tuple[str, str]]:
    """The sentence behind each flag, when it is a part of the post rather than the whole of it."""
    out: list[tuple[str, str]] = []
    for c in flags:
        span = evidence.get(c)
        if not span or len(span) != 2:
            continue
        start, end = int(span[0]), int(span[1])
        if 0 <= start < end <= len(text) and (start, end) != (0, len(text)):
            out.append((c, " ".join(text[start:end].split())))
    return out


def snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True)
class ItemView:
    """What a template may see of a review: the redacted text only, and no author for anonymous posts."""

    id: str
    status: str
    priority: str
    risk: float
    decision: str
    decision_label: str
    snippet: str
    segments: list[tuple[str, bool]]
    redacted_text: str
    scores: list[tuple[str, float, bool]]
    flags: list[str]
    entity_summary: list[str]
    reasons: list[str]
    #: (category, the sentence of the redacted text whose score raised that flag)
    evidence: list[tuple[str, str]]
    circle: str
    kind: str
    author: str
    age: str
    created: str
    due: str
    sla: str
    sla_label: str
    claimed_by_me: bool
    claimed_by_other: bool
    lease_expires_at: datetime | None
    lease_expires: str
    moderator_decision: str | None
    #: An author's appeal against an earlier decision (its redacted reason), when this item decides one.
    is_appeal: bool
    appeal_reason: str | None
    acknowledged: str


def item_view(row: reviews.ReviewRow, key_id: int, now: datetime) -> ItemView:
    it, s = row.item, row.screening
    active = it.claimed_by is not None and it.lease_expires_at is not None and it.lease_expires_at > now
    flags = [str(f) for f in s.flags]
    scores = [(c, float(s.scores.get(c, 0.0)), c in flags) for c in CATEGORIES if c in s.scores]
    types: dict[str, int] = {}
    for e in s.entities:
        label = (
            placeholder_for(str(e.get("type", "")), str(e.get("role", "other"))).strip("[]").replace("_", " ")
        )
        types[label.capitalize()] = types.get(label.capitalize(), 0) + 1
    sla = sla_state(row, now)
    return ItemView(
        id=it.id,
        status=it.status,
        priority=it.priority,
        risk=float(it.risk),
        decision=s.decision,
        decision_label=DECISION_LABELS.get(s.decision, s.decision),
        snippet=snippet(s.redacted_text),
        segments=segments(s.redacted_text, list(s.entities)),
        redacted_text=s.redacted_text,
        scores=scores,
        flags=flags,
        entity_summary=[f"{k} ×{n}" if n > 1 else k for k, n in sorted(types.items())],
        reasons=[RULE_LABELS.get(str(r), CATEGORY_LABELS.get(str(r), str(r))) for r in (s.reasons or [])],
        evidence=evidence(s.redacted_text, s.evidence or {}, flags),
        circle=s.circle or "—",
        kind=s.kind.replace("_", " "),
        author="Anonymous" if s.anonymous else (s.author_id or "Not given"),
        age=age((now - it.created_at).total_seconds()),
        created=local(it.created_at),
        due=local(it.due_at),
        sla=sla,
        sla_label=SLA_LABELS[sla],
        claimed_by_me=active and it.claimed_by == key_id,
        claimed_by_other=active and it.claimed_by != key_id,
        lease_expires_at=it.lease_expires_at,
        lease_expires=local(it.lease_expires_at) if active else "",
        moderator_decision=ACTIONS.get(row.decision.action, row.decision.action) if row.decision else None,
        is_appeal=it.kind == "appeal",
        appeal_reason=row.appeal.reason if row.appeal else None,
        acknowledged=local(it.acknowledged_at),
    )


@dataclass(frozen=True)
class UrgentView:
    id: str
    age: str
    flags: list[str]
    snippet: str
