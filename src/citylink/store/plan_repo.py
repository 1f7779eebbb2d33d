"""The routing plans of incidents: one per incident and kind, replaced when recomputed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.store.tables import PlanRow


def save(session: Session, incident_id: str, kind: str, plan: dict[str, Any], *, now: datetime) -> None:
    row = session.get(PlanRow, (incident_id, kind))
    if row is None:
        session.add(PlanRow(incident_id=incident_id, kind=kind, computed_at=now, plan=plan))
    else:
        row.computed_at, row.plan = now, plan


def plans_of(session: Session, incident_id: str) -> dict[str, dict[str, Any]]:
    rows = session.execute(select(PlanRow).where(PlanRow.incident_id == incident_id)).scalars()
    return {row.kind: {**row.plan, "computed_at": row.computed_at.isoformat()} for row in rows}
