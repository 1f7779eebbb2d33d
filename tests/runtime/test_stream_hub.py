"""The live feed's ids survive a restart, and a listener sees only what its agency may see."""

from __future__ import annotations

import asyncio

from citylink.domain.agencies import Principal, Role
from citylink.runtime.stream import StreamHub


async def test_a_restarted_hub_continues_above_the_old_ids() -> None:
    before = StreamHub(replay=10)
    old = before.publish("incident.opened", {"id": "a"}, audience=frozenset({"police"}))
    await asyncio.sleep(0.001)
    after = StreamHub(replay=10)
    police = Principal(agency="police", role=Role.AGENCY, key_id="k")
    listener = after.listen(police, last_event_id=old.id)
    pending = asyncio.ensure_future(anext(listener))
    await asyncio.sleep(0)
    new = after.publish("incident.opened", {"id": "b"}, audience=frozenset({"police"}))
    assert new.id > old.id
    assert (await asyncio.wait_for(pending, 1)).data == {"id": "b"}
    await listener.aclose()


async def test_listener_gets_only_its_agencies_messages() -> None:
    hub = StreamHub(replay=10, first_id=1)
    hub.publish("incident.opened", {"id": "fire-1"}, audience=frozenset({"fire"}))
    hub.publish("incident.opened", {"id": "police-1"}, audience=frozenset({"police/patrol-3"}))
    police = Principal(agency="police", role=Role.AGENCY, key_id="k")
    listener = hub.listen(police, last_event_id=0)
    assert (await asyncio.wait_for(anext(listener), 1)).data == {"id": "police-1"}
    await listener.aclose()
