"""Making the culture evidence report for a caller (the API and the console both come here): the request goes
on the audit trail first, then the report is read from one read snapshot, so a long report never holds the
write lock (SQLite) and never sees half of a concurrent write.

Anonymous authors are decrypted in memory only to count distinct people (``culture_report``); the plaintext
never leaves the function that counts them.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy.exc import SQLAlchemyError

from service.auth import Principal
from service.culture_period import Period
from service.culture_report import culture_report
from service.deps import db_or_503
from service.schemas import _storable
from service.state import AppState
from storage import audit
from storage import culture as culture_rows

log = logging.getLogger(__name__)


def clean_filter(value: str | None) -> str | None:
    """A location or circle as stored: spacing collapsed; blank is no filter. A value no database can hold
    (NUL, a lone surrogate) matches nothing it could have stored, and PostgreSQL would refuse it in the audit
    entry: a 422, never a 5xx."""
    if value is None:
        return None
    try:
        _storable(value)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"location or circle {exc}") from exc
    return " ".join(value.split()) or None


def load_culture_report(
    state: AppState,
    *,
    principal: Principal,
    period: Period,
    location: str | None,
    circle: str | None,
    fmt: str,
) -> dict[str, Any]:
    db = db_or_503(state)
    try:
        with db.session() as s:
            audit.append(
                s,
                org=principal.org,
                actor=principal.actor,
                action="report.culture",
                subject="report:culture",
                details={
                    "start": period.first.isoformat(),
                    "end": period.last.isoformat(),
                    "location": location,
                    "circle": circle,
                    "format": fmt,
                },
            )
        with db.read_session() as s:
            return culture_report(
                s,
                org=principal.org,
                period=period,
                location=location,
                circle=circle,
                decrypt=state.vault.decrypt,
            )
    except SQLAlchemyError as exc:
        log.error("culture report failed: %s", type(exc).__name__)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable", headers={"Retry-After": "5"}
        ) from exc


def known_locations(state: AppState, *, org: str) -> list[str]:
    """The form's location choices (place names from the directory and the posts)."""
    with db_or_503(state).read_session() as s:
        return culture_rows.locations(s, org=org)
