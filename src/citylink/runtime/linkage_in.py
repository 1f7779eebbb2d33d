"""Receiving over the linkage protocol: session keys for linked systems, and their event messages taken in as
native events (so every service acts on them exactly as on a native event), or forwarded when they are for
another city. Every message is recorded with what became of it; an admin can list and replay them.

A linked system authenticates with the API key of its citylink agency (``body.apiKey``); the session key it
gets back is a signed claim of that agency and key, valid ``linkage.session_ttl_s``, refused as soon as the key
is revoked. The message is recorded in the same way whatever happens to it, so nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from citylink.adapters import scsns
from citylink.adapters.scsns import Envelope, LinkRejected, LinkStatus
from citylink.adapters.scsns_cipher import BodyEncoding, DecryptionError, decrypt_body
from citylink.auth.sessions import SessionError, SessionSigner
from citylink.domain.agencies import Principal
from citylink.domain.events import Event
from citylink.domain.linkage import extended, passed_through
from citylink.runtime.clock import Clock
from citylink.runtime.intake import Accepted, IntakeRejected, SubmitRecorded
from citylink.settings import LinkageSettings
from citylink.store import agency_repo, linkage_repo
from citylink.store.database import Database
from citylink.store.tables import LinkMessageRow

log = logging.getLogger(__name__)

RAW_KEPT = 65_536
AUTH_HINT = "authenticate again (POST /api/getAuth.json)"


@dataclass(frozen=True, slots=True)
class _Seen:
    """When a message came, whose session it carried, and which record it replays (None: a new one)."""

    now: datetime
    agency: str | None = None
    replay_of: int | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP status and the protocol reply for a message."""

    status_code: int
    reply: dict[str, str]
    message_id: int | None = None


_HTTP = {LinkStatus.PROCESSED: 200, LinkStatus.FORWARDED: 200, LinkStatus.PARSE_ERROR: 400,
         LinkStatus.DECRYPTION_ERROR: 400, LinkStatus.UNKNOWN_CODE: 422, LinkStatus.AUTH_ERROR: 401,
         LinkStatus.REFUSED: 409, LinkStatus.NO_ROUTE: 422}


