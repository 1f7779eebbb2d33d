"""Safe return home (POCCP103): a registered walk, watched until the walker arrives.

The phone app registers a trip (from, to, expected arrival, guardian contact) and sends positions. An SOS, a
position farther from the expected route than the corridor, or no arrival by the expected time plus a grace
period alerts: a POCCP103 event (occurrence: the trip id) through the ordinary intake, whose service selects
the cameras near the last position, shares them with the centre and tells the centre and the guardian. Later
positions move that incident (its cameras follow); arrival ends it and tells the guardian. Arrival without an
alert closes the trip quietly: no incident, nobody told.

The expected route is the walking route when a road network is configured, else the straight line. The overdue
check reads due times from the store, so a restart loses no timer; an overdue alert's event has the due time as
its time, so two workers (or a retry) alerting on the same trip make one event, which intake recognises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from citylink.domain.catalogue import CATALOGUE
from citylink.domain.events import Event, Item, Location, Sender, Status, incident_id_of, incident_key
from citylink.domain.trips import Trip, TripAlert, TripState, position_verdict
from citylink.geo.corridor import distance_from_path_m
from citylink.geo.distance import haversine_m
from citylink.geo.road_profiles import Profile
from citylink.geo.route_results import NoRoute
from citylink.runtime.clock import Clock
from citylink.runtime.intake import Submit
from citylink.runtime.periodic import Periodic
from citylink.runtime.routing_plans import RoutingPlans, RoutingUnavailable
from citylink.settings import SafeReturnSettings
from citylink.store import trip_repo
from citylink.store.database import Database
from citylink.store.tables import TripRow

log = logging.getLogger(__name__)

CODE = "POCCP103"
SENDER_SYSTEM = "SAFE"
WALKING_ROUTE = "walking route"
STRAIGHT_LINE = "straight line"


def incident_of(row: TripRow) -> str:
    """The id of the incident the trip's alerts go to (its occurrence number is the trip id)."""
    return incident_id_of(incident_key(row.city, CODE, row.id))


class TripNotWatched(ValueError):
    """The trip has ended (arrived or cancelled): positions and alerts no longer apply."""


