"""What became of a post: the one mapping from stored rows to what the posting flow may show.

``GET /v1/posts/{post_id}`` answers with it and every ``post.*`` / ``appeal.decided`` event carries it, so the
status an integrator polls and the one it is pushed can never disagree. Only redacted text ever leaves here,
and never the author.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.tables import Appeal, Decision, ReviewItem, Screening

POST_STATES = ("published", "published_redacted", "pending_review", "escalated", "rejected")
APPEAL_STATES = ("pending", "overturned", "upheld", "escalated")
APPROVALS = ("approve", "approve_redacted")
#: Decisions published at screening (``models.policy.PUBLISHABLE``; storage cannot import models, a test
#: keeps the two equal).
PUBLISHED_AT_SCREENING = frozenset({"allow", "allow_redacted"})


@dataclass(frozen=True)
class PostRecord:
    screening: Screening
    item: ReviewItem | None  # the screening's own review item (a hold, escalation or reader's report)
    decision: Decision | None
    appeal: Appeal | None
    appeal_decision: Decision | None  # the decision of the item that decides the appeal


def load_post(session: Session, *, org: str, post_id: str) -> PostRecord | None:
    scr = session.execute(
        select(Screening).where(Screening.org == org, Screening.post_id == post_id)
    ).scalar_one_or_none()
    return None if scr is None else load_for_screening(session, screening=scr)


def load_for_screening(session: Session, *, screening: Screening) -> PostRecord:
    items = {
        it.id: (it, dec)
        for it, dec in session.execute(
            select(ReviewItem, Decision)
            .outerjoin(Decision, Decision.review_id == ReviewItem.id)
            .where(ReviewItem.screening_id == screening.id)
        ).all()
    }
    own = next(((it, dec) for it, dec in items.values() if it.kind == "screen"), (None, None))
    appeal = session.execute(select(Appeal).where(Appeal.screening_id == screening.id)).scalar_one_or_none()
    appeal_decision = items.get(appeal.review_id, (None, None))[1] if appeal else None
    return PostRecord(screening, own[0], own[1], appeal, appeal_decision)


def appeal_state(decision: Decision | None) -> str:
    if decision is None:
        return "pending"
    if decision.action in APPROVALS:
        return "overturned"
    return "escalated" if decision.action == "escalate" else "upheld"


def post_status(rec: PostRecord) -> dict[str, Any]:
    """``{post_id, status, text_to_publish, decision, review, decided_at, appeal}``.

    The latest human decision wins (an appeal's over the first one's); before any, the screening's. The text
    to publish is a moderator's corrected redaction when there is one, else the screening's redacted text;
    None while the post must not be shown. Never the original.
    """
    s = rec.screening
    dec = rec.appeal_decision or rec.decision
    text: str | None = None
    if dec is not None:
        if dec.action in APPROVALS:
            corrected = (rec.appeal_decision and rec.appeal_decision.redacted_text) or (
                rec.decision and rec.decision.redacted_text
            )
            text = corrected or s.redacted_text
            state = "published_redacted" if dec.action == "approve_redacted" or s.entities else "published"
        elif dec.action == "reject":
            state = "rejected"
        else:
            state = "escalated"
    elif s.decision in PUBLISHED_AT_SCREENING:
        # Published at screening; a reader's report may since have opened a review (still shown until decided).
        state, text = ("published_redacted" if s.entities else "published"), s.redacted_text
    else:
        state = "escalated" if s.decision == "escalate" else "pending_review"
    item = rec.item
    return {
        "post_id": s.post_id,
        "status": state,
        "text_to_publish": text,
        "decision": s.decision,
        "review": None
        if item is None
        else {
            "id": item.id,
            "priority": item.priority,
            "state": "decided" if rec.decision else "pending",
            "categories": list(item.categories or []),
            "due_at": item.due_at.isoformat(),
        },
        "decided_at": dec.decided_at.isoformat() if dec else None,
        "appeal": None
        if rec.appeal is None
        else {
            "id": rec.appeal.id,
            "state": appeal_state(rec.appeal_decision),
            "review_id": rec.appeal.review_id,
            "created_at": rec.appeal.created_at.isoformat(),
            "decided_at": rec.appeal_decision.decided_at.isoformat() if rec.appeal_decision else None,
        },
    }


def post_event(rec: PostRecord, event_type: str) -> Any:
    """A ``post.*`` or ``appeal.decided`` event whose data is the post's status (as the status endpoint says)."""
    from storage.outbox import NewEvent

    return NewEvent(type=event_type, data=post_status(rec), post_id=rec.screening.post_id)


def decision_events(rec: PostRecord, item: ReviewItem, decision: Decision) -> list[Any]:
    """The events a moderator's decision on ``item`` causes: the post's new status, and for an appeal the
    appeal's outcome too (an integrator may subscribe to either)."""
    kind = {"approve": "post.published", "approve_redacted": "post.published", "reject": "post.rejected"}
    events = [post_event(rec, kind.get(decision.action, "post.escalated"))]
    if rec.appeal is not None and rec.appeal.review_id == item.id:
        events.append(post_event(rec, "appeal.decided"))
    return events
