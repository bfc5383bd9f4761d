"""Reports and the audit trail, for the safeguarding lead and admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from service.deps import LeadOrAdmin, SessionDep, StateDep, db_or_503
from service.reporting import report_csv, risk_report
from service.schemas import StorableQuery
from storage import audit

router = APIRouter(prefix="/v1", tags=["reports"])


def _parse(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} must be an ISO date") from exc
    if dt.tzinfo is None:
        from datetime import UTC

        dt = dt.replace(tzinfo=UTC)
    # Dates the database and the weekly buckets can hold (year 1 or 9999 with an offset overflowed into a 503).
    if not 1900 <= dt.year <= 9000:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} must be between 1900 and 9000")
    return dt


@router.get("/reports/risk")
def get_risk_report(
    request: Request,
    principal: LeadOrAdmin,
    session: SessionDep,
    from_: Annotated[StorableQuery, Query(alias="from", max_length=40)] = None,
    to: Annotated[StorableQuery, Query(max_length=40)] = None,
    circle: Annotated[StorableQuery, Query(max_length=200)] = None,
) -> Response:
    """Counts by category, decision and circle over time; escalation speed and outcome; SLA; agreement.

    JSON by default; CSV with ``Accept: text/csv``.
    """
    start, end = _parse(from_, "from"), _parse(to, "to")
    if start is not None and end is not None and start > end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "from must not be after to")
    report = risk_report(session, org=principal.org, start=start, end=end, circle=circle)
    audit.append(
        session,
        org=principal.org,
        actor=principal.actor,
        action="report.risk",
        subject="report:risk",
        details={"from": from_, "to": to, "circle": circle},
    )
    if "text/csv" in request.headers.get("accept", ""):
        return PlainTextResponse(
            report_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="risk-report.csv"'},
        )
    return JSONResponse(report)


@router.get("/audit/verify")
def verify_audit(principal: LeadOrAdmin, state: StateDep) -> dict[str, object]:
    """This organisation's keyed chain, checked entry by entry, and its signed checkpoints (a read snapshot:
    verifying never holds the write lock)."""
    with db_or_503(state).read_session() as s:
        result = audit.verify(s, org=principal.org)
    return {
        "ok": result.ok,
        "entries": result.entries,
        "keyed": result.keyed,
        "checkpoints": result.checkpoints,
        "problem": result.problem,
        "seq": result.seq,
    }


@router.get("/audit/checkpoints")
def audit_checkpoints(principal: LeadOrAdmin, state: StateDep) -> dict[str, object]:
    """The signed heads of this organisation's chain, with the public key: keep a copy outside CareScreen and
    pass it to ``carescreen audit verify --checkpoints`` to prove nothing before it was rewritten or removed."""
    with db_or_503(state).read_session() as s:
        return audit.export_checkpoints(s, org=principal.org)


@router.get("/audit/export")
def export_audit(principal: LeadOrAdmin, session: SessionDep) -> PlainTextResponse:
    """This organisation's audit entries as CSV (hashes included so they can be checked offline)."""
    audit.append(session, org=principal.org, actor=principal.actor, action="audit.export", subject="audit")
    return PlainTextResponse(audit.export_csv(session, org=principal.org), media_type="text/csv")
