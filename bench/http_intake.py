"""Benchmark: HTTP event intake on the embedded default (SQLite), next to a bare endpoint served the same way.

    python bench/http_intake.py [--rate 2000] [--duration 60] [--connections 64] [--quick] [--profile]

Imports the Helsinki cameras into a temporary data directory, then serves two targets in turn, each with
uvicorn in its own process (one worker; uvloop and httptools, as uvicorn[standard] installs them):

- bare: a FastAPI endpoint that parses the same JSON body into the same pydantic model and answers 201;
- citylink: `python -m citylink serve` on the data directory, the real application.

One client process (bench/_load.py) drives both the same way: an open loop at --rate requests/s for
--duration seconds after --warmup seconds at the same rate, over --connections keep-alive connections,
every request a distinct valid event sent with the police key from bootstrap-keys.json. Latency runs from
each request's scheduled send time, so queueing in front of a slow server is counted. First a closed-loop
run against the bare endpoint gives the client's own ceiling.

citylink answers an event only after the transaction that stores it has committed (SQLite WAL,
synchronous=FULL): every 2xx below is a durably stored event. After the run the events in the store are
counted against the 2xx answers, and the time the services need to catch up is measured (events the
services have not yet handled have dispatched = 0).

Targets: >= --rate events/s sustained for the whole run with p99 <= 50 ms and no errors. Exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from _load import Summary, ms
from _processes import Server, free_port, thread_cpu

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
HELSINKI_PBF = REPO / "data" / "helsinki.osm.pbf"
TARGET_P99_MS = 50.0
SUSTAINED_SHARE = 0.99  # of the offered rate, answered 2xx over the run
_PROFILE_RATE_HZ = 100

console = Console(width=shutil.get_terminal_size((120, 40)).columns)


# -- processes ------------------------------------------------------------------------------------------------

def _run_client(port: int, out: Path, *, mode: str, rate: float, duration_s: float, warmup_s: float,
                connections: int, grace_s: float, seed: int, run: str,
                keys_file: Path | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(BENCH / "_load.py"), "client", "--port", str(port), "--mode", mode,
               "--rate", str(rate), "--duration", str(duration_s), "--warmup", str(warmup_s),
               "--connections", str(connections), "--grace", str(grace_s), "--seed", str(seed), "--run", run,
               "--out", str(out)]
    if keys_file is not None:
        command += ["--keys-file", str(keys_file), "--agency", "police"]
    return subprocess.Popen(command, cwd=REPO)


def _client_result(process: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
    if process.wait() != 0:
        raise RuntimeError(f"the load client failed with exit code {process.returncode}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# -- the store ------------------------------------------------------------------------------------------------

def _query(db: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        value = conn.execute(sql).fetchone()[0]
    return int(value or 0)


def undispatched(db: Path) -> int:
    return _query(db, "SELECT count(*) FROM events WHERE dispatched = 0")


@dataclass(frozen=True, slots=True)
class StoreCounts:
    events: int
    incidents: int
    grants: int
    notifications: int
    audit: int

    @classmethod
    def read(cls, db: Path) -> StoreCounts:
        return cls(*(_query(db, f"SELECT count(*) FROM {table}")
                     for table in ("events", "incidents", "grants", "notifications", "audit_log")))


# -- profiling ------------------------------------------------------------------------------------------------

def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass(frozen=True, slots=True)
class Profile:
    samples: int
    by_thread: list[tuple[str, int]]
    self_time: list[tuple[str, int]]
    citylink: list[tuple[str, int]]  # inclusive, citylink frames only
    by_package: list[tuple[str, int]]  # self time by thread and package (citylink by subpackage)

    @classmethod
    def read(cls, raw: Path, *, top: int = 15) -> Profile:
        """Aggregate py-spy's collapsed stacks ("thread;frame;...;frame count" per line)."""
        threads: collections.Counter[str] = collections.Counter()
        leaf: collections.Counter[str] = collections.Counter()
        ours: collections.Counter[str] = collections.Counter()
        packages: collections.Counter[str] = collections.Counter()
        total = 0
        for line in raw.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack:
                continue
            count = int(count_text)
            thread, *frames = stack.split(";")
            total += count
            thread_name = thread.split(": ", 1)[-1]
            threads[thread_name] += count
            if frames:
                leaf[frames[-1]] += count
                packages[f"{thread_name}: {_package(frames[-1])}"] += count
            for frame in {f for f in frames if "citylink/" in f}:
                ours[frame] += count
        return cls(total, threads.most_common(6), leaf.most_common(top), ours.most_common(top),
                   packages.most_common(2 * top))


