"""Several workers deliver one outbox on PostgreSQL: every notification goes out once, none is skipped."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from citylink.api.schemas import EventIn
from citylink.domain.agencies import Agency, AgencyKind
from citylink.runtime.notifier import Notifier
from citylink.runtime.platform import Platform
from citylink.settings import NotifySettings, Settings
from citylink.store import agency_repo
from citylink.store.database import Database
from tests.conftest import FakeClock, default_cameras, event_body
from tests.live import serve_in_thread

pytestmark = pytest.mark.services


def _receiver(posts: collections.Counter[str]) -> Starlette:
    async def notify(request: Request) -> Response:
        posts[request.headers["idempotency-key"]] += 1
        await asyncio.sleep(0.01)  # a real endpoint takes a moment: both workers are busy at once
        return Response(status_code=204)

    async def healthz(_: Request) -> Response:
        return Response("ok")

    return Starlette(routes=[Route("/notify", notify, methods=["POST"]), Route("/healthz", healthz)])


async def test_two_workers_deliver_each_notification_once(tmp_path: Path, pg_url: str, clock: FakeClock) -> None:
    posts: collections.Counter[str] = collections.Counter()
    with serve_in_thread(_receiver(posts)) as base:
        platform = Platform.open(Settings(data_dir=tmp_path, database_url=pg_url), clock=clock)
        platform.bootstrap()
        police = Agency(id="police", name="Police", kind=AgencyKind.POLICE, webhook_url=f"{base}/notify")
        platform.db.write_sync(lambda s: agency_repo.upsert_agency(s, police, now=clock()))
        await platform.save_cameras(default_cameras(), actor="test", source="fixture")
        await platform.start()
        await platform.notifier.stop()  # the two workers below deliver instead
        try:
            for i in range(60):
                body = event_body("WPSSF110", occurrence=f"S{i:03d}")
                await platform.submit(EventIn.model_validate(body).to_event(), received_by="welfare",
                                      correlation_id=f"c{i}")
            await platform.wait_idle()
            databases = [Database.open(pg_url, run_migrations=False) for _ in range(2)]
            workers = [Notifier(db, settings=NotifySettings(), clock=clock) for db in databases]
            rounds = await asyncio.gather(*(w.deliver_due() for w in workers))
            rounds += await asyncio.gather(*(w.deliver_due() for w in workers))  # nothing left for a second round
            for worker, db in zip(workers, databases, strict=True):
                await worker.close()
                db.close()
        finally:
            await platform.stop()
    assert sum(rounds) == 60
    assert len(posts) == 60 and set(posts.values()) == {1}
