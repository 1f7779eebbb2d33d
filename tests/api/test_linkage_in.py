"""The Korean linkage protocol, inbound: a linked system authenticates, delivers events that citylink acts on
exactly as on native ones (real senders' quirks included), encrypted or plain; every message is recorded with
what became of it and can be listed and replayed by an admin; malformed ones get a failure reply naming the
field, never a 500."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from citylink.adapters.scsns_cipher import encrypt_body
from citylink.api.app import create_app
from citylink.runtime.platform import Platform
from citylink.settings import LinkageSettings, Settings
from citylink.store import agency_repo
from citylink.store.tables import ApiKeyRow
from tests.conftest import FakeClock, Harness

FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "fixtures" / "scsns"
PASSPHRASE = "citylink-시흥-shared-secret"


def _fixture(name: str, session_key: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads((FIXTURES / name).read_text().replace("{rrKey}", session_key))
    return message


def _headers(svc: str = "EVENT", *, enc: str = "N") -> dict[str, str]:
    return {"X-Scsns-svcTy": svc, "X-Scsns-sendCd": "helsinki", "X-Scsns-rcvCd": "helsinki",
            "X-Scsns-sysCd": "112", "X-Scsns-encAt": enc, "X-Scsns-Secret": "", "X-Scsns-type": "sync",
            "Content-Type": "application/json"}


async def _auth(h: Harness, agency: str = "police") -> str:
    response = await h.client.post("/api/getAuth.json", headers=_headers("AUTH"), json={
        "svcTy": "AUTH", "sendCd": "helsinki", "rcvCd": "helsinki", "sysCd": "112", "encAt": "N",
        "body": {"apiKey": h.keys[agency]}})
    assert response.status_code == 200, response.text
    reply = response.json()
    assert (reply["startTag"], reply["endTag"], reply["finishTag"], reply["result"]) == ("$DA", "$DB", "$DF", "0")
    key: str = reply["message"]
    return key


async def _send(h: Harness, message: dict[str, Any] | bytes, *, enc: str = "N") -> httpx.Response:
    content = message if isinstance(message, bytes) else json.dumps(message, ensure_ascii=False).encode()
    return await h.client.post("/linkHttp/recvEvent.json", headers=_headers(enc=enc), content=content)


async def _messages(h: Harness, **params: Any) -> list[dict[str, Any]]:
    response = await h.client.get("/api/v1/linkage/messages", params=params, headers=h.auth("centre"))
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data",
                    linkage=LinkageSettings(session_ttl_s=600, passphrases={"fire": PASSPHRASE}))


async def test_a_112_server_authenticates_and_its_event_is_acted_on_like_a_native_one(harness: Harness) -> None:
    h = harness
    key = await _auth(h)
    response = await _send(h, _fixture("112_robbery.json", key))
    assert response.status_code == 200 and response.json()["result"] == "0", response.text
    await h.settle()

    [listed] = (await h.client.get("/api/v1/incidents", params={"code": "112UC001"}, headers=h.auth("centre"))).json()
    incident = await h.incident(listed["id"])
    assert incident["cameras"][0]["id"] == "sees" and incident["grants"][0]["agency"] == "police"
    assert (incident["place"], incident["grade"], incident["status"]) == ("Rautatientori", "10", "10")
    event = incident["events"][0]["event"]
    assert event["time"] == "2026-11-26T16:00:00+09:00" and event["sender"] == {"system": "112", "city": "helsinki"}
    items = {i["key"]: i["val"] for i in event["items"]}
    assert items["CRIME_TYPE"] == "robbery" and items["STATUS_USER_ID"] == "112-0042"
    assert event["detail"] == {"code": "robbery", "text": "강도"}

    # The same message again is the same event: intake is idempotent.
    again = await _send(h, _fixture("112_robbery.json", key))
    assert again.json()["result"] == "0"
    assert len((await h.incident(listed["id"]))["events"]) == 1

    [auth, first, second] = sorted(await _messages(h), key=lambda m: m["id"])
    assert (auth["svc_ty"], auth["status"], auth["agency"]) == ("AUTH", "processed", "police")
    assert h.keys["police"] not in auth["raw"] and "(redacted)" in auth["raw"]  # never a credential on record
    assert (first["status"], first["incident_id"], second["status"]) == ("processed", listed["id"], "processed")


async def test_real_senders_quirks_are_taken(harness: Harness) -> None:
    h = harness
    key = await _auth(h, "fire")
    for name, code in (("119_fire_numbers.json", "119UC001"), ("datahub_quirks.json", "WPSSF110")):
        response = await _send(h, _fixture(name, key))
        assert response.json() == {"startTag": "$DA", "endTag": "$DB", "finishTag": "$DF", "result": "0",
                                   "message": ""}, name
        await h.settle()
        [listed] = (await h.client.get("/api/v1/incidents", params={"code": code},
                                       headers=h.auth("centre"))).json()
        incident = await h.incident(listed["id"])
        items = {i["key"]: i["val"] for i in incident["events"][0]["event"]["items"]}
        if code == "119UC001":  # numbers as numbers, one item as an object
            assert incident["events"][0]["event"]["occurrence"] == "20261126160455001"
            assert items["FIRE_TYPE"] == "building" and incident["grants"][0]["agency"] == "fire"
        else:  # Body, ocrEvtUsr, tranSysHis as an object, milliseconds, no place or grade
            assert items["STATUS_USER_ID"] == "welfare-7" and items["LINK_TRAIL"] == "helsinki/DHB"
            assert incident["events"][0]["event"]["time"] == "2026-11-26T16:09:59.250000+09:00"
            assert incident["grade"] == "10" and incident["grants"][0]["agency"] == "police"


async def test_an_expired_session_is_refused_and_the_sender_authenticates_again(
        harness: Harness, clock: FakeClock) -> None:
    h = harness
    key = await _auth(h)
    clock.advance(seconds=601)
    refused = await _send(h, _fixture("112_robbery.json", key))
    assert refused.status_code == 401
    assert refused.json()["result"] == "1" and "rrKey" in refused.json()["message"]
    assert "authenticate again" in refused.json()["message"]

    fresh = await _auth(h)
    assert (await _send(h, _fixture("112_robbery.json", fresh))).json()["result"] == "0"
    # A revoked key ends its sessions too.
    h.platform.db.write_sync(lambda s: [agency_repo.revoke_key(s, key_id, now=clock.now) for key_id in s.scalars(
        select(ApiKeyRow.id).where(ApiKeyRow.agency_id == "police"))])
    later = await _send(h, _fixture("112_robbery.json", fresh))
    assert later.status_code == 401 and "revoked" in later.json()["message"]
    assert [m["status"] for m in await _messages(h, status="auth_error")] == ["auth_error", "auth_error"]


async def test_an_encrypted_message_is_taken_and_a_wrong_passphrase_is_a_recorded_decryption_error(
        harness: Harness) -> None:
    h = harness
    key = await _auth(h, "fire")
    message = _fixture("119_fire_numbers.json", key)
    plain_body = json.dumps(message["body"], ensure_ascii=False).encode()
    message.update(encAt="Y", body=encrypt_body(plain_body, PASSPHRASE))
    response = await _send(h, message, enc="Y")
    assert response.json()["result"] == "0", response.text

    message["body"] = encrypt_body(plain_body, "not the passphrase")
    message["body"] = message["body"]
    wrong = await _send(h, message, enc="Y")
    assert (wrong.status_code, wrong.json()["result"]) == (400, "1")
    assert wrong.json()["message"].startswith("decryption_error: body: ")
    police = await _auth(h, "police")  # no passphrase configured for the police
    message.update(rrKey=police)
    unconfigured = await _send(h, message, enc="Y")
    assert unconfigured.json()["message"] == "decryption_error: encAt: no passphrase is configured for police"
    assert len(await _messages(h, status="decryption_error")) == 2
    assert len(await _messages(h, status="processed")) == 3  # two authentications and the event


def _broken(key: str) -> list[tuple[str, bytes | dict[str, Any], int, str]]:
    good = _fixture("112_robbery.json", key)

    def without(*path: str) -> dict[str, Any]:
        message = json.loads(json.dumps(good))
        target = message
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]
        return message

    def with_(value: Any, *path: str) -> dict[str, Any]:
        message = json.loads(json.dumps(good))
        target = message
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        return message

    return [
        ("not JSON", b"<xml>nope</xml>", 400, "parse_error"),
        ("a JSON list", b"[1, 2]", 400, "parse_error"),
        ("no event code", without("body", "evtId"), 400, "parse_error: body.evtId: the event code is missing"),
        ("no occurrence number", without("body", "ocrNbr"), 400, "parse_error: body.ocrNbr: "),
        ("no location", without("body", "ocrLc"), 400, "parse_error: body.ocrLc: "),
        ("a location that is not a number", with_("east", "body", "ocrLc", "crdntX"), 400,
         "parse_error: body.ocrLc.crdntX: "),
        ("a location off the earth", with_("200.5", "body", "ocrLc", "crdntX"), 400, "parse_error: body.ocrLc: "),
        ("an unknown code", with_("ZZZUC999", "body", "evtId"), 422, "unknown_code: body.evtId: unknown event code"),
        ("an unknown status", with_("77", "body", "ocrSts"), 400, "parse_error: body.ocrSts: "),
        ("a bad time", with_("2026-11-26 16:00", "body", "ocrEvtTime"), 400, "parse_error: body.ocrEvtTime: "),
        ("a body that is not an object", with_("hello", "body"), 400, "parse_error: body: "),
        ("items that are not a list", with_("x", "body", "ocrEvtItem"), 400, "parse_error: body.ocrEvtItem: "),
        ("the wrong service type", with_("AUTH", "svcTy"), 400, "parse_error: svcTy: "),
        ("no session key", without("rrKey"), 401, "auth_error: rrKey: no session key"),
        ("a forged session key", with_("eyJhbGciOiJIUzI1NiJ9.e30.x", "rrKey"), 401, "auth_error: rrKey: "),
        ("a status going backwards", with_("20261126162000", "body", "ocrEvtTime"), 409,
         "refused: body.ocrSts: incident already ended; status 10 is not accepted"),
    ]


async def test_malformed_messages_of_every_kind_get_a_failure_reply_and_are_recorded(harness: Harness) -> None:
    h = harness
    key = await _auth(h)
    ended = _fixture("112_robbery.json", key)
    ended["body"].update(ocrSts="91", ocrEvtTime="20261126161000")
    assert (await _send(h, _fixture("112_robbery.json", key))).json()["result"] == "0"
    assert (await _send(h, ended)).json()["result"] == "0"
    await h.settle()
    for what, message, status, reply in _broken(key):
        response = await _send(h, message)
        assert response.status_code == status, (what, response.text)
        body = response.json()
        assert body["result"] == "1" and body["message"].startswith(reply), (what, body)
        assert set(body) == {"startTag", "endTag", "finishTag", "result", "message"}
    recorded = await _messages(h)
    assert len(recorded) == 1 + 2 + len(_broken(key))
    assert {m["status"] for m in recorded} == {"processed", "parse_error", "unknown_code", "auth_error", "refused"}
    assert (await h.client.get("/api/v1/linkage/messages", headers=h.auth("police"))).status_code == 403


async def test_a_recorded_message_is_replayed_once_its_passphrase_is_configured(tmp_path: Path,
                                                                                clock: FakeClock) -> None:
    data = tmp_path / "data"
    async with _Served(Settings(data_dir=data), clock) as h:
        key = await _auth(h, "fire")
        message = _fixture("119_fire_numbers.json", key)
        message.update(encAt="Y", body=encrypt_body(json.dumps(message["body"]).encode(), PASSPHRASE))
        refused = await _send(h, message, enc="Y")
        assert refused.json()["message"] == "decryption_error: encAt: no passphrase is configured for fire"
        [recorded] = await _messages(h, status="decryption_error")

    # The admin configures the fire service's passphrase and replays what it sent.
    async with _Served(Settings(data_dir=data, linkage=LinkageSettings(passphrases={"*": PASSPHRASE})), clock) as h:
        replayed = await h.client.post(f"/api/v1/linkage/messages/{recorded['id']}/replay", headers=h.auth("centre"))
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["status"] == "processed" and replayed.json()["replayed_at"]
        await h.settle()
        [listed] = (await h.client.get("/api/v1/incidents", params={"code": "119UC001"},
                                       headers=h.auth("centre"))).json()
        assert listed["id"] == replayed.json()["incident_id"]
        auth = (await _messages(h, status="processed"))[-1]
        denied = await h.client.post(f"/api/v1/linkage/messages/{auth['id']}/replay", headers=h.auth("centre"))
        assert denied.status_code == 409
        assert (await h.client.post("/api/v1/linkage/messages/999/replay",
                                    headers=h.auth("centre"))).status_code == 404


class _Served:
    """A platform behind its HTTP API on a data directory, for tests that restart it."""

    def __init__(self, settings: Settings, clock: FakeClock) -> None:
        self._settings = settings
        self._clock = clock

    async def __aenter__(self) -> Harness:
        platform = Platform.open(self._settings, clock=self._clock)
        self._app = create_app(self._settings, platform_factory=lambda _: platform)
        self._lifespan = self._app.router.lifespan_context(self._app)
        await self._lifespan.__aenter__()
        keys = json.loads((self._settings.data_dir / "bootstrap-keys.json").read_text())
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self._app), base_url="http://t")
        return Harness(platform, self._client, keys)

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)


def test_dates_are_seoul_time() -> None:
    from citylink.adapters.scsns import format_time, parse_time

    at = parse_time("20261126160000", field="t")
    assert at.utcoffset() == timedelta(hours=9) and format_time(at) == "20261126160000"