def _package(frame: str) -> str:
    """Where a py-spy frame ("name (path/file.py:line)") lives: the top-level package, or the module of the
    standard library; citylink by subpackage, so the store and the runtime show apart."""
    path = frame.rpartition(" (")[2].rstrip(")").rpartition(":")[0]
    if path.startswith("<"):  # generated code, e.g. "<sqlalchemy generated __init__ for class ...>"
        return path[1:].split(" ", 1)[0]
    parts = path.split("/")
    if parts[0] == "citylink" and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0].removesuffix(".py") or frame


def _record_profile(pid: int, out: Path, *, duration_s: float) -> subprocess.Popen[bytes] | None:
    py_spy = _py_spy()
    if py_spy is None:
        console.print("[yellow]--profile: py-spy not found (.venv/bin/pip install py-spy); not profiling")
        return None
    # --gil: only the thread holding the GIL is sampled, so the figures split the one core Python code can use.
    return subprocess.Popen([py_spy, "record", "--pid", str(pid), "--duration", str(max(int(duration_s), 1)),
                             "--rate", str(_PROFILE_RATE_HZ), "--format", "raw", "--gil", "--threads",
                             "--nonblocking", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- runs -----------------------------------------------------------------------------------------------------

@dataclass
class Options:
    rate: float
    duration_s: float
    warmup_s: float
    connections: int
    grace_s: float
    ceiling_s: float
    drain_timeout_s: float
    seed: int
    profile: bool


@dataclass
class CitylinkRun:
    client: dict[str, Any]
    events_stored: int
    counts: StoreCounts
    undispatched_samples: list[tuple[float, int]]
    undispatched_at_end: int
    idle_after_s: float | None  # None: not idle within the drain timeout
    loop_cpu_share: float
    other_cpu_share: float
    busiest_other_share: float
    profile: Profile | None


def run_bare(tmp: Path, options: Options) -> tuple[dict[str, Any], dict[str, Any]]:
    port = free_port()
    server = Server.start("bare endpoint", [sys.executable, str(BENCH / "_load.py"), "bare-server", "--port",
                                            str(port)], port=port, log=tmp / "bare.log")
    try:
        with console.status(f"bare endpoint: client ceiling, closed loop for {options.ceiling_s:.0f} s"):
            out = tmp / "bare-ceiling.json"
            ceiling = _client_result(_run_client(port, out, mode="closed", rate=options.rate,
                                                 duration_s=options.ceiling_s, warmup_s=0,
                                                 connections=options.connections, grace_s=options.grace_s,
                                                 seed=options.seed, run="C", keys_file=None), out)
        with console.status(f"bare endpoint: {options.rate:,.0f}/s for {options.warmup_s:.0f} s warm-up + "
                            f"{options.duration_s:.0f} s"):
            out = tmp / "bare-open.json"
            cpu_before = _process_cpu_s(server.process.pid)
            result = _client_result(_run_client(port, out, mode="open", rate=options.rate,
                                                duration_s=options.duration_s, warmup_s=options.warmup_s,
                                                connections=options.connections, grace_s=options.grace_s,
                                                seed=options.seed, run="B", keys_file=None), out)
            result["server_cpu_s"] = _process_cpu_s(server.process.pid) - cpu_before
    finally:
        server.stop()
    return ceiling, result


def run_citylink(tmp: Path, data_dir: Path, options: Options) -> CitylinkRun:
    port = free_port()
    db = data_dir / "citylink.db"
    command = [sys.executable, "-m", "citylink", "serve", "--data-dir", str(data_dir), "--port", str(port),
               "--log-level", "warning"]
    server = Server.start("citylink", command, port=port, log=tmp / "citylink.log")
    pid = server.process.pid
    try:
        out = tmp / "citylink-open.json"
        cpu_at_client_start = _process_cpu_s(pid)
        client = _run_client(port, out, mode="open", rate=options.rate, duration_s=options.duration_s,
                             warmup_s=options.warmup_s, connections=options.connections, grace_s=options.grace_s,
                             seed=options.seed, run="L", keys_file=data_dir / "bootstrap-keys.json")
        started = time.monotonic()
        samples: list[tuple[float, int]] = []
        profiler: subprocess.Popen[bytes] | None = None
        cpu_before: dict[int, float] = {}
        cpu_started = started
        with console.status(f"citylink: {options.rate:,.0f}/s for {options.warmup_s:.0f} s warm-up + "
                            f"{options.duration_s:.0f} s"):
            while client.poll() is None:
                elapsed = time.monotonic() - started
                if not cpu_before and elapsed >= options.warmup_s:
                    cpu_before, cpu_started = thread_cpu(pid), time.monotonic()
                    if options.profile:
                        profiler = _record_profile(pid, tmp / "citylink-profile.txt",
                                                   duration_s=options.duration_s)
                if not samples or elapsed - samples[-1][0] >= 5.0:
                    samples.append((elapsed, undispatched(db)))
                time.sleep(0.1)
            cpu_after, cpu_window = thread_cpu(pid), time.monotonic() - cpu_started
        result = _client_result(client, out)
        result["server_cpu_s"] = _process_cpu_s(pid) - cpu_at_client_start
        load_stopped = time.monotonic()
        at_end = undispatched(db)
        idle_after: float | None = 0.0
        with console.status("citylink: waiting for the services to handle every stored event"):
            while (left := undispatched(db)) > 0:
                if time.monotonic() - load_stopped > options.drain_timeout_s:
                    idle_after = None
                    break
                time.sleep(0.1)
            if left == 0:
                idle_after = time.monotonic() - load_stopped
        profile = None
        if profiler is not None:
            profiler.wait()
            raw = tmp / "citylink-profile.txt"
            profile = Profile.read(raw) if raw.exists() else None
        counts = StoreCounts.read(db)
    finally:
        server.stop()
    used = {tid: cpu_after.get(tid, 0.0) - cpu_before.get(tid, 0.0) for tid in cpu_after}
    others = sorted((v for tid, v in used.items() if tid != pid), reverse=True)
    window = max(cpu_window, 1e-9)
    return CitylinkRun(result, counts.events, counts, samples, at_end, idle_after, used.get(pid, 0.0) / window,
                       sum(others) / window, (others[0] if others else 0.0) / window, profile)


# -- report ---------------------------------------------------------------------------------------------------

def _measured(result: dict[str, Any]) -> dict[str, Any]:
    measured: dict[str, Any] = result["measured"]
    return measured


def _latency(result: dict[str, Any], key: str = "latency_ms") -> Summary:
    data = _measured(result).get(key)
    return Summary.from_dict(data) if data else Summary.of_ns([])


def _passes(result: dict[str, Any], rate: float) -> tuple[bool, bool]:
    m = _measured(result)
    sustained = (m["not_sent"] == 0 and m["non_2xx"] == 0 and m["connection_errors"] == 0
                 and m.get("achieved_rps", 0.0) >= SUSTAINED_SHARE * rate)
    return sustained, _latency(result).p99 <= TARGET_P99_MS


def _ceiling_table(ceiling: dict[str, Any]) -> Table:
    m = _measured(ceiling)
    cpu_per_request_us = ceiling["client_cpu_s"] / max(m["sent"], 1) * 1e6
    table = Table(title="client ceiling: closed loop against the bare endpoint", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("connections", f"{ceiling['connections']}")
    table.add_row("requests answered / s", f"{m.get('achieved_rps', 0.0):,.0f}")
    table.add_row("latency p50 / p99", f"{ms(_latency(ceiling).p50)} / {ms(_latency(ceiling).p99)}")
    table.add_row("client CPU (one core = 100%)", f"{ceiling['client_cpu_s'] / ceiling['client_wall_s']:.0%}")
    table.add_row("client CPU per request", f"{cpu_per_request_us:,.0f} µs")
    table.add_row("client's own ceiling (1 core / CPU per request)", f"≈ {1e6 / cpu_per_request_us:,.0f} /s")
    return table


def _results_table(options: Options, bare: dict[str, Any] | None, city: CitylinkRun | None) -> Table:
    table = Table(title=f"open loop at {options.rate:,.0f} requests/s for {options.duration_s:.0f} s "
                        f"(after {options.warmup_s:.0f} s warm-up), {options.connections} connections",
                  title_justify="left")
    table.add_column("measure")
    targets: list[dict[str, Any]] = []
    if bare is not None:
        table.add_column("bare endpoint", justify="right")
        targets.append(bare)
    if city is not None:
        table.add_column("citylink", justify="right")
        targets.append(city.client)
    both = bare is not None and city is not None
    if both:
        table.add_column("citylink / bare", justify="right")

    def row(label: str, values: list[str], ratio: str = "") -> None:
        table.add_row(label, *values, *([ratio] if both else []))

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}×" if b else "-"

    ms_ = [_measured(t) for t in targets]
    achieved = [m.get("achieved_rps", 0.0) for m in ms_]
    row("requests scheduled", [f"{m['scheduled']:,}" for m in ms_])
    row("answered 2xx", [f"{m['ok']:,}" for m in ms_])
    row("achieved rate (2xx / s)", [f"{a:,.0f}" for a in achieved], ratio(achieved[-1], achieved[0]) if both else "")
    row("slowest / fastest whole second", [f"{m.get('per_second_min', 0):,} / {m.get('per_second_max', 0):,}"
                                           for m in ms_])
    row("rate in the first / last 10 s", [f"{m.get('first_10s_rps', 0.0):,.0f} / {m.get('last_10s_rps', 0.0):,.0f}"
                                          for m in ms_])
    for label, attr in (("latency p50", "p50"), ("latency p90", "p90"), ("latency p99", "p99"),
                        ("latency p99.9", "p999"), ("latency max", "max")):
        values = [getattr(_latency(t), attr) for t in targets]
        row(label, [ms(v) for v in values], ratio(values[-1], values[0]) if both and attr == "p99" else "")
    row("server time p99 (from the actual send)", [ms(_latency(t, "service_ms").p99) for t in targets])
    row("client send lag p99 (included above)", [ms(_latency(t, "send_lag_ms").p99) for t in targets])
    row("non-2xx answers", [f"{m['non_2xx']:,}" for m in ms_])
    row("connection errors", [f"{m['connection_errors']:,}" for m in ms_])
    row("not sent (still queued at schedule end + grace)", [f"{m['not_sent']:,}" for m in ms_])
    row("client CPU (one core = 100%)", [f"{t['client_cpu_s'] / t['client_wall_s']:.0%}" for t in targets])
    # Python runs one thread at a time per process: 1 s over this cost is what one process can answer at most.
    per_answer = [t["server_cpu_s"] / max(t["total"]["ok"], 1) * 1e6 for t in targets]
    row("server CPU per 2xx answer, warm-up included", [f"{us:,.0f} µs" for us in per_answer],
        ratio(per_answer[-1], per_answer[0]) if both else "")
    row("answers/s one process could give at that cost", [f"{1e6 / us:,.0f}" if us else "-" for us in per_answer])
    return table


def _process_cpu_s(pid: int) -> float:
    """CPU seconds of the whole process, its ended threads included (thread_cpu sees only live ones)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _citylink_table(city: CitylinkRun) -> Table:
    total = city.client["total"]
    table = Table(title="citylink: store and services", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("2xx answers, warm-up + measured (201 created)", f"{total['ok']:,} ({total['created']:,})")
    table.add_row("events in the store", f"{city.events_stored:,}")
    table.add_row("events in the store == 2xx answers", "yes" if city.events_stored == total["ok"] else "[red]NO[/]")
    trend = ", ".join(f"{n:,}@{t:.0f}s" for t, n in city.undispatched_samples)
    table.add_row("undispatched during the load", trend)
    table.add_row("undispatched when the load stopped", f"{city.undispatched_at_end:,}")
    table.add_row("services idle after the load stopped",
                  f"{city.idle_after_s:.1f} s" if city.idle_after_s is not None else "[red]not within the timeout")
    table.add_row("incidents / grants / notifications / audit records",
                  f"{city.counts.incidents:,} / {city.counts.grants:,} / {city.counts.notifications:,} / "
                  f"{city.counts.audit:,}")
    table.add_row("server CPU: event-loop thread", f"{city.loop_cpu_share:.0%}")
    table.add_row("server CPU: other threads (busiest one)",
                  f"{city.other_cpu_share:.0%} ({city.busiest_other_share:.0%})")
    return table


def _profile_tables(profile: Profile) -> list[Table]:
    tables = []
    for title, rows in (("GIL held, by thread", profile.by_thread),
                        ("GIL held, top frames (self)", profile.self_time),
                        ("GIL held, citylink frames (inclusive)", profile.citylink),
                        ("GIL held, by thread and package (self)", profile.by_package)):
        table = Table(title=f"citylink profile (py-spy --gil, {profile.samples:,} samples): {title}",
                      title_justify="left")
        table.add_column("where")
        table.add_column("share", justify="right")
        for name, count in rows:
            table.add_row(name, f"{count / max(profile.samples, 1):.1%}")
        tables.append(table)
    return tables


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000.0, help="offered requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds at the same rate before measuring")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 s per target, 2 s warm-up")
    parser.add_argument("--target", choices=("both", "bare", "citylink"), default="both")
    parser.add_argument("--ceiling", type=float, default=5.0, help="seconds of the closed-loop ceiling run")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="requests still queued this long after the schedule ends are not sent")
    parser.add_argument("--drain-timeout", type=float, default=120.0,
                        help="longest wait for the services to catch up after the load")
    parser.add_argument("--profile", action="store_true",
                        help="record the citylink server with py-spy during the measured run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    quick = args.quick
    options = Options(rate=args.rate, duration_s=10.0 if quick else args.duration,
                      warmup_s=2.0 if quick else args.warmup, connections=args.connections, grace_s=args.grace,
                      ceiling_s=3.0 if quick else args.ceiling, drain_timeout_s=args.drain_timeout,
                      seed=args.seed, profile=args.profile)
    tmp = Path(tempfile.mkdtemp(prefix="citylink-http-bench-"))
    data_dir = tmp / "data"
    try:
        ceiling = bare = None
        city: CitylinkRun | None = None
        if args.target in ("both", "bare"):
            ceiling, bare = run_bare(tmp, options)
            console.print(_ceiling_table(ceiling))
        if args.target in ("both", "citylink"):
            with console.status("importing the Helsinki cameras"):
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "citylink", "import", "cameras", str(HELSINKI_PBF),
                                "--data-dir", str(data_dir)], check=True, cwd=REPO, capture_output=True)
                import_s = time.perf_counter() - started
            console.print(f"imported the Helsinki cameras ({HELSINKI_PBF.name}) in {import_s:.1f} s")
            city = run_citylink(tmp, data_dir, options)
        console.print(_results_table(options, bare, city))
        if city is not None:
            console.print(_citylink_table(city))
            if city.profile is not None:
                for table in _profile_tables(city.profile):
                    console.print(table)
    finally:
        if args.keep:
            console.print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    console.print("citylink answers only after the event's transaction has committed (SQLite WAL, "
                  "synchronous=FULL): every 2xx is a durably stored event.")
    passed = True
    for name, result in (("bare endpoint", bare), ("citylink", city.client if city else None)):
        if result is None:
            continue
        sustained, fast = _passes(result, options.rate)
        ok = sustained and fast and (name != "citylink" or (city is not None and city.events_stored
                                                            == city.client["total"]["ok"]))
        passed = passed and (ok or name != "citylink")
        m = _measured(result)
        verdict = "[bold green]PASS[/]" if ok else "[bold red]FAIL[/]"
        console.print(f"{verdict} {name}: {m.get('achieved_rps', 0.0):,.0f} events/s answered vs "
                      f"{options.rate:,.0f} offered (target ≥ {SUSTAINED_SHARE:.0%}, all sent, no errors: "
                      f"{'yes' if sustained else 'no'}); p99 {ms(_latency(result).p99)} vs target "
                      f"{TARGET_P99_MS:.0f} ms ({'yes' if fast else 'no'})")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
