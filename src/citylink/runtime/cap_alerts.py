"""CAP 1.2 out and in. Out: the events of the published codes (disaster, air quality, weather by default) as CAP
alerts, at a feed and pushed to each configured receiver in order (the events table is the log; each receiver's
progress is kept in the store, so a receiver that was down gets what it missed). In: an alert from a national
weather or disaster system taken in as a disaster event through the ordinary intake.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.orm import Session

from citylink.adapters.cap import CapProfile, alert_from_incident, event_from_alert, reference_to
from citylink.domain.events import Event
from citylink.runtime.backoff import backoff
from citylink.runtime.clock import Clock
from citylink.runtime.intake import Accepted, Submit
from citylink.runtime.periodic import Periodic
from citylink.settings import Settings
from citylink.store import cap_repo
from citylink.store.database import Database
from citylink.store.tables import CapReceiverRow, EventRow

log = logging.getLogger(__name__)

BATCH = 50
TIMEOUT_S = 10.0
RETRY_FIRST_S = 2.0
RETRY_MAX_S = 300.0


class CapAlerts:
    def __init__(self, db: Database, *, settings: Settings, submit: Submit, clock: Clock) -> None:
        cap = settings.cap
        self._db = db
        self._settings = cap
        self._city = settings.city_code
        self._submit = submit
        self._clock = clock
        self.codes = frozenset(cap.codes)
        self.profile = CapProfile(sender=cap.sender or f"citylink@{settings.city_code}", sender_name=cap.sender_name,
                                  language=cap.language, tz=ZoneInfo(settings.timezone),
                                  default_radius_m=cap.default_radius_m,
                                  expires_after=timedelta(seconds=cap.expires_after_s) if cap.expires_after_s
                                  else None)
        self._client = httpx.AsyncClient(timeout=TIMEOUT_S)
        self.pusher = Periodic("CAP push", cap.send_every_s, self.push_round)

    async def close(self) -> None:
        await self._client.aclose()

    # -- out ---------------------------------------------------------------------------------------------------

    def alert(self, session: Session, row: EventRow) -> bytes:
        """The CAP message of a stored event, referencing the messages of the incident's earlier events."""
        references = [reference_to(Event.model_validate(e.payload), profile=self.profile)
                      for e in cap_repo.earlier(session, row)]
        return alert_from_incident(Event.model_validate(row.payload), profile=self.profile, references=references)

    async def push_round(self) -> int:
        """Push every receiver what it has not had yet, oldest first; how many alerts went."""
        pushed = 0
        for url in self._settings.receivers:
            pushed += await self._push(url)
        return pushed

    async def _push(self, url: str) -> int:
        known = await self._db.read(lambda s: cap_repo.progress(s, url))
        if known is not None and not await self._db.read(
                lambda s: cap_repo.after(s, self.codes, seq=known.last_seq, limit=1)):
            return 0  # nothing new: no write, no lease (this runs every send_every_s)
        now = self._clock()
        state = await self._db.write(lambda s: cap_repo.claim_receiver(
            s, url, now=now, until=now + timedelta(seconds=TIMEOUT_S * 3)))
        if state is None:
            return 0
        pushed, seq, error = 0, state.last_seq, ""
        while batch := await self._db.read(functools.partial(self._alerts_after, seq=seq)):
            for event_seq, xml in batch:
                error = await self._post(url, xml)
                if error:
                    break
                seq, pushed = event_seq, pushed + 1
            if error:
                break
        await self._db.write(lambda s: self._progress(s, url, seq, error))
        return pushed

    def _alerts_after(self, session: Session, *, seq: int) -> list[tuple[int, bytes]]:
        return [(row.seq, self.alert(session, row)) for row in cap_repo.after(session, self.codes, seq=seq,
                                                                              limit=BATCH)]

    async def _post(self, url: str, xml: bytes) -> str:
        try:
            response = await self._client.post(url, content=xml, headers={"Content-Type": "application/cap+xml"})
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return "" if response.status_code < 300 else f"HTTP {response.status_code}"

    def _progress(self, session: Session, url: str, seq: int, error: str) -> None:
        row = session.get(CapReceiverRow, url)
        assert row is not None
        now = self._clock()
        if seq > row.last_seq:
            row.last_seq, row.delivered_at = seq, now
        row.lease_until, row.last_error = None, error
        if error:
            row.failures += 1
            row.next_attempt_at = now + backoff(row.failures, first_s=RETRY_FIRST_S, longest_s=RETRY_MAX_S)
            log.warning("CAP receiver %s: %s; trying again later", url, error)
        else:
            row.failures, row.next_attempt_at = 0, None

    # -- in ----------------------------------------------------------------------------------------------------

    async def take(self, xml: bytes, *, received_by: str, correlation_id: str) -> tuple[Event, Accepted]:
        """An inbound alert as an event through intake; CapRejected when it cannot be taken."""
        event = event_from_alert(xml, city=self._city, language=self._settings.inbound_language,
                                 max_bytes=self._settings.max_alert_bytes)
        return event, await self._submit(event, received_by=received_by, correlation_id=correlation_id)
