"""Processes die mid-work on real PostgreSQL and NATS: every accepted event still has exactly one effect.

Slow by nature (thousands of events through real processes); each test prints what it checked and the counts.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.real_services import NATS_URL
from tests.reliability.cluster import Cluster, bodies, effects, post_paced, wait_all_dispatched

pytestmark = [pytest.mark.services, pytest.mark.slow]

EVENTS = 10_000
RATE = 400.0  # events/s: steady, and within what one API process on this 2-core machine sustains with 2 workers


def _when(count: int, threshold: int, fired: threading.Event, action: object) -> None:
    if count >= threshold and not fired.is_set():
        fired.set()
        assert callable(action)
        threading.Thread(target=action, daemon=True).start()


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str, nats_namespace: str) -> Cluster:
    cluster = Cluster(tmp_path, pg_url, NATS_URL, nats_namespace)
    cluster.seed()
    yield cluster  # type: ignore[misc]
    cluster.stop()


def test_a_worker_killed_mid_run_loses_and_repeats_nothing(cluster: Cluster) -> None:
    cluster.start_api()
    cluster.start_worker(0)
    cluster.start_worker(1)
    killed = threading.Event()
    restarted = threading.Event()

    def kill_and_restart() -> None:
        cluster.workers[1].kill9()
        cluster.start_worker(1)
        restarted.set()

    events = list(bodies(EVENTS, run="W"))
    result = asyncio.run(post_paced(cluster.base, cluster.key(), events, rate=RATE,
                                    on_progress=lambda n: _when(n, EVENTS * 2 // 5, killed, kill_and_restart)))
    assert restarted.wait(60), cluster.logs()
    wait_all_dispatched(cluster.database_url)
    found = effects(cluster.database_url)
    print(f"\n{EVENTS:,} events at {RATE:.0f}/s, worker 1 killed with SIGKILL after {EVENTS * 2 // 5:,} and "
          f"restarted; answers {result.statuses}\n{found.table()}")
    assert len(result.ok_event_ids) == EVENTS
    assert found.events == found.incidents == EVENTS  # one incident per occurrence
    assert found.undispatched == 0
    assert found.grants == EVENTS and found.incidents_without_grant == 0 and found.duplicate_grants == 0
    assert found.notifications == 2 * (EVENTS * 3 // 10) and found.duplicate_notifications == 0
    assert found.audit_problems == 0


def test_the_api_killed_mid_burst_keeps_every_event_it_accepted(cluster: Cluster) -> None:
    cluster.start_api()
    cluster.start_worker(0)
    killed = threading.Event()

    def kill_and_restart() -> None:
        assert cluster.api is not None
        cluster.api.kill9()
        cluster.start_api()

    n = 3_000
    events = list(bodies(n, run="A"))
    # Burst: as fast as 64 connections allow; the client retries what failed, as a real sender would.
    result = asyncio.run(post_paced(cluster.base, cluster.key(), events, rate=10_000.0, concurrency=64,
                                    on_progress=lambda c: _when(c, n // 3, killed, kill_and_restart)))
    assert killed.is_set()
    wait_all_dispatched(cluster.database_url)
    found = effects(cluster.database_url)
    print(f"\n{n:,} events in a burst, the API process killed with SIGKILL after {n // 3:,} answers and "
          f"restarted; answers {result.statuses}\n{found.table()}")
    assert len(result.ok_event_ids) == n
    stored = cluster_event_ids(cluster)
    assert result.ok_event_ids <= stored  # every 2xx is in the store
    assert found.events == found.incidents == n
    assert found.grants == n and found.duplicate_grants == 0 and found.duplicate_notifications == 0
    assert found.audit_problems == 0


def cluster_event_ids(cluster: Cluster) -> set[str]:
    engine = create_engine(cluster.database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return {str(r[0]) for r in conn.execute(text("SELECT id FROM events"))}
    finally:
        engine.dispose()
