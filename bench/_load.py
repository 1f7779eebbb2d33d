"""Load generation shared by the end-to-end benchmarks.

- ``helsinki_event_bodies``: distinct, valid event bodies with a realistic mix of codes around central Helsinki;
- ``http_request``: one pre-serialised HTTP/1.1 request, so the client spends nothing on encoding while it runs;
- an open-loop, constant-rate client over keep-alive connections. Every request has a scheduled send time
  and its latency runs from that time, not from when a connection became free, so a slow server cannot hide
  its queueing in the client (no coordinated omission). A closed-loop client measures the ceiling;
- ``bare_app``: the bare endpoint, a FastAPI app that parses the same body into the same pydantic model and
  answers 201, served the same way as citylink.

Run as its own process, so the client has its own interpreter (and GIL):

    python bench/_load.py client --port 8000 --rate 2000 --duration 60 --out result.json [...]
    python bench/_load.py bare-server --port 8001
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from fastapi import FastAPI

from citylink.api.schemas import EventAccepted, EventIn

# (lon_min, lat_min, lon_max, lat_max): central Helsinki, where the bundled OSM extract has its cameras
HELSINKI_BBOX = (24.935, 60.164, 24.953, 60.179)
EVENTS_PATH = "/api/v1/events"

# Share of each code in the generated traffic: linked-service events (video, dispatch, SOS, disaster) and
# the sensor and facility events that are stored but acted on by no service.
CODE_MIX: tuple[tuple[str, float], ...] = (
    ("112UC001", 0.22),  # 112 emergency video: select cameras, grant the police
    ("119UC001", 0.12),  # 119 dispatch: select cameras, grant fire
    ("112UC120", 0.05),  # 112 dispatch support: same cameras, grant the police and the patrol unit
    ("WPSSF110", 0.04),  # vulnerable-person SOS: cameras, grant, notifications
    ("DUCDP110", 0.01),  # disaster: every camera in the area
    ("EBSCP110", 0.10),  # emergency bell
    ("TUATR100", 0.10),  # traffic incident
    ("FMSFT110", 0.16),  # licence-plate recognition
    ("MTSUC240", 0.12),  # CCTV facility event
    ("POCCP103", 0.08),  # safe return home
)
_SYSTEMS = {"112UC001": "112", "112UC120": "112", "119UC001": "119", "DUCDP110": "NDMS", "WPSSF110": "WPS",
            "FMSFT110": "LPR", "MTSUC240": "FMS"}
_CRIMES = ("robbery", "theft", "domestic_violence", "pickpocketing", "fraud", "vandalism")
_PLACES = ("Rautatientori", "Esplanadi", "Kamppi", "Senaatintori", "Kauppatori", "Aleksanterinkatu",
           "Mannerheimintie", "Kluuvi")

FloatArray = npt.NDArray[np.float64]

_CLOSED_POOL = 10_000  # distinct requests a closed-loop run cycles through
_CLOSED_MAX_RPS = 50_000  # room for timings in a closed-loop run, per second


# -- event bodies ---------------------------------------------------------------------------------------------

def helsinki_event_bodies(n: int, *, seed: int, run: str,
                          bbox: tuple[float, float, float, float] = HELSINKI_BBOX) -> Iterator[dict[str, Any]]:
    """n distinct valid event bodies (status 10, unique occurrence numbers ``<run><i>``), deterministic by seed."""
    rng = random.Random(seed)
    codes = [c for c, _ in CODE_MIX]
    weights = [w for _, w in CODE_MIX]
    lon_min, lat_min, lon_max, lat_max = bbox
    base = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    for i in range(n):
        code = rng.choices(codes, weights)[0]
        lon, lat = round(rng.uniform(lon_min, lon_max), 6), round(rng.uniform(lat_min, lat_max), 6)
        body: dict[str, Any] = {
            "code": code, "status": "10", "occurrence": f"{run}{i:09d}",
            "time": (base + timedelta(milliseconds=i)).isoformat(),
            "location": {"lon": lon, "lat": lat}, "place": rng.choice(_PLACES),
            "content": f"benchmark event {i}",
            "sender": {"system": _SYSTEMS.get(code, "IoT"), "city": "helsinki"},
        }
        if code == "112UC001":
            body["items"] = [{"key": "CRIME_TYPE", "val": rng.choice(_CRIMES)}]
        elif code == "112UC120":
            body["items"] = [{"key": "UNIT", "val": f"patrol-{rng.randint(1, 40)}"},
                             {"key": "SCENE_IMAGE_URL", "val": f"https://cams.example/scene/{i}.jpg"}]
        elif code == "WPSSF110":
            body["items"] = [{"key": "PERSON_REF", "val": f"P{rng.randint(1, 9999):04d}"},
                             {"key": "SOS_TYPE", "val": rng.choice(("button", "geofence_exit"))},
                             {"key": "GUARDIAN_PHONE", "val": "+358401234567"}]
        elif code == "DUCDP110":
            if rng.random() < 0.5:
                body["radius_m"] = 300.0
            else:
                d = 0.002
                body["area"] = {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d],
                                                                     [lon + d, lat + d], [lon - d, lat + d],
                                                                     [lon - d, lat - d]]]}
        yield body


def http_request(body: dict[str, Any], *, host: str, key: str, path: str = EVENTS_PATH) -> bytes:
    payload = orjson.dumps(body)
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode("latin-1") + payload


# -- latency summaries ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Summary:
    """Percentiles of a latency sample, in milliseconds."""

    n: int
    p50: float
    p90: float
    p99: float
    p999: float
    max: float
    mean: float

    @classmethod
    def of_ns(cls, ns: npt.ArrayLike) -> Summary:
        ms: FloatArray = np.asarray(ns, dtype=np.float64) / 1e6
        if not ms.size:
            return cls(0, *([float("nan")] * 6))
        p50, p90, p99, p999 = (float(v) for v in np.percentile(ms, (50, 90, 99, 99.9)))
        return cls(int(ms.size), p50, p90, p99, p999, float(ms.max()), float(ms.mean()))

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Summary:
        return cls(int(data["n"]), data["p50"], data["p90"], data["p99"], data["p999"], data["max"], data["mean"])

    def as_dict(self) -> dict[str, float]:
        return {"n": self.n, "p50": self.p50, "p90": self.p90, "p99": self.p99, "p999": self.p999,
                "max": self.max, "mean": self.mean}


def ms(value: float) -> str:
    """A latency in ms for a table: µs below 1 ms."""
    if value != value:  # NaN
        return "-"
    return f"{value * 1000:,.0f} µs" if value < 1.0 else f"{value:,.2f} ms"


# -- the HTTP client ------------------------------------------------------------------------------------------

class _Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time (no pipelining)."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(self, data: bytes) -> int:
        """The response status, or -1 when the connection failed (it is reopened for the next request)."""
        try:
            if self._writer is None or self._reader is None:
                await self.open()
            assert self._writer is not None and self._reader is not None
            self._writer.write(data)
            head = await self._reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            start = lower.find(b"\r\ncontent-length:")
            if start >= 0:
                end = lower.find(b"\r\n", start + 2)
                length = int(lower[start + 17:end])
                if length:
                    await self._reader.readexactly(length)
            elif b"\r\ntransfer-encoding: chunked" in lower:
                await self._reader.readuntil(b"0\r\n\r\n")
            if b"\r\nconnection: close" in lower:
                self.close()
            return status
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            self.close()
            return -1


@dataclass(slots=True)
class _Timings:
    """Per request: scheduled send time, actual send time, completion time (perf_counter ns), status."""

    scheduled: array[int]
    sent: array[int]
    done: array[int]
    status: array[int]

    @classmethod
    def empty(cls, n: int) -> _Timings:
        return cls(array("q", bytes(8 * n)), array("q", bytes(8 * n)), array("q", bytes(8 * n)),
                   array("h", bytes(2 * n)))


async def _connect_all(host: str, port: int, connections: int) -> list[_Connection]:
    conns = [_Connection(host, port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in conns))
    return conns


async def open_loop(host: str, port: int, requests: list[bytes], *, rate: float, connections: int,
                    grace_s: float) -> _Timings:
    """Send requests[i] at start + i / rate over the connections. Requests still queued grace_s after the
    last scheduled time are not sent (status 0); those in flight are waited for."""
    n = len(requests)
    timings = _Timings.empty(n)
    conns = await _connect_all(host, port, connections)
    queue: asyncio.Queue[int] = asyncio.Queue()
    interval_ns = 1e9 / rate
    start = time.perf_counter_ns() + 20_000_000
    cutoff = start + int(n * interval_ns + grace_s * 1e9)

    async def ticker() -> None:
        i = 0
        while i < n:
            now = time.perf_counter_ns()
            while i < n and (at := start + int(i * interval_ns)) <= now:
                timings.scheduled[i] = at
                queue.put_nowait(i)
                i += 1
            if i < n:
                # Never sleep below 1 ms: shorter sleeps round to zero in the loop's timer and spin the CPU.
                await asyncio.sleep(max((start + int(i * interval_ns) - time.perf_counter_ns()) / 1e9, 1e-3))
        for _ in conns:
            queue.put_nowait(-1)

    async def worker(conn: _Connection) -> None:
        while (i := await queue.get()) >= 0:
            now = time.perf_counter_ns()
            if now > cutoff:
                continue  # the server fell too far behind; this one is counted as not sent
            timings.sent[i] = now
            timings.status[i] = await conn.request(requests[i])
            timings.done[i] = time.perf_counter_ns()

    await asyncio.gather(ticker(), *(worker(c) for c in conns))
    for conn in conns:
        conn.close()
    return timings


async def closed_loop(host: str, port: int, requests: list[bytes], *, duration_s: float, connections: int,
                      capacity: int) -> _Timings:
    """Every connection sends its next request as soon as the previous answer is in, for duration_s (or until
    capacity requests), cycling through requests."""
    conns = await _connect_all(host, port, connections)
    timings = _Timings.empty(capacity)
    counter = iter(range(capacity))
    deadline = time.perf_counter_ns() + int(duration_s * 1e9)

    async def worker(conn: _Connection) -> None:
        for i in counter:
            now = time.perf_counter_ns()
            if now > deadline:
                return
            timings.scheduled[i] = timings.sent[i] = now
            timings.status[i] = await conn.request(requests[i % len(requests)])
            timings.done[i] = time.perf_counter_ns()

    await asyncio.gather(*(worker(c) for c in conns))
    for conn in conns:
        conn.close()
    return timings


def _window_report(t: _Timings, lo: int, hi: int) -> dict[str, Any]:
    """Figures for requests lo..hi-1 (one phase of the schedule).

    Throughput counts every 2xx answer (of any phase) that arrived between the phase's first scheduled send
    and its last answer: an overloaded server still answering warm-up requests early in the phase is working
    at its full rate all the same."""
    all_done = np.frombuffer(t.done, dtype=np.int64)
    all_status = np.frombuffer(t.status, dtype=np.int16)
    scheduled = np.frombuffer(t.scheduled, dtype=np.int64)[lo:hi]
    sent = np.frombuffer(t.sent, dtype=np.int64)[lo:hi]
    done, status = all_done[lo:hi], all_status[lo:hi]
    attempted = sent > 0
    ok = (status >= 200) & (status < 300)
    counts = {str(int(s)): int(c) for s, c in zip(*np.unique(status[attempted], return_counts=True), strict=True)}
    report: dict[str, Any] = {
        "scheduled": int(hi - lo), "sent": int(attempted.sum()), "not_sent": int((~attempted).sum()),
        "ok": int(ok.sum()), "created": int((status == 201).sum()),
        "non_2xx": int((attempted & ~ok & (status > 0)).sum()), "connection_errors": int((status < 0).sum()),
        "status_counts": counts,
    }
    if ok.any():
        first, last = int(scheduled[attempted].min()), int(done[done > 0].max())
        span_s = max((last - first) / 1e9, 1e-9)
        all_ok = (all_status >= 200) & (all_status < 300)
        answered = np.sort(all_done[all_ok & (all_done >= first) & (all_done <= last)])
        report["span_s"] = span_s
        report["achieved_rps"] = float(answered.shape[0] / span_s)
        report["latency_ms"] = Summary.of_ns(done[ok] - scheduled[ok]).as_dict()
        report["service_ms"] = Summary.of_ns(done[ok] - sent[ok]).as_dict()
        report["send_lag_ms"] = Summary.of_ns(sent[attempted] - scheduled[attempted]).as_dict()
        # 2xx answers in each whole second of the span (a last, partial second left out)
        per_second = np.bincount((answered - first) // 1_000_000_000)
        full = per_second[:-1] if per_second.shape[0] > 1 else per_second
        report["per_second_min"] = int(full.min())
        report["per_second_max"] = int(full.max())
        report["first_10s_rps"] = float(full[:10].mean())
        report["last_10s_rps"] = float(full[-10:].mean())
    return report


def _build_requests(n: int, *, host: str, key: str, seed: int, run: str) -> list[bytes]:
    return [http_request(body, host=host, key=key) for body in helsinki_event_bodies(n, seed=seed, run=run)]


def _read_key(keys_file: Path | None, agency: str) -> str:
    if keys_file is None:
        return "bench-no-key"
    keys: dict[str, str] = json.loads(keys_file.read_text())
    return keys[agency]


def _client_main(args: argparse.Namespace) -> int:
    key = _read_key(args.keys_file, args.agency)
    host = f"{args.host}:{args.port}"
    warmup_n = round(args.rate * args.warmup) if args.mode == "open" else 0
    n = warmup_n + round(args.rate * args.duration) if args.mode == "open" else _CLOSED_POOL
    requests = _build_requests(n, host=host, key=key, seed=args.seed, run=args.run)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if args.mode == "open":
        timings = asyncio.run(open_loop(args.host, args.port, requests, rate=args.rate,
                                        connections=args.connections, grace_s=args.grace))
    else:
        timings = asyncio.run(closed_loop(args.host, args.port, requests, duration_s=args.duration,
                                          connections=args.connections,
                                          capacity=round(args.duration * _CLOSED_MAX_RPS)))
        n = int(np.count_nonzero(np.frombuffer(timings.sent, dtype=np.int64)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    result = {
        "mode": args.mode, "rate": args.rate, "duration_s": args.duration, "warmup_s": args.warmup,
        "connections": args.connections, "client_cpu_s": cpu, "client_wall_s": wall,
        "warmup": _window_report(timings, 0, warmup_n) if warmup_n else None,
        "measured": _window_report(timings, warmup_n, n),
        "total": _window_report(timings, 0, n),
    }
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0


# -- the bare endpoint ----------------------------------------------------------------------------------------

def bare_app() -> FastAPI:
    """POST /api/v1/events: the same body parsed into the same pydantic model, 201 with the same response model;
    no authentication, no store, no services."""
    app = FastAPI(title="bare endpoint")

    @app.post(EVENTS_PATH, status_code=201)
    async def post_event(body: EventIn) -> EventAccepted:
        event = body.to_event()
        return EventAccepted(incident_id=event.incident_id, event_id=event.event_id)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _bare_main(args: argparse.Namespace) -> int:
    import uvicorn

    # The same options `citylink serve` passes to uvicorn.run: one process, uvloop and httptools when installed.
    uvicorn.run(bare_app(), host=args.host, port=args.port, log_level="warning", access_log=False, log_config=None)
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    client = commands.add_parser("client", help="drive an HTTP target and write its figures as JSON")
    client.add_argument("--host", default="127.0.0.1")
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--mode", choices=("open", "closed"), default="open",
                        help="open: constant rate; closed: as fast as the connections allow (the ceiling)")
    client.add_argument("--rate", type=float, default=2000.0, help="requests per second (open loop)")
    client.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    client.add_argument("--warmup", type=float, default=5.0, help="seconds at the same rate before measuring")
    client.add_argument("--connections", type=int, default=64)
    client.add_argument("--grace", type=float, default=10.0,
                        help="requests still queued this long after the schedule ends are not sent")
    client.add_argument("--keys-file", type=Path, help="bootstrap-keys.json of the target")
    client.add_argument("--agency", default="police", help="whose key from --keys-file to send")
    client.add_argument("--seed", type=int, default=1)
    client.add_argument("--run", default="B", help="prefix of the occurrence numbers")
    client.add_argument("--out", type=Path, required=True)
    bare = commands.add_parser("bare-server", help="serve the bare endpoint with uvicorn")
    bare.add_argument("--host", default="127.0.0.1")
    bare.add_argument("--port", type=int, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    return _client_main(args) if args.command == "client" else _bare_main(args)


if __name__ == "__main__":
    sys.exit(main())
