"""Screen-and-store: the one place a pipeline result becomes a stored screening and an API response."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy.exc import IntegrityError

from models.pipeline import ScreenRequest, ScreenResult
from models.policy import PUBLISHABLE
from service import observability
from service.auth import Principal
from service.culture_inputs import culture_fields
from service.schemas import ScreenBody, ScreenResponse
from service.state import AppState, DatabaseUnavailable
from storage import org_settings, reviews, screenings, staff
from storage.staff import StaffEntry
from storage.tables import ReviewItem, Screening

log = logging.getLogger(__name__)


def validate_text(body: ScreenBody, max_chars: int) -> None:
    if len(body.text) > max_chars:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"text is longer than {max_chars} characters")
    if not body.text.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "text is empty")
    if "\x00" in body.text:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "text contains NUL characters")
    for value in (body.text, body.post_id, body.author_id, body.circle, body.location, body.reply_to):
        if value is None:
            continue
        if "\x00" in value:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a field contains NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate ("\ud800"): not text we can store or screen
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "text is not valid Unicode") from exc


def identifiers_in_correction(state: AppState, org: str, text: str) -> list[str]:
    """The identifier types the screening recognizers still find in a moderator's corrected redaction (the
    same path as ``/v1/screen``: staff-directory names are kept). Non-empty: the correction must be refused."""
    from models.pipeline import find_identifiers

    analyzer = state.holder.analyzer
    if analyzer is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the PII engine is not loaded; try again")
    with state.require_db().read_session() as s:
        names = staff.staff_directory(s, org=org)
    found = find_identifiers(analyzer, [text], [names])[0]
    if found is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "could not check the correction; try again")
    return sorted({f.type for f in found[0]})


def response_from_row(row: Screening, item: ReviewItem | None) -> ScreenResponse:
    return ScreenResponse(
        post_id=row.post_id,
        decision=row.decision,  # type: ignore[arg-type]
        redacted_text=row.redacted_text,
        scores=row.scores,
        flags=list(row.flags),
        entities=[{k: e[k] for k in ("type", "start", "end", "score", "role")} for e in row.entities],  # type: ignore[misc]
        review={"id": item.id, "priority": item.priority} if item else None,  # type: ignore[arg-type]
        author_message=row.author_message,
        model_version=row.model_version,
        policy_version=row.policy_version,
        degraded=list(row.degraded or []),
        themes=list(getattr(row, "themes", None) or []),
    )


def _db_unavailable(exc: Exception) -> HTTPException:
    log.error("database failure while screening: %s", type(exc).__name__, exc_info=exc)
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "could not store the screening; do not publish",
        headers={"Retry-After": "5"},
    )


def _edited(state: AppState, row: Screening, text: str) -> bool:
    """Whether ``text`` differs from what was screened under this post id (an edit, not a retry)."""
    if row.original_enc is None:  # purged by retention: the text can no longer be shown to be the same
        return True
    try:
        return state.vault.decrypt(row.original_enc) != text
    except Exception:  # unreadable (key changed): never answer new text with an old decision
        return True


@dataclass(frozen=True)
class OrgContext:
    """What screening needs to know about the author's organisation: its staff directory (names for the
    pipeline; entries with roles and locations for the culture columns) and its confidentiality settings."""

    staff: list[str]
    holds_off: frozenset[str]
    entries: tuple[StaffEntry, ...] = ()

    def request(self, body: ScreenBody) -> ScreenRequest:
        return ScreenRequest(
            text=body.text, staff_names=self.staff, kind=body.kind or "post", holds_off=self.holds_off
        )


def lookup_many(
    state: AppState,
    principal: Principal,
    post_ids: Sequence[str],
    texts: Sequence[str] | None = None,
) -> tuple[dict[str, ScreenResponse], OrgContext]:
    """Idempotency check for every post id and the staff directory, in one short read transaction.

    With ``texts`` (one per post id), a post id already screened with *different* text is an edit: 409, so an
    edit is never answered with the old decision (the posting flow sends an edit under a new post id).
    """
    try:
        with state.require_db().read_session() as s:
            rows = screenings.get_screenings(s, org=principal.org, post_ids=post_ids)
            if texts is not None:
                by_id = dict(zip(post_ids, texts, strict=True))
                edited = [pid for pid, row in rows.items() if _edited(state, row, by_id[pid])]
                if edited:
                    raise HTTPException(
                        status.HTTP_409_CONFLICT,
                        f"post_id {edited[0]!r} was already screened with different text; an edited post "
                        "must be screened under a new post_id (for example '<post_id>:v2')",
                    )
            items = (
                reviews.reviews_for_screenings(s, screening_ids=[r.id for r in rows.values()]) if rows else {}
            )
            found = {pid: response_from_row(row, items.get(row.id)) for pid, row in rows.items()}
            todo = len(found) < len(set(post_ids))
            entries = tuple(staff.staff_entries(s, org=principal.org)) if todo else ()
            context = OrgContext(
                staff=[e.name for e in entries],
                holds_off=org_settings.confidentiality_holds_off(s, org=principal.org)
                if todo
                else frozenset(),
                entries=entries,
            )
            return found, context
    except HTTPException:
        raise
    except (DatabaseUnavailable, Exception) as exc:
        raise _db_unavailable(exc) from exc


def lookup(
    state: AppState, principal: Principal, post_id: str, text: str | None = None
) -> tuple[ScreenResponse | None, OrgContext]:
    found, context = lookup_many(state, principal, [post_id], None if text is None else [text])
    return found.get(post_id), context


def _fields(
    state: AppState, body: ScreenBody, result: ScreenResult, *, org: str, directory: Sequence[StaffEntry]
) -> dict[str, Any]:
    anonymous = bool(body.anonymous)
    culture = culture_fields(
        body, result, org=org, directory=directory, secret=lambda: state.settings.secrets()[0]
    )
    return culture | {
        "decision": result.decision,
        "priority": result.priority,
        "redacted_text": result.redacted_text,
        "scores": result.scores,
        "flags": result.flags,
        "entities": [vars(f) | {} for f in result.entities],
        "kept": [vars(f) | {} for f in result.kept],
        "reasons": result.reasons,
        "degraded": result.degraded,
        "evidence": {c: list(span) for c, span in result.evidence.items()},
        "author_message": result.author_message,
        "model_version": result.model_version,
        "policy_version": result.policy_version,
        "kind": body.kind or "post",
        "circle": body.circle,
        "anonymous": anonymous,
        "author_id": None if anonymous else body.author_id,
        "author_enc": state.vault.encrypt(body.author_id) if anonymous and body.author_id else None,
        "original_enc": state.vault.encrypt(body.text),
    }


def store_many(
    state: AppState,
    principal: Principal,
    posts: Sequence[tuple[ScreenBody, str, ScreenResult]],
    directory: Sequence[StaffEntry] = (),
    at: Sequence[datetime] | None = None,
) -> list[ScreenResponse]:
    """Commit the screenings (and review items) before answering, all in one transaction: an acknowledged
    post is never lost, and a batch costs one commit instead of one per post. ``directory`` (the
    organisation's staff entries) gives the roles and pseudonyms of colleagues a Special Mention names.
    ``at`` (one time per post) backdates them: the demo seed only, never the API."""
    prepared = [
        (
            post_id,
            _fields(state, body, result, org=principal.org, directory=directory),
            None if result.decision in PUBLISHABLE else (result.priority or "normal"),
            max(result.scores.values()) if result.scores else 0.0,
            result.flags or [r for r in result.reasons if ":" not in r],
        )
        for body, post_id, result in posts
    ]
    started = time.perf_counter()
    try:
        with state.require_db().write_session() as s:
            sla = {
                p: org_settings.sla_minutes(
                    s,
                    org=principal.org,
                    priority=p,
                    default_urgent=state.settings.sla_urgent_minutes,
                    default_normal=state.settings.sla_normal_minutes,
                )
                for p in {pr or "normal" for _, _, pr, _, _ in prepared}
            }
            stored = screenings.record_screenings(
                s,
                org=principal.org,
                actor=principal.actor,
                screenings=[
                    screenings.NewScreening(
                        post_id=post_id,
                        fields=fields,
                        review_priority=review_priority,
                        risk=risk,
                        categories=categories,
                        sla_due_minutes=sla[review_priority or "normal"],
                    )
                    for post_id, fields, review_priority, risk, categories in prepared
                ],
                created_at=at,
            )
            answers = [response_from_row(row, item) for row, item in stored]
        store_ms = round((time.perf_counter() - started) * 1000, 2)
        for answer, (_, _, result) in zip(answers, posts, strict=True):
            answer._timings = {**answer._timings, **result.timings, "store": store_ms}
        observability.count_screenings(answers)  # committed
        if any(a.decision == "escalate" for a in answers):
            state.wake_deliveries()  # committed: the lead's alert goes out now, not at the next poll
        return answers
    except IntegrityError:
        if len(posts) > 1:
            # A post_id raced in from another request: store the rest one by one, answering that one with
            # the decision already stored.
            return [
                r
                for i, post in enumerate(posts)
                for r in store_many(state, principal, [post], directory, None if at is None else [at[i]])
            ]
        post_id = posts[0][1]
        existing, _ = lookup(state, principal, post_id, posts[0][0].text)
        if existing is None:
            raise _db_unavailable(RuntimeError("idempotency conflict without a stored row")) from None
        return [existing]
    except HTTPException:
        raise
    except (DatabaseUnavailable, Exception) as exc:
        raise _db_unavailable(exc) from exc


async def screen_one(state: AppState, principal: Principal, body: ScreenBody) -> ScreenResponse:
    from starlette.concurrency import run_in_threadpool

    validate_text(body, state.settings.max_text_chars)
    post_id = body.post_id or str(uuid.uuid4())
    started = time.perf_counter()
    existing, context = await run_in_threadpool(lookup, state, principal, post_id, body.text)
    lookup_ms = {"lookup": round((time.perf_counter() - started) * 1000, 2)}
    if existing is not None:
        existing._timings = lookup_ms
        return existing
    if state.holder.pipeline is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "screening model not loaded; do not publish",
            headers={"Retry-After": "5"},
        )
    # Stored by the batch's worker thread (``store_screened``) before the answer: acknowledged means stored.
    response: ScreenResponse = await state.batcher.screen(
        context.request(body),
        context=(principal, body, post_id, context.entries),
    )
    response._timings = {**lookup_ms, **response._timings}
    return response


def store_screened(state: AppState, results: list[ScreenResult], contexts: list[Any]) -> list[Any]:
    """The micro-batcher's ``finish`` hook: store a micro-batch of single-post requests in one transaction per
    caller (a group commit), answering each with its response, or with the exception its caller must raise."""
    groups: dict[Principal, list[int]] = {}
    for i, (principal, *_) in enumerate(contexts):
        groups.setdefault(principal, []).append(i)
    out: list[Any] = [None] * len(results)
    for principal, members in groups.items():
        stored: list[Any]
        try:
            stored = store_many(
                state,
                principal,
                [(contexts[i][1], contexts[i][2], results[i]) for i in members],
                contexts[members[0]][3],
            )
        except Exception as exc:  # an HTTPException (503: do not publish) for every post of this caller
            stored = [exc] * len(members)
        for i, value in zip(members, stored, strict=True):
            out[i] = value
    return out


async def screen_batch(
    state: AppState, principal: Principal, bodies: list[ScreenBody], *, at: Sequence[datetime] | None = None
) -> list[ScreenResponse]:
    """Same per-post semantics as ``screen_one``; one lookup, one pipelined screening pass and one commit for
    the whole batch. ``at`` (one time per body) backdates the stored screenings: for the demo seed
    (``evaluation/demo_seed.py``), never exposed by the API."""
    from starlette.concurrency import run_in_threadpool

    for b in bodies:
        validate_text(b, state.settings.max_text_chars)
    post_ids = [b.post_id or str(uuid.uuid4()) for b in bodies]
    if len(set(post_ids)) != len(post_ids):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "post_id values in a batch must be unique")
    found, context = await run_in_threadpool(
        lookup_many, state, principal, post_ids, [b.text for b in bodies]
    )
    todo = [i for i, pid in enumerate(post_ids) if pid not in found]
    if todo:
        if state.holder.pipeline is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "screening model not loaded; do not publish",
                headers={"Retry-After": "5"},
            )
        results = await state.batcher.screen_many([context.request(bodies[i]) for i in todo])
        stored = await run_in_threadpool(
            store_many,
            state,
            principal,
            [(bodies[i], post_ids[i], r) for i, r in zip(todo, results, strict=True)],
            context.entries,
            None if at is None else [at[i] for i in todo],
        )
        found.update({post_ids[i]: resp for i, resp in zip(todo, stored, strict=True)})
    return [found[pid] for pid in post_ids]
