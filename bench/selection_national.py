"""Benchmark: select_cameras at national scale (1.6 million cameras), against a brute-force numpy scan.

    python bench/selection_national.py [--cameras 1600000] [--queries 20000] [--seed 1]

Builds a synthetic national camera set (bench/_synthetic.py), indexes it, times select_cameras for
incident points near cameras, then times a full vectorised scan on a subset of the same queries and
checks that both pick the same cameras in the same order. Exits 1 when p99 misses the target or the
two disagree.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from rich.console import Console
from rich.progress import (
    Progress,
)
from rich.table import Table

from _progress import Latencies, progress_bar, step
from _synthetic import SyntheticCameras, make_cameras, query_points
from citylink.domain.selection import DEFAULT_K, DEFAULT_RADIUS_M
from citylink.geo.camera_index import CameraIndex
from citylink.geo.distance import angle_diff_deg, bearing_deg_many, haversine_m_many
from citylink.geo.selection import select_cameras

TARGET_P99_US = 1000.0
WARMUP_QUERIES = 200

console = Console()


def _rss_bytes() -> int:
    """Resident memory of this process (Linux); 0 where /proc is missing."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def brute_force_ids(
    cams: SyntheticCameras, lon: float, lat: float, *, radius_m: float, k: int
) -> list[str]:
    """The same ranking as select_cameras, written independently as one scan over every row."""
    distance_m = haversine_m_many(cams.lon, cams.lat, lon, lat)
    rows = np.flatnonzero(cams.online & (distance_m <= radius_m))
    if rows.shape[0] == 0:
        radius_m *= 2.0
        rows = np.flatnonzero(cams.online & (distance_m <= radius_m))
    d = distance_m[rows]
    direction = cams.direction_deg[rows]
    known = ~np.isnan(direction)
    bearing = bearing_deg_many(cams.lon[rows], cams.lat[rows], lon, lat)
    off = angle_diff_deg(np.nan_to_num(direction), bearing)
    sees = known & ((off <= cams.fov_deg[rows] / 2.0) | (d == 0.0)) & (d <= cams.view_range_m[rows])
    turn = ~sees & (~known | cams.ptz[rows])
    tier = np.where(sees, 1, np.where(turn, 2, 3))
    order = sorted(range(rows.shape[0]), key=lambda i: (tier[i], d[i], cams.ids[rows[i]]))
    return [cams.ids[rows[i]] for i in order[:k]]


def _time_index(
    index: CameraIndex, qlon: list[float], qlat: list[float], *, radius_m: float, k: int, progress: Progress
) -> tuple[Latencies, list[list[str]]]:
    for lon, lat in zip(qlon[:WARMUP_QUERIES], qlat[:WARMUP_QUERIES], strict=True):
        select_cameras(index, lon, lat, radius_m=radius_m, k=k)
    task = progress.add_task("select_cameras (index)", total=len(qlon))
    ns = np.empty(len(qlon), dtype=np.float64)
    picked: list[list[str]] = []
    for i, (lon, lat) in enumerate(zip(qlon, qlat, strict=True)):
        start = time.perf_counter_ns()
        selection = select_cameras(index, lon, lat, radius_m=radius_m, k=k)
        ns[i] = time.perf_counter_ns() - start
        picked.append([c.id for c in selection.cameras])
        if i % 500 == 0:
            progress.update(task, completed=i, refresh=True)
    progress.update(task, completed=len(qlon), refresh=True)
    return Latencies(ns / 1000.0), picked


