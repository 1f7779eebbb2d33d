"""Benchmark: events through the Korean linkage protocol (plain and ARIA-encrypted) next to the native API, in
the same run, on the same server.

    python bench/linkage_intake.py [--duration 20] [--connections 32] [--quick]

Imports the Helsinki cameras into a temporary data directory and serves citylink (`python -m citylink serve`,
SQLite, one process) with a linkage passphrase configured. One client drives three phases in turn, each a
closed loop over --connections keep-alive connections for --duration seconds, each request a distinct event of
the benchmark mix (bench/_load.py):

- native: ``POST /api/v1/events`` with the police key;
- linkage: ``POST /linkHttp/recvEvent.json``, the same events as protocol messages with a session key from
  ``POST /api/getAuth.json``;
- linkage, encrypted: the same with the body ARIA-256 encrypted (encAt Y, base64).

Figures per phase: answered events per second, answer latency, and the latency to the first grant (from the
event's receipt to its first video grant, read from the store once the services are idle). No target: the
issue asks for the figures next to the native API's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from _load import Summary, closed_loop, helsinki_event_bodies, http_request, ms
from _processes import Server, free_port
from citylink.adapters import scsns
from citylink.adapters.scsns_cipher import encrypt_body
from citylink.domain.catalogue import CATALOGUE
from citylink.domain.events import Event

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
HELSINKI_PBF = REPO / "data" / "helsinki.osm.pbf"
PASSPHRASE = "benchmark-passphrase-시흥"
LINK_PATH = "/linkHttp/recvEvent.json"
POOL = 20_000  # distinct events per phase; a phase stops when it has sent them all

console = Console(width=shutil.get_terminal_size((120, 40)).columns)


def _native_event(body: dict[str, Any]) -> Event:
    entry = CATALOGUE[body["code"]]
    return Event.model_validate({**body, "name": entry.name_ko, "grade": entry.default_grade.value})


def _requests(mode: str, *, host: str, key: str, session: str) -> list[bytes]:
    out = []
    for body in helsinki_event_bodies(POOL, seed=7, run=mode[:2].upper()):
        if mode == "native":
            out.append(http_request(body, host=host, key=key))
            continue
        protocol_body = scsns.event_body(_native_event(body))
        encrypted = mode == "encrypted"
        carried: object = (encrypt_body(json.dumps(protocol_body, ensure_ascii=False).encode(), PASSPHRASE)
                           if encrypted else protocol_body)
        message = scsns.envelope_message(svc_ty="EVENT", send_cd="helsinki", rcv_cd="helsinki", sys_cd="112",
                                         rr_key=session, trail=(), body=carried, encrypted=encrypted,
                                         now=_native_event(body).time)
        out.append(http_request(message, host=host, key=key, path=LINK_PATH))
    return out


def _session(port: int, key: str) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/getAuth.json", method="POST",
                                     data=json.dumps({"svcTy": "AUTH", "body": {"apiKey": key}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = json.loads(response.read())
    if reply["result"] != "0":
        raise RuntimeError(f"authentication failed: {reply}")
    return str(reply["message"])


def _grant_delays_ms(db: Path, prefix: str) -> list[float]:
    """Per event of the phase that got video: its receipt to its incident's first grant."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT e.received_at, MIN(g.issued_at) FROM events e JOIN incidents i ON i.id = e.incident_id "
            "JOIN grants g ON g.incident_id = i.id WHERE i.occurrence LIKE ? GROUP BY e.id", (f"{prefix}%",)
        ).fetchall()
    finally:
        conn.close()

    def at(text: str) -> float:
        return datetime.fromisoformat(text).timestamp()

    return [(at(granted) - at(received)) * 1000.0 for received, granted in rows]


def _undispatched(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events WHERE dispatched = 0").fetchone()[0])
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 s per phase")
    args = parser.parse_args(argv)
    duration = 4.0 if args.quick else args.duration
    tmp = Path(tempfile.mkdtemp(prefix="citylink-linkage-bench-"))
    data_dir = tmp / "data"
    env = {**os.environ, "CITYLINK_LINKAGE__PASSPHRASES": json.dumps({"*": PASSPHRASE})}
    try:
        with console.status("importing the Helsinki cameras"):
            subprocess.run([sys.executable, "-m", "citylink", "import", "cameras", str(HELSINKI_PBF),
                            "--data-dir", str(data_dir)], check=True, cwd=REPO, capture_output=True, env=env)
        port = free_port()
        server = Server.start("citylink", [sys.executable, "-m", "citylink", "serve", "--data-dir", str(data_dir),
                                           "--port", str(port), "--log-level", "warning"],
                              port=port, log=tmp / "citylink.log", env=env)
        rows = []
        try:
            key = json.loads((data_dir / "bootstrap-keys.json").read_text())["police"]
            session = _session(port, key)
            host = f"127.0.0.1:{port}"
            for mode, label in (("native", "native API"), ("plain", "linkage, plain"),
                                ("encrypted", "linkage, ARIA-256")):
                requests = _requests(mode, host=host, key=key, session=session)
                with console.status(f"{label}: {args.connections} connections for {duration:.0f} s"):
                    timings = asyncio.run(closed_loop("127.0.0.1", port, requests, duration_s=duration,
                                                      connections=args.connections, capacity=len(requests)))
                done, sent = np.frombuffer(timings.done, dtype=np.int64), np.frombuffer(timings.sent, dtype=np.int64)
                status = np.frombuffer(timings.status, dtype=np.int16)
                ok = (status >= 200) & (status < 300)
                span = (done[ok].max() - sent[sent > 0].min()) / 1e9
                deadline = time.monotonic() + 120
                while _undispatched(data_dir / "citylink.db") and time.monotonic() < deadline:
                    time.sleep(0.2)
                grants = _grant_delays_ms(data_dir / "citylink.db", mode[:2].upper())
                rows.append((label, int(ok.sum()), int((~ok & (sent > 0)).sum()), ok.sum() / span,
                             Summary.of_ns(done[ok] - sent[ok]), Summary.of_ns([g * 1e6 for g in grants])))
        finally:
            server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    table = Table(title=f"Events in through the native API and the linkage protocol, {args.connections} "
                        f"connections, {duration:.0f} s each (SQLite, one process)", title_justify="left")
    for column in ("path", "answered 2xx", "errors", "events/s", "vs native", "answer p50", "answer p99",
                   "to first grant p50", "to first grant p99"):
        table.add_column(column, justify="left" if column == "path" else "right")
    native_rps = rows[0][3]
    for label, answered, errors, rps, answer, grant in rows:
        table.add_row(label, f"{answered:,}", f"{errors:,}", f"{rps:,.0f}", f"{rps / native_rps:.2f}×",
                      ms(answer.p50), ms(answer.p99), ms(grant.p50), ms(grant.p99))
    console.print(table)
    return 0 if all(errors == 0 for _, _, errors, _, _, _ in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
