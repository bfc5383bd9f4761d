"""Readers report a published post: it enters the review queue, so what the model missed becomes a label."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from service.deps import Poster, SessionDep, StateDep
from service.schemas import ReviewRef, StrictStr
from storage import org_settings, reader_reports

router = APIRouter(prefix="/v1/posts", tags=["screen"])


class ReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: StrictStr = Field(min_length=1, max_length=2_000)
    safeguarding: StrictBool = Field(
        default=False, description="The reader thinks someone is at risk: urgent."
    )


@router.post("/{post_id}/report", response_model=ReviewRef, status_code=status.HTTP_201_CREATED)
def report_post(
    post_id: str, body: ReportBody, principal: Poster, session: SessionDep, state: StateDep
) -> ReviewRef:
    """Called by the posting platform when a reader reports a post; idempotent per post."""
    priority = "urgent" if body.safeguarding else "normal"
    sla = org_settings.sla_minutes(
        session,
        org=principal.org,
        priority=priority,
        default_urgent=state.settings.sla_urgent_minutes,
        default_normal=state.settings.sla_normal_minutes,
    )
    item = reader_reports.open_review_for_reported_post(
        session,
        org=principal.org,
        post_id=post_id,
        reason=body.reason,
        urgent=body.safeguarding,
        sla_due_minutes=sla,
        actor=principal.actor,
    )
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no screened post with that id")
    return ReviewRef(id=item.id, priority=item.priority)  # type: ignore[arg-type]
