"""Organisation administration: staff directory, SLA targets, model reload."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from service.deps import Admin, SessionDep, StateDep
from service.schemas import StaffDirectoryBody, StaffDirectoryListing, StaffDirectoryOut, StaffEntryOut
from storage import audit, org_settings, staff

router = APIRouter(prefix="/v1", tags=["admin"])


@router.put("/staff-directory", response_model=StaffDirectoryOut)
def put_staff_directory(body: StaffDirectoryBody, principal: Admin, session: SessionDep) -> StaffDirectoryOut:
    """Replace the organisation's staff directory (colleagues named in Special Mentions stay named). Each item
    is a name, or ``{"name", "role", "location"}`` (role and location optional: culture reports count the roles
    and locations of colleagues recognised, never their names)."""
    if any(isinstance(n, str) and len(n) > 200 for n in body.names):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a name is longer than 200 characters")
    entries = [n if isinstance(n, str) else staff.StaffEntry(n.name, n.role, n.location) for n in body.names]
    count = staff.replace_staff_directory(session, org=principal.org, entries=entries, actor=principal.actor)
    return StaffDirectoryOut(org=principal.org, count=count)


@router.get("/staff-directory", response_model=StaffDirectoryListing)
def get_staff_directory(principal: Admin, session: SessionDep) -> StaffDirectoryListing:
    """The directory (names, and each colleague's role and location) with counts per role and location."""
    entries = staff.staff_entries(session, org=principal.org)
    breakdown = staff.staff_breakdown(session, org=principal.org)
    return StaffDirectoryListing(
        names=[e.name for e in entries],
        count=len(entries),
        entries=[StaffEntryOut(name=e.name, role=e.role, location=e.location) for e in entries],
        by_role=breakdown["by_role"],
        by_location=breakdown["by_location"],
    )


class SlaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    urgent_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    normal_minutes: int | None = Field(default=None, ge=1, le=30 * 24 * 60)


@router.put("/admin/sla")
def put_sla(body: SlaBody, principal: Admin, session: SessionDep) -> dict[str, int | None]:
    """Per-organisation SLA targets for time to first action (minutes)."""
    org_settings.set_org_sla(
        session, org=principal.org, urgent_minutes=body.urgent_minutes, normal_minutes=body.normal_minutes
    )
    audit.append(
        session,
        org=principal.org,
        actor=principal.actor,
        action="sla.update",
        subject=f"org:{principal.org}",
        details=body.model_dump(),
    )
    return body.model_dump()


class ConfidentialityBody(BaseModel):
    """Which confidentiality-rule holds apply to this organisation (both by default)."""

    model_config = ConfigDict(extra="forbid")
    special_category: bool = Field(
        default=True, description="Hold special-category details about a named or located resident."
    )
    access_details: bool = Field(
        default=True, description="Hold home access details (codes are redacted whatever this says)."
    )


@router.get("/admin/confidentiality", response_model=ConfidentialityBody)
def get_confidentiality(principal: Admin, session: SessionDep) -> ConfidentialityBody:
    off = org_settings.confidentiality_holds_off(session, org=principal.org)
    return ConfidentialityBody(**{k: k not in off for k in org_settings.CONFIDENTIALITY_HOLDS})


@router.put("/admin/confidentiality", response_model=ConfidentialityBody)
def put_confidentiality(
    body: ConfidentialityBody, principal: Admin, session: SessionDep
) -> ConfidentialityBody:
    """Per-organisation confidentiality rule (``models/policy.yaml``): an organisation whose staff feed is
    itself a secure clinical channel may publish redacted special-category posts. Audited."""
    org_settings.set_confidentiality_holds(session, org=principal.org, holds=body.model_dump())
    audit.append(
        session,
        org=principal.org,
        actor=principal.actor,
        action="confidentiality.update",
        subject=f"org:{principal.org}",
        details=body.model_dump(),
    )
    return body


@router.post("/admin/reload-model")
async def reload_model(principal: Admin, state: StateDep) -> dict[str, str | None]:
    """Load the current champion and swap it in without a restart (requests in flight finish on the old one)."""
    before = state.holder.model_version
    try:
        after = await run_in_threadpool(state.holder.reload)
    except Exception as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"could not load the champion: {type(exc).__name__}"
        ) from exc
    return {"previous": before, "model_version": after}
