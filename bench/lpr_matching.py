"""Benchmark: licence-plate reads matched against the police watch list, in process, next to a SQL lookup.

    python bench/lpr_matching.py [--watch 50000] [--restricted 2000000] [--reads 200000] [--batch 1000]
                                 [--hit-rate 0.001] [--seed 1]

A SQLite store (the embedded default) gets a watch list of --watch random Korean plates, a low-emission
restricted list of --restricted more (imported as the CSV import does, in chunks) and one zone, active all day,
around every camera. Then --reads reads (random plates; a --hit-rate share on the watch list, as many on the
restricted list) go through `PlateReads.take` in batches of --batch, as `POST /api/v1/lpr/reads` and the MQTT
intake hand them over: every read matched against both lists and the zone, and stored; every watch-list hit sent
to intake as an LPRUM120 event, whose wanted-vehicle service alerts the police; every restricted vehicle in the
zone recorded as a violation (once a day). Timed:

- reads/s through take (matching + storing + hits to intake + violations), the target being 50,000 per process;
- matching alone (watch list + restricted list + zone), reads/s;
- read → alert: from a batch's take call to the police notification of each of its hits being committed
  (the hits' services run alongside the following batches, as they do under a steady stream of reads);
- the baseline of the issue: one plain SQL lookup per read (`SELECT … FROM watch_list WHERE plate_key = ?`,
  indexed) on the same store and reads.

Exits 1 when matching stays under 50,000 reads/s; the whole intake (matching and storing every read) is
reported next to it against the same figure.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from _progress import Latencies, progress_bar, step
from citylink.domain.plates import parse_plate
from citylink.domain.watchlist import PlateRead, WatchCategory, WatchEntry, read_id
from citylink.runtime.executor import Applied
from citylink.runtime.platform import Platform
from citylink.settings import Settings
from citylink.store import lez_repo, lpr_repo
from citylink.store.tables import WatchRow

TARGET_READS_PER_S = 50_000.0
HANGUL = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주하허호"
console = Console(width=shutil.get_terminal_size((120, 40)).columns)


class AlertWatch(Platform):
    """Records when each incident's police notification was committed (the alert)."""

    alerted: ClassVar[dict[str, int]] = {}

    def _publish(self, applied: Applied) -> None:
        now = time.perf_counter_ns()
        for type_, data, _ in applied.stream:
            if type_ == "notification.created" and data.get("recipient") == "police":
                self.alerted.setdefault(str(data["incident_id"]), now)
        super()._publish(applied)


def plates(n: int, rng: np.random.Generator) -> list[str]:
    first = rng.integers(10, 1000, size=n)
    syllables = rng.integers(0, len(HANGUL), size=n)
    last = rng.integers(0, 10_000, size=n)
    return [f"{a}{HANGUL[s]}{b:04d}" for a, s, b in zip(first.tolist(), syllables.tolist(), last.tolist(),
                                                         strict=True)]


def make_reads(n: int, watched: list[str], restricted: list[str], hit_rate: float,
               rng: np.random.Generator) -> list[PlateRead]:
    texts = plates(n, rng)
    draw = rng.random(n)
    hits, banned = draw < hit_rate, (draw >= hit_rate) & (draw < 2 * hit_rate)
    picks = rng.integers(0, len(watched), size=n)
    bans = rng.integers(0, len(restricted), size=n)
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    reads = []
    for i, text in enumerate(texts):
        plate = parse_plate(watched[picks[i]] if hits[i] else restricted[bans[i]] if banned[i] else text)
        at = start + timedelta(milliseconds=i)
        camera = f"lpr-{i % 500}"
        lon, lat = 126.97 + (i % 500) * 1e-4, 37.56 + (i % 97) * 1e-4
        reads.append(PlateRead(read_id(camera, plate, at), camera, plate, at, lon, lat, 0.95, None, None))
    return reads


