"""Nothing accepted is lost, and nothing redelivered has a second effect."""

from __future__ import annotations

from sqlalchemy import func, select, update

from citylink.api.schemas import EventIn
from citylink.bus.port import EventMessage
from citylink.runtime.platform import Platform
from citylink.settings import Settings
from citylink.store.tables import AuditRow, EventRow, GrantRow, NotificationRow
from tests.conftest import FakeClock, default_cameras, event_body


def _count(platform: Platform, table: type) -> int:
    return int(platform.db.read_sync(lambda s: s.scalar(select(func.count()).select_from(table))) or 0)


def _sos() -> EventIn:
    return EventIn.model_validate(event_body("WPSSF110", items=[{"key": "GUARDIAN_PHONE", "val": "+358400000001"}]))


async def test_same_message_delivered_twice_has_one_effect(settings: Settings, clock: FakeClock) -> None:
    platform = Platform.open(settings, clock=clock)
    platform.bootstrap()
    await platform.save_cameras(default_cameras(), actor="test", source="fixture")
    await platform.start()
    try:
        event = _sos().to_event()
        await platform.submit(event, received_by="welfare", correlation_id="c1")
        await platform.wait_idle()
        before = (_count(platform, GrantRow), _count(platform, NotificationRow), _count(platform, AuditRow))
        await platform.bus.publish(EventMessage(event, "c1-again", "opened"))
        await platform.wait_idle()
        assert (_count(platform, GrantRow), _count(platform, NotificationRow), _count(platform, AuditRow)) == before
    finally:
        await platform.stop()


async def test_events_stored_but_not_handled_are_handled_after_a_restart(settings: Settings,
                                                                          clock: FakeClock) -> None:
    platform = Platform.open(settings, clock=clock)
    platform.bootstrap()
    await platform.save_cameras(default_cameras(), actor="test", source="fixture")
    # Intake only: the services never run, as if the process died right after the event was committed.
    await platform.intake.start()
    accepted = await platform.submit(_sos().to_event(), received_by="welfare", correlation_id="c1")
    await platform.intake.stop()
    await platform.stop()
    assert accepted.created

    restarted = Platform.open(settings, clock=clock)
    await restarted.start()
    try:
        await restarted.wait_idle()
        assert _count(restarted, GrantRow) == 1
        assert _count(restarted, NotificationRow) == 2  # police and guardian
        dispatched = restarted.db.read_sync(lambda s: s.scalar(select(EventRow.dispatched)))
        assert dispatched is True
        # A second restart finds nothing left to do.
        restarted.db.write_sync(lambda s: s.execute(update(EventRow).values(dispatched=False)))
    finally:
        await restarted.stop()
    again = Platform.open(settings, clock=clock)
    await again.start()
    try:
        await again.wait_idle()
        assert _count(again, GrantRow) == 1 and _count(again, NotificationRow) == 2
    finally:
        await again.stop()
