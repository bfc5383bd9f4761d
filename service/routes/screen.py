"""The posting flow: screen a post (or a batch of archived posts) before it is published."""

from __future__ import annotations

from fastapi import APIRouter, Response

from service.deps import Poster, StateDep
from service.schemas import BatchBody, BatchResponse, ScreenBody, ScreenResponse
from service.screening import screen_batch, screen_one

router = APIRouter(prefix="/v1", tags=["screen"])

ERRORS = {
    401: {"description": "Missing or invalid key"},
    403: {"description": "Role may not screen"},
    409: {"description": "post_id already screened with different text (an edit needs a new post_id)"},
    413: {"description": "Text too long"},
    422: {"description": "Invalid body"},
    429: {"description": "Rate limited"},
    503: {"description": "Cannot screen now: do not publish"},
}


@router.post("/screen", response_model=ScreenResponse, responses=ERRORS)  # type: ignore[arg-type]
async def screen(body: ScreenBody, principal: Poster, state: StateDep, response: Response) -> ScreenResponse:
    """Screen one post. Only ``redacted_text`` of an ``allow``/``allow_redacted`` answer may be published.

    ``Server-Timing`` says where the answer spent its time: lookup (idempotency and staff directory), pii,
    normalise, classifier and policy (for the micro-batch the post was screened in), and store."""
    answer = await screen_one(state, principal, body)
    if timing := answer.server_timing():
        response.headers["Server-Timing"] = timing
    return answer


@router.post("/screen/batch", response_model=BatchResponse, responses=ERRORS)  # type: ignore[arg-type]
async def screen_many(body: BatchBody, principal: Poster, state: StateDep) -> BatchResponse:
    """Re-screen up to 256 posts (e.g. an archive after a model change); same per-post semantics."""
    return BatchResponse(results=await screen_batch(state, principal, body.posts))
