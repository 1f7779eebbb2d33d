"""Benchmark: MQTT device intake, registered environment sensors publishing readings at a steady rate, next to
a bare subscriber on the same broker under the same load.

    python bench/mqtt_intake.py [--rate 2000] [--duration 30] [--warmup 5] [--devices 1000] [--connections 4]
    python bench/mqtt_intake.py --devices 10000 --rate 1000 --duration 60   # 10,000 sensors every 10 s

Each citylink reading goes the whole way: stored, and every measure stepped through its alarm levels (one
gauge in 500 reports heavy rain, so the city's rain alarm opens and grows while the load runs).

Needs Mosquitto on 127.0.0.1:1883. Two targets in turn, each fed by its own publisher process on the same
schedule:

- bare: an aiomqtt subscriber (QoS 1, acknowledged on arrival, as aiomqtt does by default) that only parses the
  JSON; latency runs from a reading's scheduled publish time to its parse;
- citylink: a process with the platform on a fresh SQLite store (synchronous=FULL) and the MQTT intake (QoS 1,
  persistent session, acknowledged only after the commit); latency runs from a reading's scheduled publish time
  until this process first sees its row in the store, which it polls every 5 ms (so up to 5 ms is polling).

The publisher opens --connections client connections and publishes each device's readings on the device's own
topic <prefix>/helsinki/device/sensor/S-<n> with QoS 1, at a steady total --rate, round robin over the devices.
It is an open loop: latency starts at the scheduled time, so queueing in front of a slow target is counted.

Figures: readings stored (parsed, for bare) per second over the measured window, latency percentiles, the
backlog when the load stopped, the time to clear it, and readings lost (published and acknowledged by the
broker, never stored). Passes when citylink keeps >= 99 % of the offered rate over the measured window and
loses nothing; exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from _load import Summary, ms
from citylink.store.tables import EventRow, SensorRow

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
HOST, PORT = "127.0.0.1", 1883
SUSTAINED_SHARE = 0.99
POLL_S = 0.005
RAIN_EVERY = 500

console = Console(width=shutil.get_terminal_size((120, 40)).columns)


@dataclass(frozen=True)
class Options:
    rate: float
    duration_s: float
    warmup_s: float
    devices: int
    connections: int
    drain_timeout_s: float


@dataclass
class TargetRun:
    """Per reading seen by the target: its scheduled publish time and when it was seen (wall clock, s)."""

    name: str
    scheduled: array[float]
    seen: array[float]
    publisher: dict[str, Any]
    cpu_share: float | None = None
    intake_stats: dict[str, Any] | None = None


# -- the publisher process ------------------------------------------------------------------------------------

def _reading(at: float, device: int, i: int) -> bytes:
    # One gauge in RAIN_EVERY reports heavy rain: over the advisory's 60 mm at once, so the alarm path (levels
    # moving, the city's alarm row locked and updated, events raised) runs under the load, not only storage.
    rain = 75.0 if device % RAIN_EVERY == 0 else 2.0
    return orjson.dumps({"time": datetime.fromtimestamp(at, UTC).isoformat(),
                         "values": {"pm10": 20.0 + i % 40, "pm25": 8.0 + i % 15, "temperature_c": -2.5,
                                    "rainfall_mm_3h": rain}})


async def _publish(args: argparse.Namespace) -> dict[str, Any]:
    warmup_n = round(args.rate * args.warmup)
    n = warmup_n + round(args.rate * args.duration)
    topics = [f"{args.prefix}/helsinki/device/sensor/S-{d:04d}" for d in range(args.devices)]
    interval = 1.0 / args.rate
    lag = array("d")
    counts = {"published": 0, "failed": 0}
    async with contextlib.AsyncExitStack() as stack:
        # No in-flight cap at the publisher: paho scans its whole outgoing queue on every acknowledgement, so a
        # publisher that falls behind under a capped window slows down the further behind it is.
        clients = [await stack.enter_async_context(aiomqtt.Client(HOST, PORT, identifier=f"{args.run}-pub-{c}",
                                                                  max_inflight_messages=0))
                   for c in range(args.connections)]
        for client in clients:
            client.pending_calls_threshold = 1 << 30  # many publishes in flight is the point here, not a warning
        in_flight: set[asyncio.Task[None]] = set()

        async def send(k: int, at: float) -> None:
            device = k % args.devices
            try:
                await clients[device % args.connections].publish(topics[device], _reading(at, device, k), qos=1)
                counts["published"] += 1
            except aiomqtt.MqttError:
                counts["failed"] += 1

        start = time.time() + 0.2
        k = 0
        while k < n:
            now = time.time()
            while k < n and (at := start + k * interval) <= now:
                task = asyncio.create_task(send(k, at))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                lag.append(now - at)
                k += 1
            # Never sleep below 1 ms: shorter sleeps round to zero in the loop's timer and spin the CPU.
            await asyncio.sleep(max(start + k * interval - time.time(), 1e-3))
        await asyncio.gather(*in_flight)
    return {"scheduled": n, **counts, "measure_from": start + warmup_n * interval,
            "load_end": start + (n - 1) * interval, "send_lag_ms": Summary.of_ns([s * 1e9 for s in lag]).as_dict()}


def _publisher_command(options: Options, *, prefix: str, run: str, out: Path) -> list[str]:
    return [sys.executable, str(BENCH / "mqtt_intake.py"), "publish", "--prefix", prefix, "--run", run,
            "--rate", str(options.rate), "--duration", str(options.duration_s), "--warmup", str(options.warmup_s),
            "--devices", str(options.devices), "--connections", str(options.connections), "--out", str(out)]


async def _until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


# -- the citylink process -------------------------------------------------------------------------------------

async def _host(args: argparse.Namespace) -> None:
    """The platform on a fresh store with the MQTT intake started around it, until SIGTERM."""
    from citylink.adapters.mqtt_intake import MqttIntake
    from citylink.runtime.platform import Platform
    from citylink.settings import MqttSettings, Settings

    platform = Platform.open(Settings(data_dir=args.data_dir))
    platform.bootstrap()
    platform.db.write_sync(lambda s: _register_sensors(s, args.devices))
    await platform.start()
    intake = MqttIntake(MqttSettings(url=f"mqtt://{HOST}:{PORT}", topic_prefix=args.prefix,
                                     client_id=args.client_id), db=platform.db, submit=platform.submit,
                        take_reads=platform.plate_reads.take, sensors=platform.environment,
                        clock=platform.clock)
    await intake.start()
    gc.collect()
    gc.freeze()  # as create_app's lifespan does once the platform has started
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    if not await _until(lambda: intake.stats.connections > 0, 30.0):
        raise RuntimeError(f"the MQTT intake did not subscribe on {HOST}:{PORT} within 30 s")
    args.ready.touch()
    await stop.wait()
    await intake.stop()
    await platform.stop()
    alarms = platform.db.read_sync(lambda s: s.scalar(select(func.count()).select_from(EventRow).where(
        EventRow.code == "WESEN110")))
    args.out.write_text(json.dumps({**dataclasses.asdict(intake.stats), "alarm_events": alarms}))


def _register_sensors(session: Session, devices: int) -> None:
    """The sensors the publisher reports for, spread over central Helsinki, every one reporting each
    devices / rate seconds."""
    now = datetime.now(UTC)
    for d in range(devices):
        session.add(SensorRow(id=f"S-{d:04d}", city="helsinki", name=f"sensor {d}", agency="centre",
                              lon=24.90 + (d % 100) * 0.001, lat=60.15 + (d // 100) * 0.0005, interval_s=3600,
                              last_seen_at=None, last_values={}, silent_after=now + timedelta(hours=2),
                              down_occurrence=None, created_at=now, updated_at=now))


def _process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _StorePoller(threading.Thread):
    """Notes when each reading's row first becomes visible to another reader of the store."""

    def __init__(self, db: Path) -> None:
        super().__init__(name="store-poller", daemon=True)
        self._db = db
        self.scheduled = array("d")
        self.seen = array("d")
        self.stopping = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(f"file:{self._db}?mode=ro", uri=True)
        last = 0
        while not self.stopping.is_set():
            rows = conn.execute("SELECT seq, time FROM device_readings WHERE seq > ? ORDER BY seq", (last,)).fetchall()
            now = time.time()
            for seq, stored in rows:
                # SQLite keeps the UTC time as text without an offset.
                self.scheduled.append(datetime.fromisoformat(stored).replace(tzinfo=UTC).timestamp())
                self.seen.append(now)
                last = seq
            time.sleep(POLL_S)
        conn.close()


