"""What became of a post: the posting flow asks after a hold, and publishes only ``text_to_publish``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from service.deps import Poster, SessionDep
from storage import crud
from storage.tables import Decision, ReviewItem, Screening

router = APIRouter(prefix="/v1/posts", tags=["screen"])

PostState = Literal["published", "published_redacted", "pending_review", "escalated", "rejected"]


class PostReview(BaseModel):
    id: str
    priority: str
    state: Literal["pending", "decided"]


class PostStatus(BaseModel):
    post_id: str
    status: PostState
    #: The only text that may be published (a moderator's corrected redaction when there is one); never the
    #: original. None while the post must not be shown.
    text_to_publish: str | None
    decision: str
    review: PostReview | None
    decided_at: str | None
    #: Appeals are not built yet; always None.
    appeal: None = None


def post_status(s: Screening, item: ReviewItem | None, dec: Decision | None) -> PostStatus:
    """The one mapping from a stored screening, its review item and decision to what the platform may show."""
    published: PostState = "published_redacted" if s.entities else "published"
    state: PostState
    text: str | None = None
    if dec is not None:
        if dec.action in ("approve", "approve_redacted"):
            text = dec.redacted_text or s.redacted_text
            state = "published_redacted" if dec.action == "approve_redacted" or s.entities else "published"
        elif dec.action == "reject":
            state = "rejected"
        else:
            state = "escalated"
    elif s.decision in ("allow", "allow_redacted"):
        # Published at screening; a reader's report may since have opened a review (still shown until decided).
        state, text = published, s.redacted_text
    else:
        state = "escalated" if s.decision == "escalate" else "pending_review"
    return PostStatus(
        post_id=s.post_id,
        status=state,
        text_to_publish=text,
        decision=s.decision,
        review=PostReview(id=item.id, priority=item.priority, state="decided" if dec else "pending")
        if item
        else None,
        decided_at=dec.decided_at.isoformat() if dec else None,
    )


@router.get("/{post_id}", response_model=PostStatus, responses={404: {"description": "No such post"}})
def get_post(post_id: str, principal: Poster, session: SessionDep) -> PostStatus:
    """The post's current status for the posting service (own organisation only); poll it after a hold."""
    found = crud.get_post(session, org=principal.org, post_id=post_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no screened post with that id")
    return post_status(*found)
