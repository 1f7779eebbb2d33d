"""The live feed over a real socket: typed messages, filtered per agency, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.conftest import event_body


async def _read(client: httpx.AsyncClient, url: str, key: str, *, until: str, last_id: str | None = None,
                limit: int = 50) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    messages: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with client.stream("GET", url, headers=headers, timeout=10) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                current["event"] = line.split(":", 1)[1].strip()
            elif line.startswith("id:"):
                current["id"] = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                current["data"] = json.loads(line.split(":", 1)[1])
            elif line == "" and current:
                messages.append(current)
                if current.get("event") == until or len(messages) >= limit:
                    return messages
                current = {}
    return messages


async def test_stream_delivers_lifecycle_to_the_right_agencies(live_server: tuple[str, dict[str, str]]) -> None:
    base, keys = live_server
    url = base + "/api/v1/stream"
    async with httpx.AsyncClient() as client:
        police = asyncio.create_task(_read(client, url, keys["police"], until="grant.revoked"))
        fire = asyncio.create_task(_read(client, url, keys["fire"], until="never", limit=1))
        await asyncio.sleep(0.3)
        police_auth = {"Authorization": f"Bearer {keys['police']}"}
        await client.post(base + "/api/v1/events", json=event_body(), headers=police_auth)
        await asyncio.sleep(0.3)
        await client.post(base + "/api/v1/events", json=event_body(status="91",
                                                                    time="2026-11-26T11:30:00+02:00"),
                          headers=police_auth)
        messages = await asyncio.wait_for(police, 10)
        types = [m["event"] for m in messages]
        assert types[:3] == ["incident.opened", "cameras.selected", "grant.issued"]
        assert "grant.revoked" in types
        await asyncio.sleep(0.2)
        assert not fire.done()  # the fire service saw nothing of a police incident
        fire.cancel()

        # A client that lost its connection after the first message gets the rest, without duplicates.
        replay = await _read(client, url, keys["police"], until="grant.revoked", last_id=messages[0]["id"])
        assert [m["id"] for m in replay] == [m["id"] for m in messages[1:]]