def _time_brute_force(
    cams: SyntheticCameras, qlon: list[float], qlat: list[float], *, radius_m: float, k: int,
    progress: Progress,
) -> tuple[Latencies, list[list[str]]]:
    task = progress.add_task("brute-force scan (baseline)", total=len(qlon))
    ns = np.empty(len(qlon), dtype=np.float64)
    picked: list[list[str]] = []
    for i, (lon, lat) in enumerate(zip(qlon, qlat, strict=True)):
        start = time.perf_counter_ns()
        picked.append(brute_force_ids(cams, lon, lat, radius_m=radius_m, k=k))
        ns[i] = time.perf_counter_ns() - start
        progress.update(task, advance=1, refresh=True)
    return Latencies(ns / 1000.0), picked


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=1_600_000, help="synthetic cameras to index")
    parser.add_argument("--queries", type=int, default=20_000, help="timed select_cameras queries")
    parser.add_argument("--baseline-queries", type=int, default=200, help="queries also run by brute force")
    parser.add_argument("--seed", type=int, default=1, help="seed for cameras and queries")
    parser.add_argument("--radius-m", type=float, default=DEFAULT_RADIUS_M, help="search radius")
    parser.add_argument("--k", type=int, default=DEFAULT_K, help="cameras per selection")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    radius_m, k = float(args.radius_m), int(args.k)
    with progress_bar(console) as progress:
        with step(progress, f"synthesising {args.cameras:,} cameras"):
            cams = make_cameras(args.cameras, seed=args.seed)
        rss_before = _rss_bytes()
        with step(progress, "building CameraIndex (columns + k-d tree)"):
            start = time.perf_counter()
            index = CameraIndex.from_arrays(
                ids=cams.ids, lon=cams.lon, lat=cams.lat, direction_deg=cams.direction_deg,
                fov_deg=cams.fov_deg, view_range_m=cams.view_range_m, ptz=cams.ptz, online=cams.online,
            )
            build_s = time.perf_counter() - start
        rss_growth = _rss_bytes() - rss_before
        qlon_a, qlat_a = query_points(cams, args.queries + WARMUP_QUERIES, seed=args.seed + 1)
        qlon, qlat = qlon_a.tolist(), qlat_a.tolist()
        candidates = [len(index.candidates_within(lon, lat, radius_m)) for lon, lat in
                      zip(qlon[:2000], qlat[:2000], strict=True)]
        timed, picked = _time_index(index, qlon[WARMUP_QUERIES:], qlat[WARMUP_QUERIES:], radius_m=radius_m,
                                    k=k, progress=progress)
        n_base = min(args.baseline_queries, args.queries)
        base, base_picked = _time_brute_force(cams, qlon[WARMUP_QUERIES:][:n_base],
                                              qlat[WARMUP_QUERIES:][:n_base], radius_m=radius_m, k=k,
                                              progress=progress)

    mismatches = sum(a != b for a, b in zip(picked[:n_base], base_picked, strict=True))
    p99 = timed.percentile(99)
    passed = p99 <= TARGET_P99_US and mismatches == 0

    title = f"select_cameras at national scale — {len(index):,} cameras, k={k}, {radius_m:,.0f} m"
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("CameraIndex", justify="right")
    table.add_column("brute-force scan", justify="right")
    table.add_row("queries timed", f"{len(timed.values):,}", f"{len(base.values):,}")
    for q in (50.0, 90.0, 99.0):
        table.add_row(f"p{q:.0f}", f"{timed.percentile(q):,.0f} µs", f"{base.percentile(q) / 1000:,.1f} ms")
    table.add_row("max", f"{timed.max:,.0f} µs", f"{base.max / 1000:,.1f} ms")
    table.add_row("queries over 1 ms", f"{int((timed.values > 1000.0).sum()):,}", "")
    table.add_row("speed-up (p50 / p99)", f"{base.percentile(50) / timed.percentile(50):,.0f}× / "
                  f"{base.percentile(99) / p99:,.0f}×", "")
    table.add_row("same ids, same order", f"{n_base - mismatches} of {n_base}", "")
    table.add_row("candidates in radius p50/p99/max",
                  f"{np.percentile(candidates, 50):.0f} / {np.percentile(candidates, 99):.0f} / "
                  f"{max(candidates)}", "")
    table.add_row("index build", f"{build_s:.2f} s", "")
    table.add_row("index memory RSS growth / estimate",
                  f"{rss_growth / 2**20:,.0f} MiB / {index.nbytes / 2**20:,.0f} MiB", "")
    console.print(table)
    verdict = "[bold green]PASS[/]" if passed else "[bold red]FAIL[/]"
    console.print(f"{verdict}: p99 {p99:,.0f} µs vs target {TARGET_P99_US:,.0f} µs; "
                  f"{mismatches} id mismatches vs brute force on {n_base} queries")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