class _Recorder:
    """Records messages in batches: every reply waits for its record's commit, and the messages that arrive
    while one commit runs share the next (one commit per message held the protocol to a third of the native
    API's rate, measured)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: list[tuple[dict[str, object], asyncio.Future[int]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, values: dict[str, object]) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((values, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                ids = await self._db.write(functools.partial(_record_all, [values for values, _ in batch]))
            except Exception as exc:  # every waiting reply gets the failure: none is answered unrecorded
                for _, future in batch:
                    future.set_exception(exc)
            else:
                for (_, future), message_id in zip(batch, ids, strict=True):
                    future.set_result(message_id)


def _record_all(values: list[dict[str, object]], session: Session) -> list[int]:
    return [linkage_repo.record(session, v) for v in values]


class LinkageIn:
    def __init__(self, db: Database, *, settings: LinkageSettings, city: str, sessions: SessionSigner,
                 submit: SubmitRecorded, clock: Clock) -> None:
        self._db = db
        self._recorder = _Recorder(db)
        self._settings = settings
        self._city = city
        self._sessions = sessions
        self._submit = submit
        self._clock = clock

    # -- authentication ----------------------------------------------------------------------------------------

    async def authenticate(self, raw: bytes, headers: Mapping[str, str]) -> Answer:
        seen = _Seen(self._clock())
        kept = _redacted(raw)  # the record must not hold a credential
        try:
            envelope = scsns.read_envelope(raw, headers)
        except LinkRejected as exc:
            return await self._record(_shell(headers), kept, exc.status, exc.field, exc.reason, seen)
        body = envelope.body if isinstance(envelope.body, Mapping) else {}
        key = str(body.get("apiKey") or "")
        if not key:
            return await self._record(envelope, kept, LinkStatus.PARSE_ERROR, "body.apiKey",
                                      "the API key is missing", seen)
        principal = await self._db.read(lambda s: agency_repo.authenticate(s, key))
        if principal is None:
            return await self._record(envelope, kept, LinkStatus.AUTH_ERROR, "body.apiKey",
                                      "API key not recognised or revoked", seen)
        token = self._sessions.sign(principal, now=seen.now)
        answer = await self._record(envelope, kept, LinkStatus.PROCESSED, "", "", _Seen(seen.now, principal.agency))
        return Answer(200, scsns.reply(True, token), answer.message_id)

    # -- events ------------------------------------------------------------------------------------------------

    async def receive(self, raw: bytes, headers: Mapping[str, str]) -> Answer:
        seen = _Seen(self._clock())
        try:
            envelope = scsns.read_envelope(raw, headers)
        except LinkRejected as exc:
            return await self._record(_shell(headers), raw, exc.status, exc.field, exc.reason, seen)
        try:
            principal = await self._principal(envelope.rr_key, now=seen.now)
        except LinkRejected as exc:
            return await self._record(envelope, raw, exc.status, exc.field, exc.reason, seen)
        return await self._take(envelope, raw, _Seen(seen.now, principal.agency))

    async def replay(self, message_id: int) -> LinkMessageRow:
        """Take a recorded message in again as its sender's agency (after a passphrase or a code was added)."""
        row = await self._db.read(lambda s: linkage_repo.message(s, message_id))
        if row is None:
            raise LookupError(message_id)
        if row.agency is None or row.svc_ty == "AUTH":
            raise ValueError(f"message {message_id} was not an authenticated event message: the sender must send it "
                             "again")
        raw = row.raw.encode()
        await self._take(scsns.read_envelope(raw, {}), raw, _Seen(self._clock(), row.agency, message_id))
        replayed = await self._db.read(lambda s: linkage_repo.message(s, message_id))
        assert replayed is not None
        return replayed

    async def _take(self, envelope: Envelope, raw: bytes, seen: _Seen) -> Answer:
        assert seen.agency is not None
        try:
            if envelope.svc_ty not in ("EVENT", "PREEVT"):
                raise LinkRejected(LinkStatus.PARSE_ERROR, "svcTy", f"expected EVENT or PREEVT on this endpoint, "
                                   f"not {envelope.svc_ty[:16]!r}")
            body = self._decrypted(envelope, seen.agency)
            event = scsns.body_event(body, envelope, received_at=seen.now)
        except LinkRejected as exc:
            return await self._record(envelope, raw, exc.status, exc.field, exc.reason, seen)
        if envelope.rcv_cd and envelope.rcv_cd != self._city:
            return await self._forward(envelope, raw, event, seen)
        recorded: list[int] = []

        def record(session: Session, result: Accepted | IntakeRejected) -> None:
            """In intake's transaction: the message is recorded with the event it became, or why it did not."""
            if isinstance(result, Accepted):
                values = _values(envelope, raw, LinkStatus.PROCESSED, "", "", seen, event=event,
                                 incident_id=result.incident_id)
            else:
                values = _values(envelope, raw, LinkStatus.REFUSED, "body.ocrSts", result.reason, seen)
            recorded.append(linkage_repo.record(session, values))

        try:
            await self._submit(event, received_by=seen.agency, correlation_id=f"link-{uuid.uuid4().hex}",
                               record=record)
        except IntakeRejected as exc:
            return _answer(LinkStatus.REFUSED, "body.ocrSts", exc.reason, recorded[0], envelope)
        return _answer(LinkStatus.PROCESSED, "", "", recorded[0], envelope)

    async def _forward(self, envelope: Envelope, raw: bytes, event: Event, seen: _Seen) -> Answer:
        """Wide-area linkage: an event for another city goes to that city's platform, unless it was there."""
        partner = self._settings.partner_for_city(envelope.rcv_cd)
        if partner is None:
            return await self._record(envelope, raw, LinkStatus.NO_ROUTE, "rcvCd",
                                      f"no link to city {envelope.rcv_cd[:64]!r}", seen)
        us = f"{self._city}/{self._settings.system_code}"
        # Never back to a city it came from, and never through this platform twice.
        if passed_through(envelope.trail, partner.city_code) or us in envelope.trail:
            return await self._record(envelope, raw, LinkStatus.REFUSED, "tranSysHis",
                                      f"the message already passed through {partner.city_code} or {us}: "
                                      "forwarding it again would loop", seen)
        trail = extended(envelope.trail, f"{envelope.send_cd}/{envelope.sys_cd}", us)
        values = _values(envelope, raw, LinkStatus.FORWARDED, "", f"forwarded to {partner.id}", seen, event=event)

        def forward(session: Session) -> int:
            linkage_repo.enqueue(session, partner.id, event, trail=trail, now=seen.now)
            return linkage_repo.record(session, values)

        message_id = await self._db.write(forward)
        return Answer(200, scsns.reply(True, f"forwarded to {envelope.rcv_cd}"), message_id)

    # -- helpers -----------------------------------------------------------------------------------------------

    async def _principal(self, rr_key: str, *, now: datetime) -> Principal:
        if not rr_key:
            raise LinkRejected(LinkStatus.AUTH_ERROR, "rrKey", f"no session key; {AUTH_HINT}")
        try:
            principal = self._sessions.verify(rr_key, now=now)
        except SessionError:
            raise LinkRejected(LinkStatus.AUTH_ERROR, "rrKey", f"unknown or expired session key; {AUTH_HINT}") \
                from None
        if not await self._db.read(lambda s: agency_repo.key_active(s, principal.key_id)):
            raise LinkRejected(LinkStatus.AUTH_ERROR, "rrKey", f"the API key behind this session was revoked; "
                               f"{AUTH_HINT}")
        return principal

    def _decrypted(self, envelope: Envelope, agency: str) -> object:
        if not envelope.encrypted:
            return envelope.body
        if not isinstance(envelope.body, str):
            raise LinkRejected(LinkStatus.DECRYPTION_ERROR, "body", "encAt is Y but the body is not ciphertext text")
        passphrase = self._settings.passphrase_of(agency)
        if passphrase is None:
            raise LinkRejected(LinkStatus.DECRYPTION_ERROR, "encAt", f"no passphrase is configured for {agency}")
        try:
            plain = decrypt_body(envelope.body, passphrase, BodyEncoding(self._settings.body_encoding))
            return json.loads(plain)
        except DecryptionError as exc:
            raise LinkRejected(LinkStatus.DECRYPTION_ERROR, "body", str(exc)) from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise LinkRejected(LinkStatus.DECRYPTION_ERROR, "body", "decrypted, the body is not JSON: wrong "
                               "passphrase?") from None

    async def _record(self, envelope: Envelope, raw: bytes, status: LinkStatus, field: str, reason: str,
                      seen: _Seen, *, event: Event | None = None, incident_id: str | None = None) -> Answer:
        message_id = await self._recorder.record(_values(envelope, raw, status, field, reason, seen, event=event,
                                                         incident_id=incident_id))
        return _answer(status, field, reason, message_id, envelope)


