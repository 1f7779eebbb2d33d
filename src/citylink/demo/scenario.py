"""The demo scenario: a seeded, realistic stream of the five linked services' events.

Pure and deterministic: the same seed and the same send times give the same events. It has no clock and does
no I/O; the runner asks for the next event, posts it through the API and comes back. One call, one event.

Lifecycles, counted in events sent ("ticks"):

- 112UC001 report of a crime: opens (10); the suspect is seen again a few tens of metres away (40); ends (91).
  Most violent reports get a 112UC120 dispatch with the same occurrence number and sender city: patrol units,
  a scene still and sometimes a suspect still; it ends just before the report does. Now and then a non-violent
  report (noise, a public disturbance) opens and ends: the platform grants no video for it.
- 119UC001 fire, rescue or ambulance call: opens, one progress update, ends.
- DUCDP110 disaster: opens with a radius or a small polygon area; a polygon grows once (40); ends.
- WPSSF110 vulnerable-person SOS: opens; the person moves a few tens of metres at each update; cleared (50).

Personal data (a person reference, a guardian's phone) goes only into event items, and is obviously fake.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from citylink.api.schemas import EventIn
from citylink.demo import DemoConfig, Place
from citylink.domain.events import Area, Detail, Item, Location, Sender, Status

# Senders: the system code each linked service writes, and the agency whose API key posts its events.
SYSTEM_AGENCY = {"112": "police", "119": "fire", "DRS": "disaster", "WPS": "welfare", "MOJ": "justice"}

# CRIME_TYPE values: from the default violent-crime list (get video) and two that do not.
VIOLENT_CRIMES = (("robbery", 4), ("theft", 4), ("pickpocketing", 3), ("domestic_violence", 2),
                  ("sexual_violence", 1), ("kidnapping", 1), ("murder", 1))
NON_VIOLENT_CRIMES = ("noise", "public_disturbance")
NON_VIOLENT_SHARE = 0.15
DISPATCH_SHARE = 0.7

FIRE_CALLS = (  # (what, detail code, unit kinds sent)
    ("building fire", "fire", ("engine-11", "ladder-13")),
    ("smoke in a stairwell", "fire", ("engine-11",)),
    ("car fire", "fire", ("engine-11",)),
    ("person trapped in a lift", "rescue", ("rescue-16",)),
    ("cardiac arrest", "ems", ("ambulance-121",)),
    ("fall injury on ice", "ems", ("ambulance-121",)),
)
DISASTERS = ("water main burst, street flooding", "gas leak, buildings evacuated", "storm damage, fallen trees",
             "facade elements falling", "chemical smell from a ventilation shaft")
# Anklet triggers: the four lawful ones (video to the ministry) and one that is refused, with their weights.
ANKLET_TRIGGERS = (("curfew_breach", 3), ("banned_zone_entry", 2), ("device_damage", 1),
                   ("protected_person_approach", 1), ("battery_low", 2))
SOS_PEOPLE = ("child", "elderly person", "dementia patient")
SOS_KINDS = ("button", "geofence_exit")

MEDIA_BASE = "https://media.demo.invalid/helsinki"  # .invalid (RFC 2606): never resolves, obviously fake
METRES_PER_DEG_LAT = 110_540.0
METRES_PER_DEG_LON_EQUATOR = 111_320.0
COMPASS = ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")

Step = Callable[[datetime], "Post"]


@dataclass(frozen=True, slots=True)
class Post:
    """One event to send through the API, and the agency whose key sends it."""

    agency: str
    event: EventIn
    summary: str  # one line for the console; never personal data

    def body(self) -> dict[str, Any]:
        """The POST /api/v1/events JSON body."""
        return self.event.model_dump(mode="json", exclude_none=True)


@dataclass(slots=True)
class _Incident:
    """What the scenario remembers of one occurrence it is playing out."""

    code: str
    occurrence: str
    system: str
    place: str
    lon: float
    lat: float
    what: str  # "robbery", "building fire" … for content and summaries
    items: tuple[Item, ...] = ()
    detail: Detail | None = None
    heading_deg: float = 0.0  # where a suspect or a person is drifting
    area: Area | None = None
    radius_m: float | None = None
    end_status: Status = Status.ENDED
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.code}|{self.occurrence}"

    @property
    def agency(self) -> str:
        return SYSTEM_AGENCY[self.system]


class Scenario:
    """Call next(at) once per event to send; wind_down(at) ends whatever is still open."""

    def __init__(self, config: DemoConfig, *, seed: int, max_open: int = 8) -> None:
        self._config = config
        self._rng = random.Random(seed)
        self._tz = ZoneInfo(config.timezone)
        self._max_open = max_open
        self._tick = 0
        self._order = itertools.count()
        self._due: list[tuple[int, int, Step]] = []  # heap of (tick, order, step)
        self._open: dict[str, _Incident] = {}
        self._last_at: datetime | None = None
        self._people = itertools.count(1)
        self._reports = 0
        # The first round opens one of each kind, so even a short demo shows every service.
        self._tour: list[Callable[[datetime], Post]] = [self._open_report, self._open_fire, self._open_disaster,
                                                         self._open_sos, self._open_anklet]
        self._rng.shuffle(self._tour)

    @property
    def open_count(self) -> int:
        return len(self._open)

    def next(self, at: datetime) -> Post:
        """The event to send at `at` (aware). Times are made strictly increasing to the millisecond."""
        at = self._stamp(at)
        self._tick += 1
        if self._tour:
            return self._tour.pop(0)(at)
        if self._due and (self._due[0][0] <= self._tick or len(self._open) >= self._max_open):
            _, _, step = heapq.heappop(self._due)
            return step(at)
        opener = self._rng.choices([self._open_report, self._open_fire, self._open_disaster, self._open_sos,
                                    self._open_anklet], weights=[35, 25, 20, 20, 10])[0]
        return opener(at)

    def wind_down(self, at: datetime) -> list[Post]:
        """End every open incident now: dispatch orders first, then the reports and the rest."""
        pending = sorted(self._open.values(), key=lambda i: (i.code != "112UC120", i.occurrence))
        posts = [self._end(incident, self._stamp(at)) for incident in pending]
        self._due.clear()
        return posts

    # --- time and place -------------------------------------------------------------------------------------

    def _stamp(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            raise ValueError("the scenario needs aware datetimes")
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        if self._last_at is not None and at <= self._last_at:
            # Occurrence numbers and event identities are per millisecond: never reuse one.
            at = self._last_at + timedelta(milliseconds=1)
        self._last_at = at
        return at

    def _occurrence(self, at: datetime) -> str:
        local = at.astimezone(self._tz)
        return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"

    def _spot(self, *, within_m: float = 40.0) -> tuple[Place, float, float]:
        place = self._rng.choice(self._config.places)
        lon, lat = self._moved(place.lon, place.lat, self._rng.uniform(0.0, within_m), self._rng.uniform(0, 360))
        return place, lon, lat

    def _moved(self, lon: float, lat: float, distance_m: float, bearing_deg: float) -> tuple[float, float]:
        east_m = distance_m * math.sin(math.radians(bearing_deg))
        north_m = distance_m * math.cos(math.radians(bearing_deg))
        lon += east_m / (METRES_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat)))
        lat += north_m / METRES_PER_DEG_LAT
        lon, lat = self._config.bbox.clamp(lon, lat)
        return round(lon, 6), round(lat, 6)

    def _after(self, ticks: int, step: Step) -> None:
        heapq.heappush(self._due, (self._tick + ticks, next(self._order), step))

    # --- events ---------------------------------------------------------------------------------------------

    def _post(self, incident: _Incident, status: Status, at: datetime, content: str, *, summary: str) -> Post:
        event = EventIn(code=incident.code, status=status, occurrence=incident.occurrence,
                        time=at.astimezone(self._tz), location=Location(lon=incident.lon, lat=incident.lat),
                        area=incident.area, radius_m=incident.radius_m, place=incident.place, content=content,
                        sender=Sender(system=incident.system, city=self._config.city),
                        items=list(incident.items), detail=incident.detail)
        return Post(agency=incident.agency, event=event, summary=f"{incident.code} {status.label}: {summary}")

    def _opened(self, incident: _Incident, at: datetime, content: str) -> Post:
        self._open[incident.key] = incident
        return self._post(incident, Status.OCCURRED, at, content, summary=f"{incident.what} at {incident.place}")

    def _end(self, incident: _Incident, at: datetime) -> Post:
        self._open.pop(incident.key, None)
        content = {"112UC001": "incident closed by the 112 centre", "112UC120": "units released",
                   "119UC001": "all units back at the station", "DUCDP110": "all clear",
                   "WPSSF110": "person found safe; guardian on site",
                   "MOJUC110": "tracking centre: situation resolved"}[incident.code]
        return self._post(incident, incident.end_status, at, content,
                          summary=f"{incident.what} at {incident.place}")

    def _end_step(self, incident: _Incident) -> Step:
        return lambda at: self._end(incident, at)

    # --- 112 reports and dispatches -------------------------------------------------------------------------

    def _open_report(self, at: datetime) -> Post:
        first = self._reports == 0  # the first report is violent and dispatched: the full 112 story early on
        self._reports += 1
        violent = first or self._rng.random() >= NON_VIOLENT_SHARE
        if violent:
            names, weights = zip(*VIOLENT_CRIMES, strict=True)
            crime = self._rng.choices(names, weights=weights)[0]
        else:
            crime = self._rng.choice(NON_VIOLENT_CRIMES)
        place, lon, lat = self._spot()
        report = _Incident(code="112UC001", occurrence=self._occurrence(at), system="112", place=place.name,
                           lon=lon, lat=lat, what=crime.replace("_", " "), items=(Item(key="CRIME_TYPE", val=crime),),
                           heading_deg=self._rng.uniform(0, 360))
        if not violent:
            self._after(self._rng.randint(3, 5), self._end_step(report))
            return self._opened(report, at, f"112 call: {report.what} reported at {place.name}")
        end_in = self._rng.randint(9, 14)
        self._after(self._rng.randint(3, 5), lambda at: self._suspect_seen(report, at))
        if first or self._rng.random() < DISPATCH_SHARE:
            dispatch = replace(report, code="112UC120", items=self._dispatch_items(report), what="dispatch",
                               extra={})
            self._after(self._rng.randint(1, 2), lambda at: self._dispatch(dispatch, at))
            self._after(end_in, self._end_step(dispatch))  # scheduled first, so it ends before its report
        self._after(end_in, self._end_step(report))
        return self._opened(report, at, f"112 call: {report.what} at {place.name}; suspect fled on foot")

    def _dispatch_items(self, report: _Incident) -> tuple[Item, ...]:
        units = self._rng.sample(self._config.units_of("police"), k=self._rng.choice((1, 1, 2)))
        items = [Item(key="UNIT", val=u.id) for u in units]
        items.append(Item(key="IMAGE_URL", val=f"{MEDIA_BASE}/112/{report.occurrence}/scene.jpg"))
        if self._rng.random() < 0.5:
            items.append(Item(key="SUSPECT_IMAGE_URL", val=f"{MEDIA_BASE}/112/{report.occurrence}/suspect.jpg"))
        items.append(Item(key="STATION", val=self._config.station_of("police").name))
        return tuple(items)

    def _dispatch(self, dispatch: _Incident, at: datetime) -> Post:
        report = self._open.get(f"112UC001|{dispatch.occurrence}")
        if report is not None:  # send the units where the suspect was last seen
            dispatch.lon, dispatch.lat = report.lon, report.lat
        units = ", ".join(i.val for i in dispatch.items if i.key == "UNIT")
        post = self._opened(dispatch, at, f"dispatch order: {units} to {dispatch.place}")
        return replace(post, summary=f"112UC120 occurred: {units} sent to {dispatch.place}")

    def _suspect_seen(self, report: _Incident, at: datetime) -> Post:
        report.heading_deg = (report.heading_deg + self._rng.uniform(-40, 40)) % 360
        distance_m = self._rng.uniform(30, 80)
        report.lon, report.lat = self._moved(report.lon, report.lat, distance_m, report.heading_deg)
        towards = COMPASS[round(report.heading_deg / 45) % 8]
        return self._post(report, Status.CHANGED, at, f"suspect seen again, heading {towards}",
                          summary=f"suspect seen {distance_m:.0f} m {towards} of the report")

    # --- 119 ------------------------------------------------------------------------------------------------

    def _open_fire(self, at: datetime) -> Post:
        what, category, units = self._rng.choice(FIRE_CALLS)
        place, lon, lat = self._spot()
        station = self._config.station_of("fire").name
        items = (*(Item(key="UNIT", val=u) for u in units), Item(key="STATION", val=station))
        call = _Incident(code="119UC001", occurrence=self._occurrence(at), system="119", place=place.name, lon=lon,
                         lat=lat, what=what, items=items, detail=Detail(code=category, text=what))
        self._after(self._rng.randint(3, 5), lambda at: self._fire_progress(call, at))
        self._after(self._rng.randint(7, 12), self._end_step(call))
        return self._opened(call, at, f"119 call: {what} at {place.name}; {', '.join(units)} from {station}")

    def _fire_progress(self, call: _Incident, at: datetime) -> Post:
        news = "situation under control" if call.detail and call.detail.code == "fire" else "patient being treated"
        if call.detail and call.detail.code == "rescue":
            news = "person freed"
        return self._post(call, Status.CHANGED, at, f"first unit on scene; {news}", summary=news)

    # --- disasters ------------------------------------------------------------------------------------------

    def _open_disaster(self, at: datetime) -> Post:
        what = self._rng.choice(DISASTERS)
        place, lon, lat = self._spot(within_m=20.0)
        disaster = _Incident(code="DUCDP110", occurrence=self._occurrence(at), system="DRS", place=place.name,
                             lon=lon, lat=lat, what=what)
        if self._rng.random() < 0.5:
            disaster.radius_m = float(self._rng.randrange(120, 260, 10))
            shape = f"within {disaster.radius_m:.0f} m"
        else:
            size_m = float(self._rng.randrange(70, 130, 10))
            disaster.extra.update(size_m=size_m, rotation_deg=self._rng.uniform(0, 60))
            disaster.area = self._hexagon(disaster, size_m)
            self._after(self._rng.randint(3, 6), lambda at: self._disaster_grows(disaster, at))
            shape = f"in a {2 * size_m:.0f} m wide area"
        self._after(self._rng.randint(9, 14), self._end_step(disaster))
        return self._opened(disaster, at, f"{what} around {place.name}, {shape}")

    def _hexagon(self, disaster: _Incident, size_m: float) -> Area:
        rotation = float(disaster.extra["rotation_deg"])
        ring = [self._moved(disaster.lon, disaster.lat, size_m, rotation + 60 * i) for i in range(6)]
        return Area(type="Polygon", coordinates=[[*ring, ring[0]]])

    def _disaster_grows(self, disaster: _Incident, at: datetime) -> Post:
        size_m = float(disaster.extra["size_m"]) * 1.5
        disaster.extra["size_m"] = size_m
        disaster.area = self._hexagon(disaster, size_m)
        return self._post(disaster, Status.CHANGED, at, f"affected area widened to {2 * size_m:.0f} m",
                          summary=f"area widened to {2 * size_m:.0f} m")

    # --- electronic anklet ----------------------------------------------------------------------------------

    def _open_anklet(self, at: datetime) -> Post:
        subject = next(self._people)
        trigger = self._rng.choices([t for t, _ in ANKLET_TRIGGERS], weights=[w for _, w in ANKLET_TRIGGERS])[0]
        place, lon, lat = self._spot()
        items = (Item(key="SUBJECT_REF", val=f"demo-subject-{subject:03d}"), Item(key="TRIGGER", val=trigger))
        wearer = _Incident(code="MOJUC110", occurrence=self._occurrence(at), system="MOJ", place=place.name,
                           lon=lon, lat=lat, what=f"anklet {trigger.replace('_', ' ')}", items=items,
                           heading_deg=self._rng.uniform(0, 360))
        ticks = self._rng.randint(2, 3)
        self._after(ticks, lambda at: self._wearer_moves(wearer, at))
        self._after(ticks + self._rng.randint(2, 4), self._end_step(wearer))
        return self._opened(wearer, at, f"tracking centre: {trigger.replace('_', ' ')} near {place.name}")

    def _wearer_moves(self, wearer: _Incident, at: datetime) -> Post:
        distance_m = self._rng.uniform(30, 90)
        wearer.lon, wearer.lat = self._moved(wearer.lon, wearer.lat, distance_m, wearer.heading_deg)
        wearer.items = tuple(i for i in wearer.items if i.key != "TRIGGER")  # a position update carries none
        return self._post(wearer, Status.CHANGED, at, "new position from the tracking centre",
                          summary=f"moved {distance_m:.0f} m")

    # --- vulnerable-person SOS ------------------------------------------------------------------------------

    def _open_sos(self, at: datetime) -> Post:
        person = next(self._people)
        who, kind = self._rng.choice(SOS_PEOPLE), self._rng.choice(SOS_KINDS)
        place, lon, lat = self._spot()
        items = (Item(key="PERSON_REF", val=f"demo-person-{person:03d}"), Item(key="PERSON_KIND", val=who),
                 Item(key="GUARDIAN_PHONE", val=f"+358 40 000 0{person % 1000:03d}"),
                 Item(key="SOS_TYPE", val=kind))
        sos = _Incident(code="WPSSF110", occurrence=self._occurrence(at), system="WPS", place=place.name, lon=lon,
                        lat=lat, what=f"{who} {kind.replace('_', ' ')}", items=items,
                        heading_deg=self._rng.uniform(0, 360), end_status=Status.CLEARED)
        ticks = 0
        for _ in range(self._rng.randint(2, 3)):
            ticks += self._rng.randint(2, 3)
            self._after(ticks, lambda at: self._person_moves(sos, at))
        self._after(ticks + self._rng.randint(2, 3), self._end_step(sos))
        how = "SOS button pressed" if kind == "button" else "left the safe zone"
        return self._opened(sos, at, f"wearable: {how} near {place.name}")

    def _person_moves(self, sos: _Incident, at: datetime) -> Post:
        sos.heading_deg = (sos.heading_deg + self._rng.uniform(-35, 35)) % 360
        distance_m = self._rng.uniform(20, 60)
        sos.lon, sos.lat = self._moved(sos.lon, sos.lat, distance_m, sos.heading_deg)
        return self._post(sos, Status.CHANGED, at, "new position from the wearable",
                          summary=f"moved {distance_m:.0f} m")
