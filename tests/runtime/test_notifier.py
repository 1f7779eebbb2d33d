"""Notifications go out through the outbox, retried with backoff until the receiver takes them."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from citylink.api.schemas import EventIn
from citylink.domain.events import Event
from citylink.runtime.platform import Platform
from citylink.settings import NotifySettings, Settings
from citylink.store import incident_repo
from tests.conftest import FakeClock, default_cameras, event_body


class _Receiver:
    """A guardian SMS gateway that is down for its first `failures` requests."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(503)
                else:
                    receiver.received.append(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"


@contextmanager
def _serving(failures: int) -> Iterator[_Receiver]:
    rec = _Receiver(failures)
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.server.shutdown()
        rec.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    with _serving(failures=2) as rec:
        yield rec


@asynccontextmanager
async def _guardian_called(tmp_path: Any, clock: FakeClock, notify: NotifySettings) -> AsyncIterator[
        tuple[Platform, Event]]:
    """A running platform, its notifier driven by the test, after a wandering report that calls a guardian."""
    platform = Platform.open(Settings(data_dir=tmp_path, notify=notify), clock=clock)
    platform.bootstrap()
    await platform.save_cameras(default_cameras(), actor="test", source="fixture")
    await platform.start()
    await platform.notifier.stop()  # the test drives the delivery rounds itself
    try:
        event = EventIn.model_validate(event_body("WPSSF110", items=[
            {"key": "GUARDIAN_PHONE", "val": "+358400000002"}])).to_event()
        await platform.submit(event, received_by="welfare", correlation_id="c")
        await platform.wait_idle()
        yield platform, event
    finally:
        await platform.stop()


async def test_guardian_is_reached_after_the_gateway_recovers(tmp_path: Any, clock: FakeClock,
                                                               receiver: _Receiver) -> None:
    notify = NotifySettings(guardian_webhook_url=receiver.url, backoff_base_s=2.0)
    async with _guardian_called(tmp_path, clock, notify) as (platform, event):
        notifier = platform.notifier
        assert await notifier.deliver_due() == 1  # first try: 503
        assert await notifier.deliver_due() == 0  # not due again until the backoff has passed
        clock.advance(seconds=2)
        assert await notifier.deliver_due() == 1  # second try: 503
        clock.advance(seconds=3)
        assert await notifier.deliver_due() == 0  # the backoff doubled to 4 s
        clock.advance(seconds=1)
        assert await notifier.deliver_due() == 1  # third try: delivered
        assert receiver.received[0]["contact"] == "+358400000002"
        assert receiver.received[0]["recipient"] == "guardian"
        notes = platform.db.read_sync(lambda s: incident_repo.notifications_for(s, event.incident_id))
        guardian = next(n for n in notes if n.recipient == "guardian")
        assert (guardian.status, guardian.attempts) == ("delivered", 3)


async def test_a_long_outage_is_retried_at_the_longest_wait_not_ever_later(tmp_path: Any, clock: FakeClock) -> None:
    with _serving(failures=4) as receiver:
        notify = NotifySettings(guardian_webhook_url=receiver.url, backoff_base_s=2.0, backoff_max_s=5.0,
                                max_attempts=10)
        async with _guardian_called(tmp_path, clock, notify) as (platform, _):
            notifier = platform.notifier
            assert await notifier.deliver_due() == 1  # first try: 503
            for wait_s in (2, 4, 5, 5):  # doubling, then held at backoff_max_s
                clock.advance(seconds=wait_s - 0.5)
                assert await notifier.deliver_due() == 0
                clock.advance(seconds=0.5)
                assert await notifier.deliver_due() == 1
            assert receiver.received[0]["contact"] == "+358400000002"  # the fifth try got through
