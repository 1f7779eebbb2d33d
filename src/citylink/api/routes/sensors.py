"""Environment sensors: the register, readings over HTTP (as over MQTT), the measures' alarm levels, and the
time series of an environment alarm for the board to draw.

Centre staff register and remove sensors for any agency; a linked agency only its own. Readings come from the
sensor's maintaining agency (its data system) or centre staff. Sensor values are not personal data: every
signed-in caller may list the register, and see the series of an alarm it may see.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from sqlalchemy.orm import Session

from citylink.api.deps import PlatformDep, PrincipalDep, forbid, handles, registering_for
from citylink.api.errors import Problem
from citylink.api.middleware import correlation_id
from citylink.api.routes.incidents import load_visible
from citylink.api.schemas import SensorIn, SensorReadingsIn
from citylink.domain.agencies import Principal
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.domain.devices import DeviceType, Reading, reading_id
from citylink.domain.environment import Measure
from citylink.runtime.environment import SENDER_SYSTEM
from citylink.runtime.platform import Platform
from citylink.store import agency_repo, audit_repo, device_repo, incident_repo, sensor_repo
from citylink.store.tables import SensorLevelRow, SensorRow

router = APIRouter(tags=["environment"])

SensorId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
                               description="1-64 letters, digits, '_', '.' or '-' (the device id it reports with)")]
SERIES_POINTS = 240  # per sensor: a chart's width in points; more would not be seen
SERIES_LEAD_IN = timedelta(hours=1)  # before the alarm opened: what led to it



def _measure_view(measure: Measure) -> dict[str, Any]:
    return {"name": measure.name, "label": measure.label, "unit": measure.unit, "code": measure.code,
            "levels": [level.model_dump(mode="json") for level in measure.levels]}


def sensor_view(row: SensorRow, levels: list[SensorLevelRow], platform: Platform, *, now: datetime) -> dict[str, Any]:
    settings = platform.settings.environment
    shown = {}
    for level in levels:
        measure = settings.measure(level.measure)
        if measure is None:
            continue
        shown[level.measure] = {"level": measure.level(level.level).name if level.level else None,
                                "heading_for": (measure.level(level.pending).name if level.pending else "none")
                                if level.pending is not None else None,
                                "since": level.since.isoformat() if level.since else None}
    return {"id": row.id, "name": row.name, "city": row.city, "agency": row.agency,
            "location": {"lon": row.lon, "lat": row.lat}, "interval_s": row.interval_s,
            "last_seen_at": row.last_seen_at.isoformat() if row.last_seen_at else None, "values": row.last_values,
            "levels": shown, "down": row.down_occurrence is not None,
            "silent_for_s": round((now - row.last_seen_at).total_seconds(), 1) if row.last_seen_at else None}


@router.get("/environment/measures")
async def measures(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """The measures watched and their alarm levels (thresholds, hysteresis, minimum durations)."""
    return {"measures": [_measure_view(m) for m in platform.settings.environment.measures]}


@router.get("/sensors")
async def list_sensors(platform: PlatformDep, principal: PrincipalDep, city: str | None = None) -> dict[str, Any]:
    now = platform.clock()

    def read(session: Session) -> list[dict[str, Any]]:
        rows = sensor_repo.listed(session, city=city)
        levels: dict[str, list[SensorLevelRow]] = defaultdict(list)
        for (sensor_id, _), level in sensor_repo.levels(session, [r.id for r in rows]).items():
            levels[sensor_id].append(level)
        return [sensor_view(r, levels[r.id], platform, now=now) for r in rows]

    return {"sensors": await platform.db.read(read)}


@router.put("/sensors/{sensor_id}")
async def register_sensor(sensor_id: SensorId, body: SensorIn, platform: PlatformDep, principal: PrincipalDep,
                          response: Response) -> dict[str, Any]:
    agency = registering_for(principal, body.agency, "sensors")
    now = platform.clock()
    grace = timedelta(seconds=body.interval_s * platform.settings.environment.down_after_intervals)
    new = SensorRow(id=sensor_id, city=body.city or platform.settings.city_code, name=body.name, agency=agency,
                    lon=body.location.lon, lat=body.location.lat, interval_s=body.interval_s, last_seen_at=None,
                    last_values={}, silent_after=now + grace, down_occurrence=None, created_at=now, updated_at=now)

    def register(session: Session) -> tuple[dict[str, Any], bool]:
        if agency_repo.get_agency(session, agency) is None:
            raise Problem(422, "invalid request", f"no agency {agency}", field="/agency")
        existing = sensor_repo.get(session, sensor_id)
        if existing is not None and not handles(principal, existing.agency):
            raise Problem(403, "forbidden", f"sensor {sensor_id} belongs to another agency")
        if existing is not None and existing.city != new.city:
            raise Problem(409, "conflict", f"sensor {sensor_id} reports for {existing.city}; remove it first to "
                          "move it to another city", field="/city")
        row, created = sensor_repo.register(session, new)
        _audit(session, principal, sensor_id, {"registered": True, "agency": agency, "interval_s": body.interval_s},
               now)
        return sensor_view(row, [], platform, now=now), created

    view, created = await platform.db.write(register)
    response.status_code = 201 if created else 200
    return view


@router.delete("/sensors/{sensor_id}", status_code=204)
async def remove_sensor(sensor_id: SensorId, platform: PlatformDep, principal: PrincipalDep) -> Response:
    """Out of service: its alarms go on without it (or are lifted), its "sensor down" incident ends."""
    forbid(principal, principal.role.may_act_on_incidents, "remove sensors")
    now = platform.clock()

    def remove(session: Session) -> None:
        row = sensor_repo.get(session, sensor_id)
        if row is None:
            raise Problem(404, "not found", f"no sensor {sensor_id}", field="/sensor_id")
        if not handles(principal, row.agency):
            raise Problem(403, "forbidden", f"sensor {sensor_id} belongs to another agency")
        platform.environment.remove(session, row, now=now)
        _audit(session, principal, sensor_id, {"removed": True}, now)

    await platform.db.write(remove)
    platform.environment.wake()
    return Response(status_code=204)


@router.post("/sensors/readings")
async def post_readings(body: SensorReadingsIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """A batch of readings, all or none: a reading of a sensor that is not registered, or that the caller does
    not maintain, refuses the batch (422 or 403, naming the reading)."""
    now = platform.clock()

    def take(session: Session) -> dict[str, int]:
        known = {row.id: row for row in sensor_repo.listed_by_id(session, {r.sensor_id for r in body.readings})}
        for i, reading in enumerate(body.readings):
            row = known.get(reading.sensor_id)
            if row is None:
                raise Problem(422, "invalid request", f"no sensor {reading.sensor_id} is registered",
                              field=f"/readings/{i}/sensor_id")
            if not handles(principal, row.agency):
                raise Problem(403, "forbidden", f"sensor {reading.sensor_id} is maintained by {row.agency}",
                              field=f"/readings/{i}/sensor_id")
        readings = [Reading(reading_id(known[r.sensor_id].city, DeviceType.SENSOR, r.sensor_id, r.time),
                            known[r.sensor_id].city, DeviceType.SENSOR, r.sensor_id, r.time, None, None,
                            dict(r.values)) for r in body.readings]
        taken = platform.environment.apply(session, readings, now=now)
        stored = device_repo.add_readings(session, readings, now=now)
        return {"received": len(readings), "stored": stored, "duplicates": len(readings) - stored,
                "raised": taken.raised}

    result = await platform.db.write(take)
    if result.pop("raised"):
        platform.environment.wake()
    return result


@router.get("/incidents/{incident_id}/environment")
async def alarm_series(incident_id: str, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """An environment alarm's measure, its levels, and each affected sensor's values from an hour before it
    opened until it was lifted (or now), at most 240 points per sensor (the highest value of each stretch)."""
    settings = platform.settings.environment

    def read(session: Session) -> dict[str, Any]:
        row = load_visible(session, incident_id, principal)
        events = incident_repo.events_for(session, row.id)
        items = [{i["key"]: i["val"] for i in e.payload.get("items", [])} for e in events]
        measure = settings.measure(next((i["MEASURE"] for i in items if "MEASURE" in i), ""))
        if row.sender_system != SENDER_SYSTEM or measure is None:
            raise Problem(404, "not found", f"incident {incident_id} is not an environment alarm of citylink's "
                          "sensors", field="/incident_id")
        sensor_ids = sorted({s for i in items for s in i.get("SENSORS", "").split(",") if s})
        since, until = row.opened_at - SERIES_LEAD_IN, row.ended_at or platform.clock()
        readings = device_repo.series(session, city=row.sender_city, device_ids=sensor_ids, since=since,
                                      until=until + timedelta(seconds=1))
        names = {r.id: r.name for r in sensor_repo.listed_by_id(session, set(sensor_ids))}
        points: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
        for reading in readings:  # oldest first: each sensor's points stay in time order
            if measure.name in reading.measures:
                points[reading.device_id].append((reading.time, float(reading.measures[measure.name])))
        return {"incident_id": row.id, "measure": _measure_view(measure), "since": since.isoformat(),
                "until": until.isoformat(), "opened_at": row.opened_at.isoformat(),
                "ended_at": row.ended_at.isoformat() if row.ended_at else None,
                "sensors": [{"id": s, "name": names.get(s, s), "points": _downsampled(points[s], since, until)}
                            for s in sensor_ids]}

    return await platform.db.read(read)


def _downsampled(points: list[tuple[datetime, float]], since: datetime, until: datetime) -> list[list[Any]]:
    """At most SERIES_POINTS points: the highest of each equal stretch of time (a peak is what matters)."""
    if len(points) <= SERIES_POINTS:
        return [[t.isoformat(), v] for t, v in points]
    width = (until - since) / SERIES_POINTS
    peaks: dict[int, tuple[datetime, float]] = {}
    for t, v in points:
        bucket = int((t - since) / width)
        if bucket not in peaks or v > peaks[bucket][1]:
            peaks[bucket] = (t, v)
    return [[t.isoformat(), v] for _, (t, v) in sorted(peaks.items())]


def _audit(session: Session, principal: Principal, sensor_id: str, detail: dict[str, object], now: datetime) -> None:
    audit_repo.append(session, AuditEntry(AuditAction.SENSOR_CHANGED, principal.agency, f"sensor:{sensor_id}", detail,
                                          now, correlation_id.get()))
