"""Webhook endpoints (admin): register, list, delete, rotate the signing secret, see and redeliver deliveries."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from service.deps import Admin, SessionDep, StateDep
from service.webhooks import UnsafeDestination, check_destination, check_url_form, new_secret
from storage import outbox
from storage.tables import WebhookDelivery, WebhookEndpoint

router = APIRouter(prefix="/v1/admin/webhooks", tags=["webhooks"])

EventType = Literal[
    "post.published",
    "post.rejected",
    "post.escalated",
    "review.sla_breached",
    "appeal.decided",
    "model.promoted",
]


def _url(value: str) -> str:
    try:
        return check_url_form(value)
    except UnsafeDestination as exc:
        raise ValueError(str(exc)) from exc


class WebhookBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://posting.example.org/carescreen/events",
                    "events": ["post.published", "post.rejected", "post.escalated", "appeal.decided"],
                    "description": "posting service",
                }
            ]
        },
    )
    url: Annotated[StrictStr, AfterValidator(_url)] = Field(max_length=2_000)
    events: list[EventType] = Field(min_length=1, max_length=len(outbox.EVENT_TYPES))
    description: str | None = Field(default=None, max_length=200)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    created_at: str
    previous_secret_valid_until: str | None


class WebhookCreated(WebhookOut):
    #: Shown once: keep it to verify ``webhook-signature`` (it cannot be read back, only rotated).
    secret: str


class SecretOut(BaseModel):
    id: str
    secret: str
    previous_secret_valid_until: str


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    event_type: str
    post_id: str | None
    status: str
    attempts: int
    next_attempt_at: str | None
    last_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    delivered_at: str | None
    created_at: str


def _out(row: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        url=row.url,
        events=list(row.events),
        description=row.description,
        created_at=row.created_at.isoformat(),
        previous_secret_valid_until=row.previous_valid_until.isoformat()
        if row.previous_valid_until
        else None,
    )


def _delivery(d: WebhookDelivery, e: outbox.OutboxEvent) -> DeliveryOut:
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return DeliveryOut(
        id=d.id,
        event_id=e.id,
        event_type=e.type,
        post_id=e.post_id,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=iso(d.next_attempt_at) if d.status == "pending" else None,
        last_attempt_at=iso(d.last_attempt_at),
        last_status=d.last_status,
        last_error=d.last_error,
        delivered_at=iso(d.delivered_at),
        created_at=d.created_at.isoformat(),
    )


def _missing() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "no such webhook")


@router.post("", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED)
async def create_webhook(body: WebhookBody, principal: Admin, state: StateDep) -> WebhookCreated:
    """Register a receiver. The signing secret is in this answer only; the URL must reach a public address
    (checked again at every delivery) unless the operator allows private ones."""
    try:
        await run_in_threadpool(
            check_destination, body.url, allow_private=state.settings.webhook_allow_private
        )
    except UnsafeDestination as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    secret = new_secret()

    def store() -> WebhookCreated:
        from service.deps import db_or_503

        with db_or_503(state).session() as s:
            row = outbox.create_endpoint(
                s,
                org=principal.org,
                url=body.url,
                events=body.events,
                secret_enc=state.vault.encrypt(secret),
                description=body.description,
                actor=principal.actor,
            )
            return WebhookCreated(**_out(row).model_dump(), secret=secret)

    return await run_in_threadpool(store)


@router.get("", response_model=list[WebhookOut])
def list_webhooks(principal: Admin, session: SessionDep) -> list[WebhookOut]:
    return [_out(r) for r in outbox.list_endpoints(session, org=principal.org)]


@router.get("/{webhook_id}", response_model=WebhookOut, responses={404: {"description": "No such webhook"}})
def get_webhook(webhook_id: str, principal: Admin, session: SessionDep) -> WebhookOut:
    row = outbox.get_endpoint(session, org=principal.org, endpoint_id=webhook_id)
    if row is None:
        raise _missing()
    return _out(row)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such webhook"}},
)
def delete_webhook(webhook_id: str, principal: Admin, session: SessionDep) -> Response:
    """Stop sending to it; its undelivered events are cancelled."""
    if not outbox.delete_endpoint(session, org=principal.org, endpoint_id=webhook_id, actor=principal.actor):
        raise _missing()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=SecretOut,
    responses={404: {"description": "No such webhook"}},
)
def rotate_secret(webhook_id: str, principal: Admin, session: SessionDep, state: StateDep) -> SecretOut:
    """A new secret (shown once). Until ``previous_secret_valid_until`` every delivery carries signatures
    under both secrets, so the receiver can switch without losing an event."""
    secret = new_secret()
    row = outbox.rotate_secret(
        session,
        org=principal.org,
        endpoint_id=webhook_id,
        secret_enc=state.vault.encrypt(secret),
        grace=timedelta(hours=state.settings.webhook_secret_grace_hours),
        actor=principal.actor,
    )
    if row is None or row.previous_valid_until is None:
        raise _missing()
    return SecretOut(
        id=row.id, secret=secret, previous_secret_valid_until=row.previous_valid_until.isoformat()
    )


@router.get(
    "/{webhook_id}/deliveries",
    response_model=list[DeliveryOut],
    responses={404: {"description": "No such webhook"}},
)
def list_deliveries(
    webhook_id: str,
    principal: Admin,
    session: SessionDep,
    status_: Annotated[
        str | None, Query(alias="status", pattern="^(pending|delivered|dead|cancelled)$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryOut]:
    """Newest first: status, attempts, the last HTTP status or error, and when the next attempt is due."""
    if outbox.get_endpoint(session, org=principal.org, endpoint_id=webhook_id) is None:
        raise _missing()
    rows = outbox.list_deliveries(
        session, org=principal.org, endpoint_id=webhook_id, status=status_, limit=limit
    )
    return [_delivery(d, e) for d, e in rows]


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {"description": "No such webhook or delivery"}, 409: {"description": "Still pending"}},
)
def redeliver(
    webhook_id: str, delivery_id: int, principal: Admin, session: SessionDep, state: StateDep
) -> dict[str, str]:
    """Send a dead-lettered (or already delivered) event again, with the same ``webhook-id``."""
    if outbox.get_endpoint(session, org=principal.org, endpoint_id=webhook_id) is None:
        raise _missing()
    if not 0 < delivery_id < 2**31:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such delivery")
    if (
        outbox.get_delivery(session, org=principal.org, endpoint_id=webhook_id, delivery_id=delivery_id)
        is None
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such delivery")
    if not outbox.redeliver(
        session, org=principal.org, endpoint_id=webhook_id, delivery_id=delivery_id, actor=principal.actor
    ):
        raise HTTPException(status.HTTP_409_CONFLICT, "this delivery is still pending")
    state.wake_deliveries()
    return {"status": "queued"}
