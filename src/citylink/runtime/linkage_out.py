"""Sending over the linkage protocol: each partner's events delivered in order from the durable outbox.

The services' transaction puts an event in a partner's outbox (the linkage service, per the partner's codes,
grade and area); an event for another city is put there by intake of the linkage protocol. Workers deliver:
one worker holds a partner at a time (a lease in the store), authenticates when it has no session key there,
sends the oldest pending event, and on a refused session authenticates once more and sends again. A partner
that is down (no answer, 5xx) is retried with a doubling wait and nothing behind its oldest event goes first, so
events arrive in order once it is back. An event the partner refuses for good (a failure reply that is not
about the session) is marked refused with the reply and the next one goes.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.orm import Session

from citylink.adapters import scsns
from citylink.adapters.scsns_cipher import BodyEncoding, encrypt_body
from citylink.domain.events import Event
from citylink.runtime.backoff import backoff
from citylink.runtime.clock import Clock
from citylink.runtime.periodic import Periodic
from citylink.settings import LinkageSettings, LinkPartner
from citylink.store import linkage_repo
from citylink.store.database import Database
from citylink.store.tables import LinkOutboxRow, LinkPartnerRow

log = logging.getLogger(__name__)

BATCH = 50
AUTH_PATH = "/api/getAuth.json"
EVENT_PATH = "/linkHttp/recvEvent.json"
# Words a failure reply uses when the session is the problem; other platforms word it their own way.
_SESSION_WORDS = ("rrkey", "session", "auth", "인증", "세션")


class _PartnerDown(Exception):
    """No answer, or one that says the partner cannot take anything now: wait and try again."""


@dataclass(frozen=True, slots=True)
class _Sent:
    ok: bool
    session_refused: bool
    message: str


class LinkageOut:
    def __init__(self, db: Database, *, settings: LinkageSettings, city: str, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._city = city
        self._clock = clock
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._client = httpx.AsyncClient(timeout=settings.timeout_s)
        self.sender = Periodic("linkage delivery", settings.send_every_s, self.deliver_round)

    async def close(self) -> None:
        await self._client.aclose()

    async def deliver_round(self) -> int:
        """Deliver what is due to every partner; how many events were delivered."""
        delivered = 0
        for partner in self._settings.partners:
            delivered += await self._deliver(partner)
        return delivered

    async def _deliver(self, partner: LinkPartner) -> int:
        if not await self._db.read(lambda s: linkage_repo.pending(s, partner.id, limit=1)):
            return 0  # nothing to send: no write, no lease (this runs every send_every_s)
        lease = timedelta(seconds=self._settings.timeout_s * 3)
        now = self._clock()
        state = await self._db.write(lambda s: linkage_repo.claim_partner(s, partner.id, owner=self._owner, now=now,
                                                                          until=now + lease))
        if state is None:
            return 0
        session_key, delivered = state.session_key, 0
        try:
            while rows := await self._db.read(lambda s: linkage_repo.pending(s, partner.id, limit=BATCH)):
                for row in rows:
                    session_key, sent = await self._send(partner, row, session_key)
                    at = self._clock()
                    await self._db.write(functools.partial(_record, seq=row.seq, partner=partner.id, sent=sent,
                                                           session_key=session_key, now=at, lease_until=at + lease))
                    delivered += sent.ok
        except _PartnerDown as exc:
            error = str(exc)
            await self._db.write(lambda s: self._back_off(s, partner.id, error))
            log.warning("linkage partner %s: %s; retrying later", partner.id, error)
            return delivered
        await self._db.write(lambda s: _release(s, partner.id))
        return delivered

    async def _send(self, partner: LinkPartner, row: LinkOutboxRow,
                    session_key: str | None) -> tuple[str | None, _Sent]:
        event = Event.model_validate(row.event)
        for attempt in range(2):
            if session_key is None:
                session_key = await self._authenticate(partner)
            sent = await self._post_event(partner, event, tuple(row.trail), session_key)
            if not sent.session_refused or attempt:
                return session_key, sent
            session_key = None  # expired or unknown there: authenticate again, once
        raise AssertionError("unreachable")

    async def _authenticate(self, partner: LinkPartner) -> str:
        message = scsns.envelope_message(svc_ty="AUTH", send_cd=self._city, rcv_cd=partner.city_code,
                                         sys_cd=self._settings.system_code, rr_key="", trail=(),
                                         body={"apiKey": partner.api_key.get_secret_value()}, encrypted=False,
                                         now=self._clock())
        reply = await self._post(partner, AUTH_PATH, "AUTH", message, encrypted=False)
        if reply.get("result") != "0" or not reply.get("message"):
            raise _PartnerDown(f"authentication refused: {str(reply.get('message', ''))[:200]}")
        return str(reply["message"])

    async def _post_event(self, partner: LinkPartner, event: Event, trail: tuple[str, ...], session_key: str) -> _Sent:
        body = scsns.event_body(event)
        passphrase = partner.passphrase.get_secret_value() if partner.passphrase else None
        carried: object = body
        if passphrase is not None:
            carried = encrypt_body(json.dumps(body, ensure_ascii=False).encode(), passphrase,
                                   BodyEncoding(self._settings.body_encoding))
        message = scsns.envelope_message(svc_ty="EVENT", send_cd=self._city, rcv_cd=partner.city_code,
                                         sys_cd=self._settings.system_code, rr_key=session_key, trail=trail,
                                         body=carried, encrypted=passphrase is not None, now=self._clock())
        reply = await self._post(partner, EVENT_PATH, "EVENT", message, encrypted=passphrase is not None,
                                 refusals_are_answers=True)
        text = str(reply.get("message", ""))
        ok = reply.get("result") == "0"
        refused_session = not ok and (reply.get("_status") in (401, 403)
                                      or any(w in text.lower() for w in _SESSION_WORDS))
        return _Sent(ok, refused_session, text[:500])

    async def _post(self, partner: LinkPartner, path: str, svc_ty: str, message: dict[str, object], *,
                    encrypted: bool, refusals_are_answers: bool = False) -> dict[str, object]:
        headers = scsns.headers(svc_ty=svc_ty, send_cd=self._city, rcv_cd=partner.city_code,
                                sys_cd=self._settings.system_code, encrypted=encrypted)
        try:
            response = await self._client.post(partner.url.rstrip("/") + path, headers=headers,
                                               content=json.dumps(message, ensure_ascii=False).encode())
        except httpx.HTTPError as exc:
            raise _PartnerDown(f"{type(exc).__name__} on {path}") from None
        if response.status_code >= 500 or (response.status_code >= 400 and not refusals_are_answers):
            raise _PartnerDown(f"HTTP {response.status_code} on {path}")
        try:
            reply = response.json()
        except ValueError:
            raise _PartnerDown(f"HTTP {response.status_code} on {path} without a protocol reply") from None
        if not isinstance(reply, dict):
            raise _PartnerDown(f"HTTP {response.status_code} on {path}: the reply is not a JSON object")
        return {**reply, "_status": response.status_code}

    def _back_off(self, session: Session, partner: str, error: str) -> None:
        row = session.get(LinkPartnerRow, partner)
        assert row is not None
        row.failures += 1
        row.next_attempt_at = self._clock() + backoff(row.failures, first_s=self._settings.retry_base_s,
                                                      longest_s=self._settings.retry_max_s)
        row.last_error, row.lease_until, row.lease_owner = error[:500], None, None


def _record(session: Session, seq: int, partner: str, sent: _Sent, session_key: str | None, *, now: datetime,
            lease_until: datetime) -> None:
    row = session.get(LinkOutboxRow, seq)
    state = session.get(LinkPartnerRow, partner)
    assert row is not None and state is not None
    row.attempts += 1
    if sent.ok:
        row.state, row.delivered_at, row.last_error = "delivered", now, ""
        state.delivered_at = now
    else:
        row.state, row.last_error = "refused", sent.message
        log.warning("linkage partner %s refused event %s: %s", partner, row.event_id, sent.message[:200])
    state.session_key, state.failures, state.last_error, state.lease_until = session_key, 0, "", lease_until


def _release(session: Session, partner: str) -> None:
    state = session.get(LinkPartnerRow, partner)
    if state is not None:
        state.lease_until, state.lease_owner = None, None
