"""The broker or the database goes away during intake: nothing accepted is lost, and the platform recovers by itself.

The broker here is a NATS server of the test's own (stopping the machine's would disturb everything else); the
database restart is the machine's PostgreSQL, restarted with pg_ctlcluster (needs root, as in CI).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import free_port
from tests.real_services import NATS_URL
from tests.reliability.cluster import Cluster, bodies, effects, post_paced, wait_all_dispatched
from tests.services_available import need_server

pytestmark = [pytest.mark.services, pytest.mark.slow]

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsServer:
    def __init__(self, store: Path) -> None:
        self.port = free_port()
        self.store = store
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd",
                                         str(self.store)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not _wait_port(self.port):
            raise RuntimeError(f"{NATS_SERVER} did not start listening on {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _wait_port(port: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    if not os.access(NATS_SERVER, os.X_OK):
        message = f"nats-server not found at {NATS_SERVER}"
        if os.environ.get("CITYLINK_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}; CITYLINK_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


def test_a_broker_outage_of_ten_seconds_loses_nothing(tmp_path: Path, pg_url: str, own_nats: NatsServer) -> None:
    cluster = Cluster(tmp_path, pg_url, own_nats.url, "outage")
    cluster.seed()
    try:
        cluster.start_api()
        cluster.start_worker(0)
        n, rate = 4_000, 200.0
        outage: dict[str, float] = {}

        def broker_down_for_ten_seconds() -> None:
            time.sleep(5)
            outage["stopped"] = time.monotonic()
            own_nats.stop()
            time.sleep(10)
            own_nats.start()
            outage["started"] = time.monotonic()

        threading.Thread(target=broker_down_for_ten_seconds, daemon=True).start()
        result = asyncio.run(post_paced(cluster.base, cluster.key(), list(bodies(n, run="N")), rate=rate))
        assert "started" in outage
        wait_all_dispatched(cluster.database_url)
        found = effects(cluster.database_url)
        print(f"\n{n:,} events at {rate:.0f}/s, NATS down for "
              f"{outage['started'] - outage['stopped']:.1f} s in the middle; answers {result.statuses}\n"
              f"{found.table()}")
        assert len(result.ok_event_ids) == n
        assert found.events == found.incidents == n and found.undispatched == 0
        assert found.grants == n and found.duplicate_grants == 0 and found.duplicate_notifications == 0
        assert found.audit_problems == 0
    finally:
        cluster.stop()


def _restart_postgresql() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
                   check=True, capture_output=True)


def test_the_platform_recovers_from_a_database_restart(tmp_path: Path, pg_url: str, nats_namespace: str) -> None:
    if os.geteuid() != 0 or shutil.which("pg_ctlcluster") is None or not os.path.isdir("/etc/postgresql"):
        message = "restarting PostgreSQL needs root and pg_ctlcluster (a Debian server on this machine)"
        if os.environ.get("CITYLINK_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}; CITYLINK_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)
    cluster = Cluster(tmp_path, pg_url, NATS_URL, nats_namespace)
    cluster.seed()
    try:
        cluster.start_api()
        cluster.start_worker(0)
        n, rate = 3_000, 200.0
        restarted = threading.Event()

        def restart_midway() -> None:
            time.sleep(5)
            _restart_postgresql()
            restarted.set()

        threading.Thread(target=restart_midway, daemon=True).start()
        result = asyncio.run(post_paced(cluster.base, cluster.key(), list(bodies(n, run="D")), rate=rate))
        assert restarted.wait(30)
        need_server("PostgreSQL", "127.0.0.1", 5432)
        wait_all_dispatched(cluster.database_url)
        found = effects(cluster.database_url)
        print(f"\n{n:,} events at {rate:.0f}/s, PostgreSQL restarted in the middle; answers {result.statuses}\n"
              f"{found.table()}")
        assert len(result.ok_event_ids) == n
        assert found.events == found.incidents == n and found.undispatched == 0
        assert found.grants == n and found.duplicate_grants == 0 and found.duplicate_notifications == 0
        assert found.audit_problems == 0
    finally:
        cluster.stop()
