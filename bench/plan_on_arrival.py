"""Benchmark: a 119 call's dispatch plan made on arrival, on the Montevideo network, and what it costs the grant.

    python bench/plan_on_arrival.py [--events 200] [--units 50] [--seed 1]

Opens the platform in process (SQLite, in-process bus) twice on the same kind of store: once with
road_network_path set to data/montevideo-drive.osm.pbf (its 4 fire stations, plus --units fire engines
registered at random road positions), once without (no plans: the baseline). For 119UC001 calls at random road
points, each with a camera beside it so that the scene's cameras are granted to the fire service, one at a time,
it times from `platform.submit` to

- the fire grant committed and published (the scene's video), and
- the dispatch plan committed and published (`incident.plan`: top 3 by road ETA with routes, the cameras and
  signals on each, hydrants; the fire service notified).

The plan is a service of its own (services/route_plans.py): the grant should not wait for it, which the same
run shows by the grant latency with and without routing. The plan's own cost is also timed directly
(RoutingPlans.dispatch_plan on the same points). No target in the issue; the figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from _progress import Latencies, progress_bar, step
from citylink.api.schemas import EventIn
from citylink.domain.cameras import Camera
from citylink.domain.events import Event
from citylink.domain.facilities import FacilityKind
from citylink.domain.units import Unit, UnitKind, UnitState, dispatchable
from citylink.geo.road_profiles import Profile
from citylink.runtime.executor import Applied
from citylink.runtime.platform import Platform
from citylink.settings import Settings
from citylink.store import unit_repo

REPO = Path(__file__).resolve().parents[1]
PBF = REPO / "data" / "montevideo-drive.osm.pbf"
WARMUP = 10
console = Console(width=shutil.get_terminal_size((120, 40)).columns)


class Watch:
    """perf_counter_ns at which each incident's fire grant and plan were published (after their commits)."""

    def __init__(self) -> None:
        self.granted: dict[str, int] = {}
        self.planned: dict[str, int] = {}

    def published(self, applied: Applied) -> None:
        now = time.perf_counter_ns()
        for type_, data, _ in applied.stream:
            incident_id = str(data.get("incident_id", ""))
            if type_ == "grant.issued" and data.get("agency") == "fire":
                self.granted.setdefault(incident_id, now)
            elif type_ == "incident.plan":
                self.planned.setdefault(incident_id, now)


class WatchedPlatform(Platform):
    watch = Watch()

    def _publish(self, applied: Applied) -> None:
        self.watch.published(applied)
        super()._publish(applied)


def road_points(n: int, seed: int) -> list[tuple[float, float]]:
    """Random road vertices of the car network, moved up to 20 m off the road."""
    from citylink.runtime.routing_plans import RoutingPlans

    network = RoutingPlans(PBF, cache_dir=Path(tempfile.gettempdir()) / "citylink-bench-roads").router(
        Profile.CAR).network
    rng = np.random.default_rng(seed)
    nodes = rng.integers(0, network.n_nodes, size=n)
    jitter = rng.uniform(-0.00018, 0.00018, size=(n, 2))
    return [(float(network.node_lon[i] + dx), float(network.node_lat[i] + dy))
            for i, (dx, dy) in zip(nodes, jitter, strict=True)]


def calls(points: list[tuple[float, float]], run: str) -> list[Event]:
    now = datetime.now(UTC).isoformat()
    return [EventIn.model_validate({"code": "119UC001", "status": "10", "occurrence": f"{run}{i:06d}", "time": now,
                                    "location": {"lon": lon, "lat": lat},
                                    "sender": {"system": "119", "city": "montevideo"}}).to_event()
            for i, (lon, lat) in enumerate(points)]