def _answer(status: LinkStatus, field: str, reason: str, message_id: int, envelope: Envelope) -> Answer:
    if status is not LinkStatus.PROCESSED:
        log.info("linkage message %s from %s: %s %s", message_id, envelope.send_cd[:64] or "?", status.value, field)
    where = f"{field}: " if field else ""
    message = "" if status is LinkStatus.PROCESSED else f"{status.value}: {where}{reason}"
    return Answer(_HTTP[status], scsns.reply(status is LinkStatus.PROCESSED, message), message_id)


def _values(envelope: Envelope, raw: bytes, status: LinkStatus, field: str, reason: str, seen: _Seen, *,
            event: Event | None = None, incident_id: str | None = None) -> dict[str, object]:
    return {"id": seen.replay_of, "received_at": seen.now, "svc_ty": envelope.svc_ty[:16],
            "send_cd": envelope.send_cd[:64], "rcv_cd": envelope.rcv_cd[:64], "sys_cd": envelope.sys_cd[:32],
            "agency": seen.agency,
            "encrypted": envelope.encrypted, "status": status.value, "field": field[:128], "reason": reason,
            "raw": raw[:RAW_KEPT].decode("utf-8", errors="replace"), "raw_bytes": len(raw),
            "event_id": event.event_id if event else None,
            "incident_id": incident_id or (event.incident_id if event else None)}


def _shell(headers: Mapping[str, str]) -> Envelope:
    """What the headers say of a message whose JSON could not be read."""
    def header(name: str) -> str:
        return str(headers.get(f"x-scsns-{name.lower()}", ""))

    return Envelope(svc_ty=header("svcTy").upper(), send_cd=header("sendCd"), rcv_cd=header("rcvCd"),
                    sys_cd=header("sysCd"), encrypted=header("encAt").upper() == "Y", rr_key="", trail=(), body=None)


def _redacted(raw: bytes) -> bytes:
    """An authentication message without its API key: the record must not hold a credential."""
    try:
        message = json.loads(raw)
        for name in ("body", "Body"):
            if isinstance(message, dict) and isinstance(message.get(name), dict) and "apiKey" in message[name]:
                message[name]["apiKey"] = "(redacted)"
        return json.dumps(message, ensure_ascii=False).encode()
    except (UnicodeDecodeError, json.JSONDecodeError):
        return b"(not JSON; not kept: it may hold a credential)"
