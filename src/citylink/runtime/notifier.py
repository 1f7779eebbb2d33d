"""Delivers the notification outbox: POST to each target, retry with exponential backoff, never lose one."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.runtime.backoff import backoff
from citylink.runtime.clock import Clock
from citylink.runtime.periodic import Periodic
from citylink.settings import NotifySettings
from citylink.store.database import Database
from citylink.store.tables import IncidentRow, NotificationRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Job:
    id: str
    url: str
    body: dict[str, object]
    attempts: int


class Notifier:
    def __init__(self, db: Database, *, settings: NotifySettings, clock: Clock,
                 client: httpx.AsyncClient | None = None, poll_s: float = 1.0) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._client = client or httpx.AsyncClient(timeout=settings.timeout_s)
        self._rounds = Periodic("notification delivery", poll_s, self.deliver_due)

    async def start(self) -> None:
        self._rounds.start()

    async def stop(self) -> None:
        """Stop the background rounds; deliver_due still works when called directly."""
        await self._rounds.stop()

    async def close(self) -> None:
        await self.stop()
        await self._client.aclose()

    def wake(self) -> None:
        self._rounds.wake()

    async def deliver_due(self) -> int:
        """One round: deliver everything due now. Returns how many were attempted."""
        jobs = await self._db.write(self._claim)
        for job in jobs:
            error = await self._post(job)
            await self._db.write(functools.partial(self._record, job=job, error=error))
        return len(jobs)

    def _claim(self, session: Session) -> list[_Job]:
        """Take what is due, and lease it: with several workers, each notification goes out from one of them.
        Rows another worker is claiming are skipped (PostgreSQL); a lease that runs out (its worker died before
        recording the attempt) makes the notification due again, so none is lost."""
        now = self._clock()
        rows = session.execute(
            select(NotificationRow, IncidentRow.code, IncidentRow.lon, IncidentRow.lat)
            .join(IncidentRow, IncidentRow.id == NotificationRow.incident_id)
            .where(NotificationRow.status == "pending", NotificationRow.next_attempt_at <= now)
            .order_by(NotificationRow.next_attempt_at).limit(100)
            .with_for_update(of=NotificationRow, skip_locked=True)).all()
        # Long enough for this round to post every one of them, each up to its timeout.
        lease_until = now + timedelta(seconds=self._settings.timeout_s * (len(rows) + 1))
        jobs = []
        for note, code, lon, lat in rows:
            note.next_attempt_at = lease_until
            body: dict[str, object] = {"notification_id": note.id, "incident_id": note.incident_id, "code": code,
                                       "recipient": note.recipient, "message": note.message,
                                       "location": {"lon": lon, "lat": lat}}
            if note.contact:
                body["contact"] = note.contact
            jobs.append(_Job(note.id, note.target_url or "", body, note.attempts))
        return jobs

    async def _post(self, job: _Job) -> str | None:
        try:
            response = await self._client.post(job.url, json=job.body,
                                               headers={"Idempotency-Key": job.id})
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code >= 300:
            return f"HTTP {response.status_code}"
        return None

    def _record(self, session: Session, *, job: _Job, error: str | None) -> None:
        note = session.get(NotificationRow, job.id)
        if note is None:
            return
        now = self._clock()
        note.attempts = job.attempts + 1
        if error is None:
            note.status, note.delivered_at, note.next_attempt_at, note.last_error = "delivered", now, None, ""
            return
        note.last_error = error
        if note.attempts >= self._settings.max_attempts:
            note.status, note.next_attempt_at = "failed", None
            log.warning("notification %s gave up after %d attempts: %s", note.id, note.attempts, error)
        else:
            note.next_attempt_at = now + backoff(note.attempts, first_s=self._settings.backoff_base_s,
                                                 longest_s=self._settings.backoff_max_s)