async def measure(data_dir: Path, *, routing: bool, points: list[tuple[float, float]],
                  units: list[tuple[float, float]], label: str) -> tuple[Latencies, Latencies | None]:
    settings = Settings(data_dir=data_dir, city_code="montevideo", road_network_path=PBF if routing else None)
    platform = WatchedPlatform.open(settings)
    platform.bootstrap()
    watch = WatchedPlatform.watch = Watch()
    cameras = [Camera(id=f"cam-{i}", lon=lon + 0.00005, lat=lat, source="bench") for i, (lon, lat) in enumerate(points)]
    await platform.save_cameras(cameras, actor="bench", source="bench")
    now = platform.clock()
    engines = [Unit(f"E{i}", UnitKind.FIRE_ENGINE, f"Engine {i}", "fire", UnitState.AVAILABLE, lon, lat, now, None)
               for i, (lon, lat) in enumerate(units)]

    def register(session: Session) -> None:
        for engine in engines:
            unit_repo.register(session, engine, now=now)

    platform.db.write_sync(register)
    await platform.start()
    grant_ms, plan_ms = [], []
    try:
        plans = platform.routing()
        if plans is not None:
            await platform.run_blocking(plans.warm_up)
        for n, event in enumerate(calls(points, label)):
            submitted = time.perf_counter_ns()
            await platform.submit(event, received_by="fire", correlation_id=f"bench-{n}")
            await platform.wait_idle()
            if n < WARMUP:
                continue
            grant_ms.append((watch.granted[event.incident_id] - submitted) / 1e6)
            if routing:
                plan_ms.append((watch.planned[event.incident_id] - submitted) / 1e6)
    finally:
        await platform.stop()
    return Latencies(np.array(grant_ms)), (Latencies(np.array(plan_ms)) if routing else None)


def direct_plan_ms(points: list[tuple[float, float]], units: list[tuple[float, float]]) -> Latencies:
    from citylink.geo.camera_index import CameraIndex
    from citylink.runtime.routing_plans import RoutingPlans

    plans = RoutingPlans(PBF, cache_dir=Path(tempfile.gettempdir()) / "citylink-bench-roads")
    plans.warm_up()
    now = datetime.now(UTC)
    ready = dispatchable([Unit(f"E{i}", UnitKind.FIRE_ENGINE, "", "fire", UnitState.AVAILABLE, lon, lat, now, None)
                          for i, (lon, lat) in enumerate(units)], FacilityKind.FIRE, now=now, max_age_s=600)
    index = CameraIndex.from_cameras([Camera(id=f"cam-{i}", lon=lon + 0.00005, lat=lat, source="bench")
                                      for i, (lon, lat) in enumerate(points)])
    out = []
    for n, spot in enumerate(points):
        started = time.perf_counter_ns()
        plans.dispatch_plan(spot, FacilityKind.FIRE, k=3, cameras=index, units=ready)
        if n >= WARMUP:
            out.append((time.perf_counter_ns() - started) / 1e6)
    return Latencies(np.array(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with progress_bar(console) as bar:
        with step(bar, "road points for calls and units (Montevideo car network)"):
            everything = road_points(WARMUP + args.events + args.units, args.seed)
            points, units = everything[:WARMUP + args.events], everything[WARMUP + args.events:]
        with tempfile.TemporaryDirectory(prefix="citylink-plan-bench-") as tmp:
            with step(bar, f"{args.events} calls one at a time, with routing"):
                grant_routed, plan = asyncio.run(measure(Path(tmp) / "routed", routing=True, points=points,
                                                         units=units, label="R"))
            with step(bar, f"{args.events} calls one at a time, without routing (baseline)"):
                grant_plain, _ = asyncio.run(measure(Path(tmp) / "plain", routing=False, points=points,
                                                     units=units, label="P"))
        with step(bar, "the dispatch plan alone, the same points"):
            alone = direct_plan_ms(points, units)
    assert plan is not None
    table = Table(title=f"119 calls on Montevideo, {args.events} one at a time, {args.units} units + 4 stations")
    for column in ("from submit to", "p50 ms", "p90 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right" if column != "from submit to" else "left")
    for name, lat in (("fire grant, with routing", grant_routed), ("fire grant, without routing (baseline)",
                                                                   grant_plain),
                      ("dispatch plan stored, fire told", plan), ("dispatch plan alone (no store)", alone)):
        table.add_row(name, *(f"{lat.percentile(q):.2f}" for q in (50, 90, 99)), f"{lat.max:.2f}")
    console.print(table)
    console.print(f"grant p50 with routing / without: {grant_routed.percentile(50) / grant_plain.percentile(50):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
