"""What became of a post, and the author's appeal: the posting flow asks after a hold (or is told by a
webhook), publishes only ``text_to_publish``, and files an appeal on the author's behalf."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from service.deps import Poster, SessionDep, StateDep, db_or_503
from service.schemas import Reason
from storage import appeals, org_settings, outcomes, staff

router = APIRouter(prefix="/v1/posts", tags=["screen"])

PostState = Literal["published", "published_redacted", "pending_review", "escalated", "rejected"]


class PostReview(BaseModel):
    id: str
    priority: str
    state: Literal["pending", "decided"]
    categories: list[str]
    due_at: str


class PostAppeal(BaseModel):
    id: str
    #: pending; overturned (now published); upheld (still rejected); escalated (with the safeguarding lead)
    state: Literal["pending", "overturned", "upheld", "escalated"]
    review_id: str
    created_at: str
    decided_at: str | None


class PostStatus(BaseModel):
    post_id: str
    status: PostState
    #: The only text that may be published (a moderator's corrected redaction when there is one); never the
    #: original. None while the post must not be shown.
    text_to_publish: str | None
    decision: str
    review: PostReview | None
    decided_at: str | None
    appeal: PostAppeal | None


class AppealBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"reason": "I was describing a training scenario from our moving and handling course."}
            ]
        },
    )
    #: The author's own words. Residents' identifiers in it are redacted before it is stored or shown.
    reason: Reason = Field(min_length=10, max_length=2_000)


@router.get("/{post_id}", response_model=PostStatus, responses={404: {"description": "No such post"}})
def get_post(post_id: str, principal: Poster, session: SessionDep) -> PostStatus:
    """The post's current status for the posting service (own organisation only); poll it after a hold, or
    subscribe to the webhook events that carry the same body."""
    rec = outcomes.load_post(session, org=principal.org, post_id=post_id)
    if rec is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no screened post with that id")
    return PostStatus.model_validate(outcomes.post_status(rec))


@router.post(
    "/{post_id}/appeal",
    response_model=PostStatus,
    status_code=status.HTTP_201_CREATED,
    responses={
        404: {"description": "No such post in this organisation"},
        409: {"description": "Published, with the safeguarding lead, or already appealed"},
    },
)
async def appeal(post_id: str, body: AppealBody, principal: Poster, state: StateDep) -> PostStatus:
    """Contest a hold, a block or a rejection on the author's behalf. A moderator other than the one who
    decided reviews it; the outcome arrives as ``appeal.decided`` and in ``GET /v1/posts/{post_id}``."""
    return await run_in_threadpool(_appeal, state, principal, post_id, body.reason)


def _appeal(state: StateDep, principal: Poster, post_id: str, reason: str) -> PostStatus:
    from models.pipeline import redact

    db = db_or_503(state)
    with db.read_session() as s:
        if outcomes.load_post(s, org=principal.org, post_id=post_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no screened post with that id")
        names = staff.staff_directory(s, org=principal.org)
    analyzer = state.holder.analyzer
    if analyzer is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the PII engine is not loaded; try again")
    try:
        safe_reason = redact(analyzer, reason, staff_names=names).redacted_text
    except RuntimeError as exc:  # fail closed: an unredacted reason is never stored
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "could not redact the reason; retry"
        ) from exc
    with db.session() as s:
        sla = org_settings.sla_minutes(
            s,
            org=principal.org,
            priority="normal",
            default_urgent=state.settings.sla_urgent_minutes,
            default_normal=state.settings.sla_normal_minutes,
        )
        try:
            made = appeals.create_appeal(
                s,
                org=principal.org,
                post_id=post_id,
                reason=safe_reason,
                sla_due_minutes=sla,
                actor=principal.actor,
            )
        except appeals.AppealRefused as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        except IntegrityError as exc:  # a second appeal raced this one in
            raise HTTPException(status.HTTP_409_CONFLICT, "this post has already been appealed") from exc
        if made is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no screened post with that id")
        rec = outcomes.load_post(s, org=principal.org, post_id=post_id)
        assert rec is not None
        return PostStatus.model_validate(outcomes.post_status(rec))
