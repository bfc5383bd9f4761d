"""The organisation's staff directory: colleagues named in a Special Mention stay named. Each entry may carry the
colleague's role and location (issue 21), so culture reports can say which roles are recognised, never who."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import audit
from storage.tables import StaffName


@dataclass(frozen=True)
class StaffEntry:
    """One colleague of the directory. ``role`` is one of ``models.culture_signals.STAFF_ROLES`` (checked by the
    API; at most 40 characters here), ``location`` the home, branch or service (at most 200)."""

    name: str
    role: str | None = None
    location: str | None = None


def _clean(value: str | None) -> str | None:
    """Spacing collapsed; blank is None."""
    return (" ".join(value.split()) or None) if value is not None else None


def _entries(items: Sequence[StaffEntry | str]) -> list[StaffEntry]:
    """Cleaned and de-duplicated by name (sorted by name); a repeated name keeps the first role and location
    given for it."""
    merged: dict[str, StaffEntry] = {}
    for item in items:
        entry = StaffEntry(item) if isinstance(item, str) else item
        name = _clean(entry.name)
        if name is None:
            continue
        role, location = _clean(entry.role), _clean(entry.location)
        if role is not None and len(role) > 40:
            raise ValueError("a staff role is longer than 40 characters")
        if len(name) > 200 or (location is not None and len(location) > 200):
            raise ValueError("a staff name or location is longer than 200 characters")
        seen = merged.get(name)
        merged[name] = StaffEntry(
            name,
            seen.role if seen is not None and seen.role is not None else role,
            seen.location if seen is not None and seen.location is not None else location,
        )
    return [merged[n] for n in sorted(merged)]


def replace_staff_directory(
    session: Session,
    *,
    org: str,
    entries: Sequence[StaffEntry | str] | None = None,
    names: Sequence[str] | None = None,
    actor: str,
) -> int:
    """Replace the directory with ``entries`` (``StaffEntry`` or plain names, mixed) and/or ``names`` (plain
    names, the earlier signature). Returns how many colleagues it holds; the audit entry records only counts."""
    clean = _entries([*(entries or ()), *(names or ())])
    session.query(StaffName).filter(StaffName.org == org).delete()
    session.add_all(StaffName(org=org, name=e.name, role=e.role, location=e.location) for e in clean)
    audit.append(
        session,
        org=org,
        actor=actor,
        action="staff_directory.replace",
        subject=f"org:{org}",
        details={
            "count": len(clean),
            "with_role": sum(e.role is not None for e in clean),
            "with_location": sum(e.location is not None for e in clean),
        },
    )
    return len(clean)


def staff_directory(session: Session, *, org: str) -> list[str]:
    """The directory's names (what the pipeline keeps named)."""
    return list(session.execute(select(StaffName.name).where(StaffName.org == org)).scalars())


def staff_entries(session: Session, *, org: str) -> list[StaffEntry]:
    """The directory with roles and locations, sorted by name."""
    rows = session.execute(
        select(StaffName.name, StaffName.role, StaffName.location).where(StaffName.org == org)
    )
    return sorted((StaffEntry(name, role, location) for name, role, location in rows), key=lambda e: e.name)


def staff_counts(session: Session, *, org: str, location: str | None = None, role: str | None = None) -> int:
    """How many colleagues the directory holds (at ``location`` and with ``role``, when given): the
    denominator of "share of staff recognised"."""
    q = select(func.count()).select_from(StaffName).where(StaffName.org == org)
    if location is not None:
        q = q.where(StaffName.location == _clean(location))
    if role is not None:
        q = q.where(StaffName.role == role)
    return int(session.execute(q).scalar_one())


def staff_breakdown(session: Session, *, org: str) -> dict[str, dict[str, int]]:
    """Counts per role and per location ("" for entries without one): no names."""
    out: dict[str, dict[str, int]] = {"by_role": {}, "by_location": {}}
    for column, key in ((StaffName.role, "by_role"), (StaffName.location, "by_location")):
        rows = session.execute(
            select(column, func.count()).where(StaffName.org == org).group_by(column).order_by(column)
        )
        out[key] = {value or "": int(n) for value, n in rows}
    return out