def _wait_for(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def run_citylink(tmp: Path, options: Options, run: str) -> TargetRun:
    prefix, client_id = f"citylink-bench/{run}/c", f"{run}-intake"
    data_dir, ready, stats_out = tmp / "citylink", tmp / "citylink.ready", tmp / "citylink-stats.json"
    log = (tmp / "citylink.log").open("wb")
    host = subprocess.Popen([sys.executable, str(BENCH / "mqtt_intake.py"), "host", "--data-dir", str(data_dir),
                             "--devices", str(options.devices),
                             "--prefix", prefix, "--client-id", client_id, "--ready", str(ready), "--out",
                             str(stats_out)], stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        _wait_for(lambda: ready.exists() or host.poll() is not None, 60)
        if not ready.exists():
            raise RuntimeError(f"the citylink process did not start; see {tmp / 'citylink.log'}")
        poller = _StorePoller(data_dir / "citylink.db")
        poller.start()
        out = tmp / "citylink-publisher.json"
        cpu_before, wall_before = _process_cpu_s(host.pid), time.monotonic()
        with console.status(f"citylink: {options.rate:,.0f} readings/s for {options.warmup_s:.0f} s warm-up + "
                            f"{options.duration_s:.0f} s"):
            subprocess.run(_publisher_command(options, prefix=prefix, run=f"{run}-c", out=out), check=True, cwd=REPO)
        cpu_share = (_process_cpu_s(host.pid) - cpu_before) / (time.monotonic() - wall_before)
        publisher = json.loads(out.read_text())
        with console.status("citylink: waiting for the intake to store what the broker acknowledged"):
            _wait_for(lambda: len(poller.seen) >= publisher["published"], options.drain_timeout_s)
        poller.stopping.set()
        poller.join()
    finally:
        host.send_signal(signal.SIGTERM)
        host.wait(timeout=60)
        log.close()
    asyncio.run(_forget_session(client_id))
    stats = json.loads(stats_out.read_text()) if stats_out.exists() else None
    return TargetRun("citylink", poller.scheduled, poller.seen, publisher, cpu_share, stats)


async def _forget_session(client_id: str) -> None:
    """The intake's session is persistent; the benchmark's must not stay behind in the broker."""
    async with aiomqtt.Client(HOST, PORT, identifier=client_id, protocol=aiomqtt.ProtocolVersion.V5,
                              clean_start=True):
        pass


# -- the bare subscriber --------------------------------------------------------------------------------------

async def _bare(tmp: Path, options: Options, run: str) -> TargetRun:
    prefix = f"citylink-bench/{run}/b"
    scheduled, seen = array("d"), array("d")
    out = tmp / "bare-publisher.json"
    async with aiomqtt.Client(HOST, PORT, identifier=f"{run}-bare") as client:
        await client.subscribe(f"{prefix}/#", qos=1)

        async def receive() -> None:
            async for message in client.messages:
                now = time.time()
                body = orjson.loads(message.payload)
                scheduled.append(datetime.fromisoformat(body["time"]).timestamp())
                seen.append(now)

        receiver = asyncio.create_task(receive())
        publisher = await asyncio.create_subprocess_exec(*_publisher_command(options, prefix=prefix,
                                                                             run=f"{run}-b", out=out), cwd=REPO)
        if await publisher.wait() != 0:
            raise RuntimeError("the publisher failed")
        report = json.loads(out.read_text())
        await _until(lambda: len(seen) >= report["published"], options.drain_timeout_s)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
    return TargetRun("bare subscriber", scheduled, seen, report)


def run_bare(tmp: Path, options: Options, run: str) -> TargetRun:
    with console.status(f"bare subscriber: {options.rate:,.0f} readings/s for {options.warmup_s:.0f} s warm-up + "
                        f"{options.duration_s:.0f} s"):
        return asyncio.run(_bare(tmp, options, run))


# -- report ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figures:
    published: int
    failed: int
    taken: int
    lost: int
    sustained_per_s: float
    latency: Summary
    send_lag: Summary
    backlog_at_load_end: int
    cleared_after_s: float

    @classmethod
    def of(cls, target: TargetRun) -> Figures:
        pub = target.publisher
        measure_from, load_end = pub["measure_from"], pub["load_end"]
        pairs = list(zip(target.scheduled, target.seen, strict=True))
        measured = [(s, t) for s, t in pairs if s >= measure_from]
        last_seen = max((t for _, t in measured), default=measure_from)
        sustained = len(measured) / max(last_seen - measure_from, 1e-9)
        latency = Summary.of_ns([(t - s) * 1e9 for s, t in measured])
        taken_by_end = sum(1 for _, t in pairs if t <= load_end)
        return cls(published=pub["published"], failed=pub["failed"], taken=len(pairs),
                   lost=pub["published"] - len(pairs), sustained_per_s=sustained, latency=latency,
                   send_lag=Summary.from_dict(pub["send_lag_ms"]),
                   backlog_at_load_end=len(pairs) - taken_by_end,
                   cleared_after_s=max(max((t for _, t in pairs), default=load_end) - load_end, 0.0))


def _table(options: Options, targets: list[TargetRun]) -> Table:
    table = Table(title=f"{options.devices:,} devices over {options.connections} connections, "
                        f"{options.rate:,.0f} readings/s offered for {options.duration_s:.0f} s "
                        f"(after {options.warmup_s:.0f} s warm-up), QoS 1", title_justify="left")
    table.add_column("measure")
    for target in targets:
        table.add_column(target.name, justify="right")
    both = len(targets) == 2
    if both:
        table.add_column("citylink / bare", justify="right")
    figures = [Figures.of(t) for t in targets]

    def row(label: str, values: list[str], ratio: str = "") -> None:
        table.add_row(label, *values, *([ratio] if both else []))

    def ratio(values: list[float]) -> str:
        return f"{values[-1] / values[0]:.2f}×" if both and values[0] else ""

    row("published (acknowledged by the broker)", [f"{f.published:,}" for f in figures])
    row("publish failures", [f"{f.failed:,}" for f in figures])
    row("readings taken (stored / parsed)", [f"{f.taken:,}" for f in figures])
    row("lost (published, never taken)", [f"{f.lost:,}" for f in figures])
    row("sustained readings/s (measured window)", [f"{f.sustained_per_s:,.0f}" for f in figures],
        ratio([f.sustained_per_s for f in figures]))
    for label, attr in (("latency p50", "p50"), ("latency p90", "p90"), ("latency p99", "p99"),
                        ("latency p99.9", "p999"), ("latency max", "max")):
        values = [getattr(f.latency, attr) for f in figures]
        row(label, [ms(v) for v in values], ratio(values) if attr == "p99" else "")
    row("publisher send lag p99 (included above)", [ms(f.send_lag.p99) for f in figures])
    row("backlog when the load stopped (taken later)", [f"{f.backlog_at_load_end:,}" for f in figures])
    row("cleared after the load stopped", [f"{f.cleared_after_s:.2f} s" for f in figures])
    row("target process CPU (one core = 100%)",
        [f"{t.cpu_share:.0%}" if t.cpu_share is not None else "-" for t in targets])
    return table


# -- command line ---------------------------------------------------------------------------------------------

def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000.0, help="readings per second offered, all devices")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds at the same rate before measuring")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4, help="publisher connections to the broker")
    parser.add_argument("--drain-timeout", type=float, default=60.0,
                        help="longest wait for a target to take what was published")
    parser.add_argument("--quick", action="store_true", help="smoke run: 8 s per target, 2 s warm-up")
    parser.add_argument("--target", choices=("both", "bare", "citylink"), default="both")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    commands = parser.add_subparsers(dest="command")
    publish = commands.add_parser("publish", help="(internal) the publisher process")
    for name, kind in (("--rate", float), ("--duration", float), ("--warmup", float), ("--devices", int),
                       ("--connections", int)):
        publish.add_argument(name, type=kind, required=True)
    publish.add_argument("--prefix", required=True)
    publish.add_argument("--run", required=True)
    publish.add_argument("--out", type=Path, required=True)
    host = commands.add_parser("host", help="(internal) the citylink process")
    host.add_argument("--data-dir", type=Path, required=True)
    host.add_argument("--devices", type=int, required=True)
    host.add_argument("--prefix", required=True)
    host.add_argument("--client-id", required=True)
    host.add_argument("--ready", type=Path, required=True)
    host.add_argument("--out", type=Path, required=True)
    return parser.parse_args(argv)


def _broker_reachable() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.command == "publish":
        args.out.write_bytes(orjson.dumps(asyncio.run(_publish(args))))
        return 0
    if args.command == "host":
        asyncio.run(_host(args))
        return 0
    if not _broker_reachable():
        console.print(f"[red]Mosquitto is not reachable on {HOST}:{PORT}; start it first")
        return 1
    options = Options(rate=args.rate, duration_s=8.0 if args.quick else args.duration,
                      warmup_s=2.0 if args.quick else args.warmup, devices=args.devices,
                      connections=args.connections, drain_timeout_s=args.drain_timeout)
    run = f"bench-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="citylink-mqtt-bench-"))
    try:
        targets = []
        if args.target in ("both", "bare"):
            targets.append(run_bare(tmp, options, run))
        if args.target in ("both", "citylink"):
            targets.append(run_citylink(tmp, options, run))
    finally:
        if args.keep:
            console.print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    console.print(_table(options, targets))
    city = next((t for t in targets if t.name == "citylink"), None)
    if city is None:
        return 0
    if city.intake_stats is not None:
        console.print(f"citylink intake counters: {city.intake_stats}")
    figures = Figures.of(city)
    kept_up = figures.sustained_per_s >= SUSTAINED_SHARE * options.rate
    passed = kept_up and figures.lost == 0 and figures.failed == 0
    verdict = "[bold green]PASS[/]" if passed else "[bold red]FAIL[/]"
    console.print(f"{verdict} citylink: {figures.sustained_per_s:,.0f} readings/s stored vs {options.rate:,.0f} "
                  f"offered (target ≥ {SUSTAINED_SHARE:.0%}: {'yes' if kept_up else 'no'}), {figures.lost:,} lost, "
                  f"p99 publish → stored {ms(figures.latency.p99)}. citylink acknowledges a reading to the broker only "
                  "after its commit (SQLite synchronous=FULL).")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
