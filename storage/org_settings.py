"""Per-organisation settings: SLA targets and the confidentiality rule's holds."""

from __future__ import annotations

from sqlalchemy.orm import Session

from storage.tables import OrgSettings


def sla_minutes(
    session: Session, *, org: str, priority: str, default_urgent: int, default_normal: int
) -> int:
    row = session.get(OrgSettings, org)
    if priority == "urgent":
        return (row.sla_urgent_minutes if row and row.sla_urgent_minutes else None) or default_urgent
    return (row.sla_normal_minutes if row and row.sla_normal_minutes else None) or default_normal


def set_org_sla(
    session: Session, *, org: str, urgent_minutes: int | None, normal_minutes: int | None
) -> None:
    row = session.get(OrgSettings, org) or OrgSettings(org=org)
    row.sla_urgent_minutes = urgent_minutes
    row.sla_normal_minutes = normal_minutes
    session.merge(row)


CONFIDENTIALITY_HOLDS = ("special_category", "access_details")


def confidentiality_holds_off(session: Session, *, org: str) -> frozenset[str]:
    """The confidentiality-rule holds an organisation has switched off (none by default)."""
    row = session.get(OrgSettings, org)
    conf = (row.confidentiality if row else None) or {}
    return frozenset(k for k in CONFIDENTIALITY_HOLDS if conf.get(k) is False)


def set_confidentiality_holds(session: Session, *, org: str, holds: dict[str, bool]) -> None:
    row = session.get(OrgSettings, org) or OrgSettings(org=org)
    row.confidentiality = {k: bool(holds.get(k, True)) for k in CONFIDENTIALITY_HOLDS}
    session.merge(row)
