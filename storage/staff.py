"""The organisation's staff directory: colleagues named in a Special Mention stay named."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.tables import StaffName


def replace_staff_directory(session: Session, *, org: str, names: Sequence[str], actor: str) -> int:
    session.query(StaffName).filter(StaffName.org == org).delete()
    clean = sorted({" ".join(n.split()) for n in names if n and n.strip()})
    session.add_all(StaffName(org=org, name=n) for n in clean)
    audit.append(
        session,
        org=org,
        actor=actor,
        action="staff_directory.replace",
        subject=f"org:{org}",
        details={"count": len(clean)},
    )
    return len(clean)


def staff_directory(session: Session, *, org: str) -> list[str]:
    return list(session.execute(select(StaffName.name).where(StaffName.org == org)).scalars())