class SafeReturn:
    def __init__(self, db: Database, *, settings: SafeReturnSettings, submit: Submit, clock: Clock, city: str,
                 routing: Callable[[], RoutingPlans | None]) -> None:
        self._db = db
        self.settings = settings
        self._submit = submit
        self._clock = clock
        self._city = city
        self._routing = routing
        self.checker = Periodic("safe-return overdue check", settings.check_every_s, self.check_overdue)

    # -- registration ------------------------------------------------------------------------------------------

    def expected_path(self, origin: tuple[float, float],
                      destination: tuple[float, float]) -> tuple[tuple[tuple[float, float], ...], str]:
        """The walking route when a road network is configured and both ends are near it; else a straight line."""
        plans = self._routing()
        if plans is not None:
            try:
                route = plans.router(Profile.FOOT).route(origin, destination)
            except RoutingUnavailable as exc:
                log.warning("safe return: no walking route (%s); using the straight line", exc)
            else:
                if not isinstance(route, NoRoute):
                    coords = tuple((float(x), float(y)) for x, y in route.geometry.coords)
                    return (origin, *coords, destination), WALKING_ROUTE
        return (origin, destination), STRAIGHT_LINE

    async def register(self, *, person_ref: str, guardian_contact: str, origin: tuple[float, float],
                       destination: tuple[float, float], expected_arrival: datetime, corridor_m: float | None,
                       grace_s: float | None, registered_by: str) -> tuple[TripRow, str]:
        path, how = await asyncio.get_running_loop().run_in_executor(None, self.expected_path, origin, destination)
        trip = Trip(str(uuid.uuid4()), self._city, person_ref, guardian_contact, origin, destination, path,
                    expected_arrival, self.settings.grace_s if grace_s is None else grace_s,
                    corridor_m or self.settings.corridor_m, TripState.ACTIVE)
        now = self._clock()
        row = await self._db.write(lambda s: trip_repo.add(s, trip, registered_by=registered_by, now=now))
        return row, how

    # -- what the walker's phone sends -------------------------------------------------------------------------

    async def position(self, trip_id: str, lon: float, lat: float, at: datetime) -> TripRow:
        row = await self._watched(trip_id)
        trip = trip_repo.to_trip(row)
        verdict = position_verdict(trip, from_destination_m=haversine_m(lon, lat, *trip.destination),
                                   off_route_m=distance_from_path_m(trip.path, lon, lat))
        if verdict is TripState.ARRIVED:
            return await self.arrived(trip_id, at, at_position=(lon, lat))
        if verdict is TripAlert.DEVIATION:
            return await self._alert(row, TripAlert.DEVIATION, (lon, lat), at)
        if row.state == TripState.ALERTED.value:  # already alerted: the incident follows the walker
            await self._send(row, Status.CHANGED, (lon, lat), at, alert=None,
                             content="new position from the walker's phone")
        return await self._update(trip_id, lambda r: _moved(r, lon, lat, at, self._clock()))

    async def sos(self, trip_id: str, lon: float | None, lat: float | None, at: datetime) -> TripRow:
        row = await self._watched(trip_id)
        where = (lon, lat) if lon is not None and lat is not None else _last_or_origin(row)
        return await self._alert(row, TripAlert.SOS, where, at)

    async def arrived(self, trip_id: str, at: datetime, *, at_position: tuple[float, float] | None = None) -> TripRow:
        row = await self._watched(trip_id)
        if row.state == TripState.ALERTED.value:  # the incident ends, and the guardian hears it
            await self._send(row, Status.CLEARED, at_position or _last_or_origin(row), at, alert=None,
                             content="arrived safely")

        def close(r: TripRow) -> None:
            r.state, r.updated_at = TripState.ARRIVED.value, self._clock()
            if at_position is not None:
                r.last_lon, r.last_lat, r.last_at = at_position[0], at_position[1], at

        return await self._update(trip_id, close)

    # -- alerts ------------------------------------------------------------------------------------------------

    async def _alert(self, row: TripRow, alert: TripAlert, where: tuple[float, float], at: datetime) -> TripRow:
        # The event first: if storing the trip's new state fails, the retry sends the same event (same time),
        # which intake recognises, so an alert is neither lost nor doubled.
        first = row.state == TripState.ACTIVE.value
        await self._send(row, Status.OCCURRED if first else Status.CHANGED, where, at, alert=alert,
                         content=_ALERT_TEXT[alert])

        def alerted(r: TripRow) -> None:
            r.state, r.alert, r.updated_at = TripState.ALERTED.value, alert.value, self._clock()
            r.last_lon, r.last_lat, r.last_at = where[0], where[1], at

        return await self._update(row.id, alerted)

    async def check_overdue(self) -> int:
        """Alert every active trip past its due time; how many. Safe to run in several workers at once."""
        now = self._clock()
        alerted = 0
        for row in await self._db.read(lambda s: trip_repo.overdue(s, now=now)):
            with contextlib.suppress(TripNotWatched):
                # The due time is the event's time: run twice (two workers, a retry), it is one alert.
                await self._alert(row, TripAlert.OVERDUE, _last_or_origin(row), row.due_at)
                alerted += 1
        return alerted

    # -- helpers -----------------------------------------------------------------------------------------------

    async def _watched(self, trip_id: str) -> TripRow:
        row = await self._db.read(lambda s: trip_repo.get(s, trip_id))
        if row is None:
            raise LookupError(trip_id)
        if not TripState(row.state).watched:
            raise TripNotWatched(f"trip {trip_id} has {row.state}; it is no longer watched")
        return row

    async def _update(self, trip_id: str, change: Callable[[TripRow], None]) -> TripRow:
        def write(session: Session) -> TripRow:
            row = trip_repo.get(session, trip_id, for_update=True)
            assert row is not None  # trips are never deleted
            change(row)
            return row

        return await self._db.write(write)

    async def _send(self, row: TripRow, status: Status, where: tuple[float, float], at: datetime, *,
                    alert: TripAlert | None, content: str) -> None:
        entry = CATALOGUE[CODE]
        items = [("TRIP_ID", row.id), ("PERSON_REF", row.person_ref), ("GUARDIAN_PHONE", row.guardian_contact),
                 ("ALERT", alert.value if alert else None)]
        event = Event(code=CODE, name=entry.name_ko, grade=entry.default_grade, status=status, occurrence=row.id,
                      location=Location(lon=where[0], lat=where[1]), time=at, content=content,
                      place="safe return home", sender=Sender(system=SENDER_SYSTEM, city=row.city),
                      items=tuple(Item(key=k, val=v) for k, v in items if v is not None))
        await self._submit(event, received_by=row.registered_by, correlation_id=f"trip-{row.id}")


_ALERT_TEXT = {
    TripAlert.SOS: "SOS pressed on the safe-return app",
    TripAlert.DEVIATION: "left the expected walking route",
    TripAlert.OVERDUE: "not arrived by the expected time",
}


def _moved(row: TripRow, lon: float, lat: float, at: datetime, now: datetime) -> None:
    if row.last_at is None or at >= row.last_at:
        row.last_lon, row.last_lat, row.last_at = lon, lat, at
    row.updated_at = now


def _last_or_origin(row: TripRow) -> tuple[float, float]:
    if row.last_lon is not None and row.last_lat is not None:
        return row.last_lon, row.last_lat
    return row.origin_lon, row.origin_lat
