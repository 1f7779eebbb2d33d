"""GET /api/v1/dead-letters: the device messages that could not be taken in, for admins only."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from citylink.domain.agencies import Role
from citylink.store import agency_repo, dead_letter_repo
from citylink.store.dead_letter_repo import DeadLetter
from tests.conftest import Harness


async def test_admins_page_through_dead_letters_newest_first(harness: Harness) -> None:
    now = harness.platform.clock()

    def add_three(session: Session) -> None:
        for i in range(3):
            dead_letter_repo.add(session, DeadLetter(f"citylink/helsinki/device/sensor/AQ-{i}", b"x" * 5000,
                                                     f"reason {i}", now + timedelta(seconds=i)))

    harness.platform.db.write_sync(add_three)
    centre = harness.auth("centre")

    first = (await harness.client.get("/api/v1/dead-letters", params={"limit": 2}, headers=centre)).json()
    assert [d["reason"] for d in first] == ["reason 2", "reason 1"]
    assert first[0]["topic"] == "citylink/helsinki/device/sensor/AQ-2"
    assert (len(first[0]["payload"]), first[0]["payload_bytes"]) == (4096, 5000)  # kept short, size recorded
    rest = await harness.client.get("/api/v1/dead-letters", params={"before": first[-1]["id"]}, headers=centre)
    assert [d["reason"] for d in rest.json()] == ["reason 0"]


async def test_only_admins_see_dead_letters(harness: Harness) -> None:
    _, auditor = harness.platform.db.write_sync(
        lambda s: agency_repo.issue_key(s, "centre", Role.AUDITOR, now=harness.platform.clock()))
    for headers in (harness.auth("police"), {"Authorization": f"Bearer {auditor}"}):
        response = await harness.client.get("/api/v1/dead-letters", headers=headers)
        assert response.status_code == 403
        assert response.json()["detail"].endswith("may not read dead letters")