async def run(args: argparse.Namespace, data_dir: Path) -> dict[str, float | Latencies]:
    rng = np.random.default_rng(args.seed)
    platform = AlertWatch.open(Settings(data_dir=data_dir, city_code="seoul", timezone="Asia/Seoul"))
    platform.bootstrap()
    watched = plates(args.watch, rng)
    now = datetime.now(UTC)
    entries = [WatchEntry(str(uuid.uuid4()), parse_plate(p), WatchCategory.STOLEN, "bench", now + timedelta(days=30),
                          "police", now) for p in dict.fromkeys(watched)]
    platform.db.write_sync(lambda s: [lpr_repo.put_entry(s, e) for e in entries] and None)
    banned = plates(args.restricted, rng)
    platform.db.write_sync(lambda s: lez_repo.import_restricted(s, [(parse_plate(p), "5") for p in banned]))
    ring = [[126.96, 37.55], [127.03, 37.55], [127.03, 37.58], [126.96, 37.58], [126.96, 37.55]]
    platform.db.write_sync(lambda s: lez_repo.put_zone(s, "seoul-centre", name="bench", days=list(range(7)),
                                                       area={"type": "Polygon", "coordinates": [ring]},
                                                       start="00:00", end="00:00", now=now) and None)
    await platform.start()  # loads the watch list and the zones (the restricted list as a PlateSet)
    try:
        zones = platform.plate_reads.zones
        assert zones.restricted_count == len(set(banned))
        reads = make_reads(args.reads, [e.plate.text for e in entries], banned, args.hit_rate, rng)
        watch = platform.plate_reads.watch
        started = time.perf_counter()
        for i in range(0, len(reads), args.batch):
            batch = reads[i:i + args.batch]
            for read in batch:
                watch.match(read.plate, read.time)
            zones.candidates(batch)
        match_s = time.perf_counter() - started

        started_hits: list[tuple[str, int]] = []
        started = time.perf_counter()
        for i in range(0, len(reads), args.batch):
            batch_started = time.perf_counter_ns()
            taken = await platform.plate_reads.take(reads[i:i + args.batch], received_by="centre")
            started_hits += [(incident, batch_started) for incident in taken.hits]
        take_s = time.perf_counter() - started
        await platform.wait_idle()  # the hits' services, which ran alongside
        alert_ms = [(AlertWatch.alerted[incident] - at) / 1e6 for incident, at in started_hits]

        sample = reads[: min(len(reads), 20_000)]

        def lookups(session: Session) -> float:
            begun = time.perf_counter()
            for read in sample:
                session.execute(select(WatchRow.id, WatchRow.region, WatchRow.expires_at)
                                .where(WatchRow.plate_key == read.plate.key)).all()
            return time.perf_counter() - begun

        sql_s = platform.db.read_sync(lookups)
        violations = platform.db.read_sync(lambda s: len(lez_repo.violations_on(s, "2026-11-26")))
        return {"take": len(reads) / take_s, "match": len(reads) / match_s, "sql": len(sample) / sql_s,
                "hits": float(len(alert_ms)), "alert": Latencies(np.array(alert_ms or [0.0])),
                "violations": float(violations)}
    finally:
        await platform.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watch", type=int, default=50_000)
    parser.add_argument("--restricted", type=int, default=2_000_000)
    parser.add_argument("--reads", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--hit-rate", type=float, default=0.001)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    what = (f"{args.watch:,} watched and {args.restricted:,} restricted plates, {args.reads:,} reads in batches of "
            f"{args.batch:,}")
    with progress_bar(console) as bar, tempfile.TemporaryDirectory(prefix="citylink-lpr-bench-") as tmp, \
            step(bar, what):
        result = asyncio.run(run(args, Path(tmp)))
    alert = result["alert"]
    assert isinstance(alert, Latencies)
    take, match, sql = (float(result[k]) for k in ("take", "match", "sql"))  # type: ignore[arg-type]
    table = Table(title=f"plate reads against a {args.watch:,}-plate watch list and a {args.restricted:,}-plate "
                        "restricted list (SQLite, one process)")
    table.add_column("what")
    table.add_column("reads/s", justify="right")
    table.add_row("take: match + store + hits to intake + violations", f"{take:,.0f}")
    table.add_row("matching alone (watch dictionary + restricted PlateSet + zone)", f"{match:,.0f}")
    table.add_row("baseline: one SQL lookup per read (indexed watch list)", f"{sql:,.0f}")
    console.print(table)
    console.print(f"low-emission violations recorded: {result['violations']:.0f}")
    console.print(f"hits: {result['hits']:.0f}; read → police alert p50 {alert.percentile(50):.1f} ms, "
                  f"p99 {alert.percentile(99):.1f} ms (from the batch's take call)")
    console.print(f"matching / SQL lookup: {match / sql:,.0f}×; take / SQL lookup: {take / sql:.1f}×")
    verdict = {True: "PASS", False: "FAIL"}
    console.print(f"≥ {TARGET_READS_PER_S:,.0f} reads/s: matching {verdict[match >= TARGET_READS_PER_S]}, "
                  f"the whole intake with every read stored {verdict[take >= TARGET_READS_PER_S]}")
    return 0 if match >= TARGET_READS_PER_S else 1


if __name__ == "__main__":
    sys.exit(main())
