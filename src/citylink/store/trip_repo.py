"""Safe-return trips."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.domain.trips import Trip, TripState
from citylink.store.tables import TripRow


def to_trip(row: TripRow) -> Trip:
    return Trip(row.id, row.city, row.person_ref, row.guardian_contact, (row.origin_lon, row.origin_lat),
                (row.dest_lon, row.dest_lat), tuple((float(p[0]), float(p[1])) for p in row.path),
                row.expected_arrival, row.grace_s, row.corridor_m, TripState(row.state))


def add(session: Session, trip: Trip, *, registered_by: str, now: datetime) -> TripRow:
    row = TripRow(id=trip.id, city=trip.city, person_ref=trip.person_ref, guardian_contact=trip.guardian_contact,
                  origin_lon=trip.origin[0], origin_lat=trip.origin[1], dest_lon=trip.destination[0],
                  dest_lat=trip.destination[1], path=[list(p) for p in trip.path],
                  expected_arrival=trip.expected_arrival, grace_s=trip.grace_s, corridor_m=trip.corridor_m,
                  due_at=trip.due_at, state=trip.state.value, alert=None, last_lon=None, last_lat=None,
                  last_at=None, registered_by=registered_by, created_at=now, updated_at=now)
    session.add(row)
    return row


def get(session: Session, trip_id: str, *, for_update: bool = False) -> TripRow | None:
    query = select(TripRow).where(TripRow.id == trip_id)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def overdue(session: Session, *, now: datetime, limit: int = 100) -> list[TripRow]:
    """Active trips past their due time, the longest overdue first."""
    query = (select(TripRow).where(TripRow.state == TripState.ACTIVE.value, TripRow.due_at <= now)
             .order_by(TripRow.due_at).limit(limit))
    return list(session.execute(query).scalars())
