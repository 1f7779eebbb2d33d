"""Two citylink platforms on localhost linked both ways over the linkage protocol: events go to the partner its
rules name and never come back; an event for the other city is forwarded there; a partner that is down gets
everything later, in order; an expired session is renewed on the way."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from citylink.api.app import create_app
from citylink.runtime.platform import Platform
from citylink.settings import LinkageSettings, LinkPartner, Settings
from tests.conftest import SPOT, FakeClock, default_cameras

PASSPHRASE = "helsinki-espoo-link"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class City:
    code: str
    data: Path
    port: int
    keys: dict[str, str]
    clock: Callable[[], datetime]
    settings: Settings | None = None
    platform: Platform | None = None
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.settings is not None
        platform = Platform.open(self.settings, clock=self.clock)
        asyncio.run(platform.save_cameras(default_cameras(), actor="test", source="fixture"))
        self.platform = platform
        app = create_app(self.settings, platform_factory=lambda _: platform)
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="on", log_config=None))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        _until(lambda: self._server is not None and self._server.started, f"{self.code} did not start")

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(15)
            self._server = self._thread = None

    def call(self, method: str, path: str, *, agency: str = "centre", **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.url + path, headers={"Authorization": f"Bearer {self.keys[agency]}"},
                             timeout=10, **kwargs)

    def incidents(self, code: str) -> list[dict[str, Any]]:
        listed = self.call("GET", "/api/v1/incidents", params={"code": code}).json()
        return [self.call("GET", f"/api/v1/incidents/{i['id']}").json() for i in listed]

    def partners(self) -> dict[str, dict[str, Any]]:
        return {p["id"]: p for p in self.call("GET", "/api/v1/linkage/partners").json()["partners"]}


def _until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _bootstrap(code: str, data: Path, clock: Callable[[], datetime]) -> City:
    platform = Platform.open(Settings(data_dir=data, city_code=code))
    platform.bootstrap()
    platform.db.close()
    return City(code, data, _free_port(), json.loads((data / "bootstrap-keys.json").read_text()), clock)


def _link(city: City, partner: City, **rules: Any) -> Settings:
    link = LinkageSettings(
        partners=(LinkPartner(id=partner.code, url=partner.url, city_code=partner.code,
                              api_key=partner.keys["centre"], **rules),),
        passphrases={"*": PASSPHRASE}, send_every_s=0.1, retry_base_s=0.2, retry_max_s=0.5, timeout_s=2,
        session_ttl_s=60)
    return Settings(data_dir=city.data, city_code=city.code, linkage=link)


@pytest.fixture
def cities(tmp_path: Path) -> Iterator[tuple[City, City]]:
    espoo_clock = FakeClock(datetime.now(UTC))
    helsinki = _bootstrap("helsinki", tmp_path / "helsinki", lambda: datetime.now(UTC))
    espoo = _bootstrap("espoo", tmp_path / "espoo", espoo_clock)
    # Helsinki encrypts what it sends to Espoo; Espoo sends plain.
    helsinki.settings = _link(helsinki, espoo, codes=("119UC001", "DUCDP110"), passphrase=PASSPHRASE)
    espoo.settings = _link(espoo, helsinki)  # everything, so that a loop would show
    espoo.start()
    helsinki.start()
    try:
        yield helsinki, espoo
    finally:
        helsinki.stop()
        espoo.stop()


def _fire(status: str = "10", minute: int = 0, occurrence: str = "20261126090000001") -> dict[str, Any]:
    return {"code": "119UC001", "status": status, "occurrence": occurrence,
            "location": {"lon": SPOT[0], "lat": SPOT[1]}, "place": "Rautatientori",
            "time": (datetime(2026, 11, 26, 9, minute, tzinfo=UTC)).isoformat(),
            "sender": {"system": "119", "city": "helsinki"}}


def test_an_event_goes_to_the_partner_its_rules_name_and_never_comes_back(cities: tuple[City, City]) -> None:
    helsinki, espoo = cities
    assert helsinki.call("POST", "/api/v1/events", agency="fire", json=_fire()).status_code == 201
    robbery = {**_fire(), "code": "112UC001", "occurrence": "R-1"}  # not in Helsinki's rules for Espoo
    assert helsinki.call("POST", "/api/v1/events", agency="police", json=robbery).status_code == 201

    _until(lambda: helsinki.partners()["espoo"]["delivered"] == 1, "the fire call did not reach Espoo")
    [incident] = espoo.incidents("119UC001")
    [received] = [m for m in espoo.call("GET", "/api/v1/linkage/messages").json() if m["svc_ty"] == "EVENT"]
    assert received["encrypted"] and received["status"] == "processed"  # ARIA on the wire, read at Espoo
    event = incident["events"][0]["event"]
    assert event["sender"] == {"system": "IPC", "city": "helsinki"} and event["occurrence"] == "20261126090000001"
    assert incident["cameras"] and incident["grants"][0]["agency"] == "fire"  # Espoo acts on it as on its own
    assert {i["key"]: i["val"] for i in event["items"]}["LINK_TRAIL"] == "helsinki/119,helsinki/IPC"
    time.sleep(0.5)
    assert espoo.partners()["helsinki"]["pending"] + espoo.partners()["helsinki"]["delivered"] == 0  # no echo
    assert espoo.incidents("112UC001") == []


def test_an_event_for_the_other_city_is_forwarded_there(cities: tuple[City, City]) -> None:
    helsinki, espoo = cities
    auth = httpx.post(helsinki.url + "/api/getAuth.json", json={"svcTy": "AUTH", "body": {
        "apiKey": helsinki.keys["police"]}}).json()
    message = {"svcTy": "EVENT", "sendCd": "helsinki", "rcvCd": "espoo", "sysCd": "112", "encAt": "N",
               "rrKey": auth["message"], "tranSysHis": [{"cityCd": "helsinki", "sysCd": "112"}],
               "body": {"evtId": "112UC001", "ocrNbr": "20261126091500777", "ocrSts": "10",
                        "ocrLc": {"crdntX": str(SPOT[0]), "crdntY": str(SPOT[1])}, "ocrEvtTime": "20261126181500",
                        "ocrEvtItem": [{"key": "CRIME_TYPE", "val": "robbery"}]}}
    reply = httpx.post(helsinki.url + "/linkHttp/recvEvent.json", json=message).json()
    assert reply == {"startTag": "$DA", "endTag": "$DB", "finishTag": "$DF", "result": "0",
                     "message": "forwarded to espoo"}
    assert helsinki.incidents("112UC001") == []  # not Helsinki's to act on
    _until(lambda: len(espoo.incidents("112UC001")) == 1, "the forwarded report did not reach Espoo")
    [incident] = espoo.incidents("112UC001")
    assert incident["grants"][0]["agency"] == "police"

    # Sent round again (a misconfigured third system), it is refused instead of looping.
    message["tranSysHis"].append({"cityCd": "espoo", "sysCd": "IPC"})
    looped = httpx.post(helsinki.url + "/linkHttp/recvEvent.json", json=message)
    assert looped.status_code == 409 and "would loop" in looped.json()["message"]
    statuses = [m["status"] for m in helsinki.call("GET", "/api/v1/linkage/messages").json()]
    assert statuses.count("forwarded") == 1 and statuses.count("refused") == 1


def test_a_partner_that_is_down_gets_everything_later_in_order(cities: tuple[City, City]) -> None:
    helsinki, espoo = cities
    espoo.stop()
    for status, minute in (("10", 0), ("40", 5), ("91", 9)):
        assert helsinki.call("POST", "/api/v1/events", agency="fire", json=_fire(status, minute)).status_code == 201
    _until(lambda: helsinki.partners()["espoo"]["failures"] >= 2, "Helsinki did not keep trying")
    state = helsinki.partners()["espoo"]
    assert state["pending"] == 3 and state["delivered"] == 0 and "ConnectError" in state["last_error"]

    espoo.start()
    _until(lambda: helsinki.partners()["espoo"]["delivered"] == 3, "Espoo did not get the events once back")
    [incident] = espoo.incidents("119UC001")
    assert [e["event"]["status"] for e in incident["events"]] == ["10", "40", "91"]
    assert incident["ended_at"] is not None and helsinki.partners()["espoo"]["failures"] == 0


def test_an_expired_session_at_the_partner_is_renewed_on_the_way(cities: tuple[City, City]) -> None:
    helsinki, espoo = cities
    assert helsinki.call("POST", "/api/v1/events", agency="fire", json=_fire()).status_code == 201
    _until(lambda: helsinki.partners()["espoo"]["delivered"] == 1, "the first event did not arrive")
    clock = espoo.clock
    assert isinstance(clock, FakeClock)
    clock.advance(seconds=61)  # Espoo's session keys live 60 s
    assert helsinki.call("POST", "/api/v1/events", agency="fire", json=_fire("40", 5)).status_code == 201
    _until(lambda: helsinki.partners()["espoo"]["delivered"] == 2, "the second event did not arrive")
    received = espoo.call("GET", "/api/v1/linkage/messages").json()
    assert [(m["svc_ty"], m["status"]) for m in reversed(received)] == [
        ("AUTH", "processed"), ("EVENT", "processed"), ("EVENT", "auth_error"), ("AUTH", "processed"),
        ("EVENT", "processed")]
