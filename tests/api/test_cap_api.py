"""CAP 1.2 through the API: disaster and environment alerts published at a feed and pushed to receivers in order
(schema-valid, and read back to the same event); alerts from a national system taken in as events; bad alerts
refused by element, never a 500."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from citylink.adapters.cap import event_from_alert, validate_alert
from citylink.settings import CapSettings, Settings
from citylink.store.tables import CapReceiverRow
from tests.conftest import SPOT, FakeClock, Harness, event_body, offset

FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "fixtures" / "cap"
ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


class _Receiver(ThreadingHTTPServer):
    """A CAP receiver on localhost: keeps what it is sent, or answers 503 while down."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.down = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.down:
                    self.send_response(503)
                else:
                    receiver.received.append(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/cap"


@pytest.fixture(scope="module")
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture
def settings(tmp_path: Path, receiver: _Receiver) -> Settings:
    return Settings(data_dir=tmp_path / "data", cap=CapSettings(receivers=(receiver.url,), send_every_s=0.05))


def _disaster(status: str = "10", minute: int = 0) -> dict[str, Any]:
    ring = [offset(*SPOT, east_m=e, north_m=n) for e, n in ((-300, -300), (300, -300), (300, 300), (-300, 300))]
    return event_body("DUCDP110", occurrence="FLOOD-7", status=status, time=f"2026-11-26T11:{minute:02d}:00+02:00",
                      area={"type": "Polygon", "coordinates": [[*ring, ring[0]]]}, place="Kaisaniemi park")


async def test_a_disaster_is_published_as_valid_cap_at_the_feed_and_read_back_to_the_same_event(
        harness: Harness) -> None:
    h = harness
    assert (await h.post_event("disaster", _disaster())).status_code == 201
    assert (await h.post_event("disaster", _disaster("91", 30))).status_code == 201
    assert (await h.post_event("police", event_body())).status_code == 201  # a police code: never published
    await h.settle()

    feed = await h.client.get("/api/v1/cap/alerts", headers=h.auth("welfare"))
    assert feed.status_code == 200 and feed.headers["content-type"] == "application/atom+xml"
    entries = ElementTree.fromstring(feed.content).findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == ["DUCDP110 ended: Kaisaniemi park",
                                                             "DUCDP110 occurred: Kaisaniemi park"]
    links = [e.find(f"{ATOM}link").get("href") for e in entries]  # type: ignore[union-attr]
    alerts = []
    for link in reversed(links):
        response = await h.client.get(link, headers=h.auth("welfare"))
        assert response.headers["content-type"] == "application/cap+xml"
        validate_alert(response.content)  # the official OASIS CAP 1.2 schema
        alerts.append(response.content)

    first, ended = (ElementTree.fromstring(a) for a in alerts)
    assert first.findtext(f"{CAP}msgType") == "Alert" and ended.findtext(f"{CAP}msgType") == "Update"
    assert ended.findtext(f"{CAP}info/{CAP}responseType") == "AllClear"
    assert first.findtext(f"{CAP}identifier") in ended.findtext(f"{CAP}references", "")
    assert first.findtext(f"{CAP}info/{CAP}area/{CAP}areaDesc") == "Kaisaniemi park"
    assert first.findtext(f"{CAP}info/{CAP}urgency") == "Immediate"

    # Read back, the alerts make the same incident's events: the first its opening, the second its end.
    opened, lifted = (event_from_alert(a, city="espoo") for a in alerts)
    assert (opened.code, opened.status.value, lifted.status.value) == ("DUCDP110", "10", "50")
    assert opened.occurrence == lifted.occurrence and opened.area is not None
    assert opened.area.coordinates[0][0] == pytest.approx(_disaster()["area"]["coordinates"][0][0], abs=1e-6)

    hidden = await h.client.get("/api/v1/cap/alerts/nope.xml", headers=h.auth("welfare"))
    assert hidden.status_code == 404


async def test_alerts_are_pushed_to_receivers_in_order_and_a_receiver_that_was_down_gets_them_later(
        harness: Harness, receiver: _Receiver, clock: FakeClock) -> None:
    h = harness
    receiver.received.clear()
    receiver.down = True
    # A receiver gets what is published once it is known (its first round), not the history before it.
    await _until(lambda: h.platform.db.read_sync(lambda s: s.get(CapReceiverRow, receiver.url)) is not None)
    for status, minute in (("10", 0), ("40", 10), ("91", 30)):
        assert (await h.post_event("disaster", _disaster(status, minute))).status_code == 201
    await h.settle()
    await _until(lambda: _failures(h) >= 1)  # the workers' pusher tried, and backs off
    assert receiver.received == []
    receiver.down = False
    clock.advance(seconds=600)  # past the back-off, whichever round set it last
    await _until(lambda: len(receiver.received) == 3)
    types = [ElementTree.fromstring(x).findtext(f"{CAP}msgType") for x in receiver.received]
    assert types == ["Alert", "Update", "Update"]
    for xml in receiver.received:
        validate_alert(xml)
    await asyncio.sleep(0.3)
    assert len(receiver.received) == 3  # nothing twice


def _failures(h: Harness) -> int:
    row = h.platform.db.read_sync(lambda s: s.get(CapReceiverRow, h.platform.settings.cap.receivers[0]))
    return row.failures if row is not None else 0


async def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_an_alert_from_a_national_system_opens_a_weather_incident_and_its_cancel_ends_it(
        harness: Harness) -> None:
    h = harness
    kma = (FIXTURES / "kma_heavy_rain_warning.xml").read_bytes()
    taken = await h.client.post("/api/v1/cap/alerts", content=kma, headers={**h.auth("disaster"),
                                                                             "Content-Type": "application/cap+xml"})
    assert taken.status_code == 201, taken.text
    assert (taken.json()["code"], taken.json()["status"]) == ("WESEN110", "10")
    again = await h.client.post("/api/v1/cap/alerts", content=kma, headers=h.auth("disaster"))
    assert again.status_code == 200 and again.json()["created"] is False  # the same alert twice: one event
    await h.settle()
    incident = await h.incident(taken.json()["incident_id"])
    assert incident["place"].startswith("서울특별시") and incident["area"]["type"] == "Polygon"

    # The KMA lifts it: a Cancel referencing the warning ends the same incident.
    lifted = (kma.replace(b"<identifier>urn:oid:2.49.0.1.410.0.2026.1126.0900.0042</identifier>",
                          b"<identifier>urn:oid:2.49.0.1.410.0.2026.1126.1500.0043</identifier>")
              .replace(b"<sent>2026-11-26T09:00:00+09:00</sent>", b"<sent>2026-11-26T15:00:00+09:00</sent>")
              .replace(b"<msgType>Alert</msgType>", b"<msgType>Cancel</msgType>")
              .replace(b"<scope>Public</scope>", b"<scope>Public</scope><references>cap@kma.go.kr,"
                       b"urn:oid:2.49.0.1.410.0.2026.1126.0900.0042,2026-11-26T09:00:00+09:00</references>"))
    cancelled = await h.client.post("/api/v1/cap/alerts", content=lifted, headers=h.auth("disaster"))
    assert cancelled.status_code == 201, cancelled.text
    assert cancelled.json()["incident_id"] == taken.json()["incident_id"]
    await h.settle()
    assert (await h.incident(taken.json()["incident_id"]))["ended_at"] is not None

    # An all-clear of an alert never received here has nothing to end: refused, with the reason.
    nws = (FIXTURES / "nws_flash_flood_cancel.xml").read_bytes()
    unknown = await h.client.post("/api/v1/cap/alerts", content=nws, headers=h.auth("disaster"))
    assert unknown.status_code == 409 and unknown.json()["detail"]


@pytest.mark.parametrize(("what", "body", "says"), [
    ("not XML", b"hello", "not well-formed"),
    ("CAP 1.1", (FIXTURES / "gas_leak_circle.xml").read_bytes().replace(b"cap:1.2", b"cap:1.1"), "CAP 1.2"),
    ("an entity", b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><alert/>', "DOCTYPE"),
    ("no identifier", (FIXTURES / "gas_leak_circle.xml").read_bytes().replace(b"<identifier>", b"<x>").replace(
        b"</identifier>", b"</x>"), "identifier"),
])
async def test_bad_alerts_are_refused_by_element(harness: Harness, what: str, body: bytes, says: str) -> None:
    response = await harness.client.post("/api/v1/cap/alerts", content=body, headers=harness.auth("disaster"))
    assert response.status_code == 422, (what, response.text)
    assert says.lower() in response.json()["detail"].lower(), (what, response.json()["detail"])
