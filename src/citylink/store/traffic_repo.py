"""Live traffic overrides by OSM way: what every process's routers apply on top of free-flow speeds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.store.tables import TrafficRow


def all_overrides(session: Session) -> list[TrafficRow]:
    return list(session.execute(select(TrafficRow).order_by(TrafficRow.way_osm_id)).scalars())


def factors(session: Session) -> dict[int, float]:
    """OSM way id → speed factor (0: closed)."""
    return {row.way_osm_id: row.speed_factor for row in all_overrides(session)}


def put(session: Session, way_osm_id: int, speed_factor: float, *, reason: str, actor: str,
        now: datetime) -> TrafficRow:
    row = session.get(TrafficRow, way_osm_id)
    if row is None:
        row = TrafficRow(way_osm_id=way_osm_id)
        session.add(row)
    row.speed_factor, row.reason, row.updated_by, row.updated_at = speed_factor, reason, actor, now
    return row


def clear(session: Session, way_osm_id: int) -> bool:
    row = session.get(TrafficRow, way_osm_id)
    if row is None:
        return False
    session.delete(row)
    return True
