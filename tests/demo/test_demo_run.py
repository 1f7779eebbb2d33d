"""The demo end to end: real cameras imported, a real server, events through the real API, a clean stop."""

from __future__ import annotations

import io
import os
import re
import socket
import stat
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citylink.demo import load_config
from citylink.demo.runner import run_demo
from citylink.settings import Settings
from citylink.store.database import Database
from citylink.store.tables import (
    CameraRow,
    GrantRow,
    IncidentRow,
    PlanRow,
    PlateReadRow,
    ReadingRow,
    SensorRow,
    TripRow,
    UnitRow,
    ViolationRow,
)

HELSINKI_PBF = Path(__file__).resolve().parents[2] / "data" / "helsinki.osm.pbf"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def demo(data_dir: Path, *, duration_s: float) -> tuple[int, str]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=160)
    code = run_demo(data_dir=data_dir, port=free_port(), rate_per_min=120.0, duration_s=duration_s, seed=3,
                    console=console, osm_path=HELSINKI_PBF)
    return code, out.getvalue()


def store_facts(data_dir: Path) -> dict[str, Any]:
    db = Database.open(Settings(data_dir=data_dir).resolved_database_url)

    def read(session: Session) -> dict[str, Any]:
        def count(*where: Any, table: Any = CameraRow) -> int:
            return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)

        return {
            "cameras": count(),
            "directed": count(CameraRow.direction_deg.is_not(None)),
            "offline": count(CameraRow.status == "offline"),
            "incidents": count(table=IncidentRow),
            "open": count(IncidentRow.ended_at.is_(None), table=IncidentRow),
            "codes": set(session.scalars(select(IncidentRow.code))),
            "grants": count(table=GrantRow),
            "live_grants": count(GrantRow.revoked_at.is_(None), table=GrantRow),
            "units": count(table=UnitRow),
            "reads": count(table=PlateReadRow),
            "trips": count(table=TripRow),
            "sensors": count(table=SensorRow),
            "sensor_readings": count(ReadingRow.device_type == "sensor", table=ReadingRow),
            "violations": set(session.scalars(select(ViolationRow.plate_text))),
            "plans": {(code, row.kind): row.plan for code, row in
                      session.execute(select(IncidentRow.code, PlanRow).join(PlanRow))},
        }

    try:
        return db.read_sync(read)
    finally:
        db.close()


def test_demo_runs_against_the_real_api_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    code, output = demo(data_dir, duration_s=6.0)
    assert code == 0, output

    facts = store_facts(data_dir)
    config = load_config()
    assert facts["cameras"] == 221
    assert facts["directed"] == len(config.cameras.directions)
    assert facts["offline"] == len(config.cameras.offline)
    assert facts["incidents"] > 0
    assert {"112UC001", "119UC001", "DUCDP110", "WPSSF110", "MOJUC110"} <= facts["codes"]
    assert facts["grants"] >= 1
    # Stopping ends every incident the scenario opened, and with them every grant.
    assert facts["open"] == 0 and facts["live_grants"] == 0
    # 119 calls got a dispatch plan ranking the demo's units and Erottaja fire station by road, 112 reports a
    # cordon; the console counted them from the live feed.
    assert facts["units"] == sum(1 for u in config.units if u.tracked_as is not None)
    dispatch = facts["plans"][("119UC001", "dispatch")]
    assert dispatch["ranked"] and dispatch["ranked"][0]["route"]["type"] == "LineString"
    assert {r["source"] for r in dispatch["ranked"]} <= {"unit", "station"}
    assert facts["plans"][("112UC001", "cordon")]["exits"]
    assert facts["reads"] > 0  # the demo's LPR cameras sent plate reads (the stolen car's hits are chance)
    assert facts["trips"] > 0  # safe-return walkers registered their walks
    assert facts["sensors"] == 4 and facts["sensor_readings"] >= 4  # the air stations reported
    assert "OLD503" not in facts["violations"]  # the exempt car is never fined (the others are, when read)
    plans_seen = re.search(r"(\d+) route plans \(dispatch plans and cordons\)", output)
    assert plans_seen is not None and int(plans_seen.group(1)) >= 2

    keys = data_dir / "bootstrap-keys.json"
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o600
    assert "audit log intact" in output
    assert "+358 40 000" not in output and "demo-person-" not in output  # personal data never on the console


def test_demo_restarts_on_an_existing_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    assert demo(data_dir, duration_s=1.0)[0] == 0
    keys = (data_dir / "bootstrap-keys.json").read_text()

    code, output = demo(data_dir, duration_s=1.0)
    assert code == 0, output
    assert "221 unchanged" in output
    assert (data_dir / "bootstrap-keys.json").read_text() == keys  # the agencies and their keys were kept
    assert store_facts(data_dir)["cameras"] == 221
