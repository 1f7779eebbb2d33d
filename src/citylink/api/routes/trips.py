"""Safe return home: trips registered by the app's backend, positions, SOS, arrival, and an escort request.

The agency that registered a trip (e.g. `welfare`, for the app) and centre staff may see and update it; the
guardian's phone is never shown back. Alerts and their incident are runtime/safe_return.py's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.api.errors import Problem
from citylink.api.middleware import correlation_id
from citylink.api.routes.incidents import load_visible
from citylink.api.schemas import TripArrival, TripIn, TripPosition, TripSos
from citylink.domain.actions import GrantVideo, Notify
from citylink.domain.agencies import Principal
from citylink.domain.trips import TripState
from citylink.runtime.platform import Platform
from citylink.runtime.safe_return import TripNotWatched, incident_of
from citylink.store import trip_repo
from citylink.store.tables import IncidentRow, TripRow

router = APIRouter(tags=["safe return"])


def trip_view(row: TripRow, *, path_kind: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row.id, "person_ref": row.person_ref, "state": row.state, "alert": row.alert,
        "from": {"lon": row.origin_lon, "lat": row.origin_lat}, "to": {"lon": row.dest_lon, "lat": row.dest_lat},
        "expected_arrival": row.expected_arrival.isoformat(), "due_at": row.due_at.isoformat(),
        "corridor_m": row.corridor_m, "path": {"type": "LineString", "coordinates": row.path},
        "last_position": ({"lon": row.last_lon, "lat": row.last_lat, "time": row.last_at.isoformat()}
                          if row.last_at is not None else None),
        # An alert is what opens the trip's incident.
        "incident_id": incident_of(row) if row.alert else None,
    }
    if path_kind is not None:
        view["path_kind"] = path_kind
    return view


async def _visible(platform: Platform, trip_id: str, principal: Principal) -> TripRow:
    row = await platform.db.read(lambda s: trip_repo.get(s, trip_id))
    if row is None or not (principal.role.sees_all_incidents or row.registered_by == principal.agency):
        raise Problem(404, "not found", f"no trip {trip_id}", field="/trip_id")
    return row


async def _update(platform: Platform, trip_id: str, principal: Principal,
                  change: Callable[[], Awaitable[TripRow]]) -> dict[str, Any]:
    forbid(principal, principal.role.may_act_on_incidents, "update trips")
    await _visible(platform, trip_id, principal)
    try:
        row = await change()
    except TripNotWatched as exc:
        raise Problem(409, "trip over", str(exc)) from None
    return trip_view(row)


@router.post("/trips", status_code=201)
async def register_trip(body: TripIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    forbid(principal, principal.role.may_act_on_incidents, "register trips")
    if body.expected_arrival <= platform.clock():
        raise Problem(422, "invalid request", "expected_arrival is in the past", field="/expected_arrival")
    row, how = await platform.safe_return.register(
        person_ref=body.person_ref, guardian_contact=body.guardian_phone,
        origin=(body.origin.lon, body.origin.lat), destination=(body.destination.lon, body.destination.lat),
        expected_arrival=body.expected_arrival, corridor_m=body.corridor_m, grace_s=body.grace_s,
        registered_by=principal.agency)
    return trip_view(row, path_kind=how)


@router.get("/trips/{trip_id}")
async def get_trip(trip_id: str, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return trip_view(await _visible(platform, trip_id, principal))


@router.post("/trips/{trip_id}/positions")
async def trip_position(trip_id: str, body: TripPosition, platform: PlatformDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    return await _update(platform, trip_id, principal, lambda: platform.safe_return.position(
        trip_id, body.location.lon, body.location.lat, body.time))


@router.post("/trips/{trip_id}/sos")
async def trip_sos(trip_id: str, body: TripSos, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    lon, lat = (body.location.lon, body.location.lat) if body.location else (None, None)
    return await _update(platform, trip_id, principal, lambda: platform.safe_return.sos(trip_id, lon, lat, body.time))


@router.post("/trips/{trip_id}/arrived")
async def trip_arrived(trip_id: str, body: TripArrival, platform: PlatformDep,
                       principal: PrincipalDep) -> dict[str, Any]:
    return await _update(platform, trip_id, principal, lambda: platform.safe_return.arrived(trip_id, body.time))


@router.post("/trips/{trip_id}/escort", status_code=201)
async def request_escort(trip_id: str, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """An operator asks the police to escort an alerted walker: the police get the incident's cameras and a
    notification with the walker's last position."""
    forbid(principal, principal.role.may_manage_cameras, "request a police escort")
    row = await _visible(platform, trip_id, principal)
    if row.state != TripState.ALERTED.value:
        raise Problem(409, "no alert", f"trip {trip_id} is {row.state}: an escort is requested for an alerted walk")
    incident_id = incident_of(row)
    police = platform.settings.safe_return.escort_agency
    where = f"{row.last_lat:.5f}, {row.last_lon:.5f}" if row.last_lon is not None else "its last position"

    def check(session: Session) -> IncidentRow:
        return load_visible(session, incident_id, principal)

    await platform.operate(incident_id, [GrantVideo(agency=police, purpose="safe return escort"),
                                         Notify(recipient=police, message=f"Escort requested by the operations "
                                                f"centre for a walker alerted ({row.alert}) at {where}")],
                           actor=principal.agency, correlation_id=correlation_id.get(), check=check)
    return {"incident_id": incident_id, "escort": police}
