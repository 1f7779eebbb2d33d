"""Benchmark: camera selection in PostGIS against the in-memory CameraIndex, on 1.6 million cameras.

    python bench/selection_postgis.py [--cameras 1600000] [--queries 5000] [--area-queries 200] [--seed 1]
                                      [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]

Synthesises a national camera set (bench/_synthetic.py) and loads it with COPY into a throwaway database
created on the server of --pg-url and migrated first, so the rows get their generated geography column
and GiST index as they arrive. Builds the in-memory index over the same columns, then runs the same
incident points through select_cameras on both, query by query, and disaster circles through
select_in_area, and checks that every answer is identical (ids, order, tiers, reasons). Drops the
database at the end. Exits 1 when any answer differs.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
import psycopg
from rich.console import Console
from rich.progress import (
    Progress,
)
from rich.table import Table
from shapely.geometry import Polygon
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from _processes import throwaway_database
from _progress import Latencies, progress_bar, step
from _synthetic import SyntheticCameras, make_cameras, query_points
from citylink.domain.selection import DEFAULT_K, DEFAULT_RADIUS_M, Selection
from citylink.geo.area import circle_polygon
from citylink.geo.camera_index import CameraIndex
from citylink.geo.selection import select_cameras, select_in_area
from citylink.store.camera_spatial import PostgisCameras
from citylink.store.database import make_engine, migrate

WARMUP_QUERIES = 200
DISASTER_RADIUS_M = 1000.0  # the settings' default for a disaster event that gives a point only
_COPY_COLUMNS = ("id", "name", "lon", "lat", "direction_deg", "fov_deg", "view_range_m", "ptz", "purpose",
                 "stream_urls", "status", "agency", "source", "updated_at")
_COPY_PROGRESS_EVERY = 50_000

console = Console()
Query = TypeVar("Query")


def _copy_cameras(url: str, cams: SyntheticCameras, progress: Progress) -> None:
    """Every camera into the cameras table through one COPY; the database computes the geography."""
    task = progress.add_task(f"COPY {len(cams):,} cameras into PostgreSQL", total=len(cams))
    now = datetime.now(UTC)
    rows = zip(cams.ids, cams.lon.tolist(), cams.lat.tolist(), cams.direction_deg.tolist(), cams.fov_deg.tolist(),
               cams.view_range_m.tolist(), cams.ptz.tolist(), cams.online.tolist(), strict=True)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY cameras ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
            for i, (cid, lon, lat, direction, fov, view_range, ptz, online) in enumerate(rows):
                copy.write_row((cid, cid, lon, lat, None if math.isnan(direction) else direction, fov, view_range,
                                ptz, "", "[]", "online" if online else "offline", "centre", "synthetic", now))
                if i % _COPY_PROGRESS_EVERY == 0:
                    progress.update(task, completed=i, refresh=True)
        cur.execute("ANALYZE cameras")
    progress.update(task, completed=len(cams), refresh=True)


def _database_facts(engine: Engine) -> tuple[int, int, bool]:
    """(table bytes with its indexes, GiST index bytes, whether the planner uses the GiST index)."""
    with engine.connect() as conn:
        table_bytes = conn.execute(text("SELECT pg_total_relation_size('cameras')")).scalar_one()
        gist_bytes = conn.execute(text("SELECT pg_relation_size('ix_cameras_geog')")).scalar_one()
        plan = "\n".join(conn.execute(text(
            "EXPLAIN SELECT id FROM cameras WHERE status = 'online' AND ST_DWithin(geog, "
            "ST_SetSRID(ST_MakePoint(127.0, 37.5), 4326)::geography, 500, false)")).scalars())
    return int(table_bytes), int(gist_bytes), "ix_cameras_geog" in plan


def _time_both(
    engines: tuple[Callable[[Query], Selection], Callable[[Query], Selection]], queries: Sequence[Query],
    description: str, progress: Progress,
) -> tuple[tuple[Latencies, Latencies], tuple[list[Selection], list[Selection]]]:
    """Each query on both engines, so load from elsewhere on the machine hits both alike.

    The engines take turns going first: the first to see a query pays for what the second then finds cached
    (the area's map projection, say)."""
    task = progress.add_task(description, total=len(queries))
    ns = np.empty((2, len(queries)), dtype=np.float64)
    answers: tuple[list[Selection], list[Selection]] = ([], [])
    for i, query in enumerate(queries):
        for e in (0, 1) if i % 2 == 0 else (1, 0):
            start = time.perf_counter_ns()
            answers[e].append(engines[e](query))
            ns[e, i] = time.perf_counter_ns() - start
        if i % 100 == 0:
            progress.update(task, completed=i, refresh=True)
    progress.update(task, completed=len(queries), refresh=True)
    return (Latencies(ns[0] / 1000.0), Latencies(ns[1] / 1000.0)), answers


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=1_600_000, help="synthetic cameras to load")
    parser.add_argument("--queries", type=int, default=5_000, help="timed select_cameras queries, each engine")
    parser.add_argument("--area-queries", type=int, default=200,
                        help=f"timed select_in_area queries ({DISASTER_RADIUS_M:,.0f} m circles), each engine")
    parser.add_argument("--seed", type=int, default=1, help="seed for cameras and queries")
    parser.add_argument("--radius-m", type=float, default=DEFAULT_RADIUS_M, help="search radius")
    parser.add_argument("--k", type=int, default=DEFAULT_K, help="cameras per selection")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a database on the server to use; the benchmark creates and drops its own")
    return parser.parse_args(argv)


def _latency_rows(table: Table, memory: Latencies, postgis: Latencies, unit: str) -> None:
    scale = 1000.0 if unit == "ms" else 1.0
    for q in (50.0, 90.0, 99.0):
        table.add_row(f"p{q:.0f}", f"{memory.percentile(q) / scale:,.1f} {unit}",
                      f"{postgis.percentile(q) / scale:,.1f} {unit}",
                      f"{postgis.percentile(q) / memory.percentile(q):,.1f}×")
    table.add_row("max", f"{memory.max / scale:,.1f} {unit}", f"{postgis.max / scale:,.1f} {unit}",
                  f"{postgis.max / memory.max:,.1f}×")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    radius_m, k = float(args.radius_m), int(args.k)
    with progress_bar(console) as progress, throwaway_database(args.pg_url) as url:
        with step(progress, f"synthesising {args.cameras:,} cameras"):
            cams = make_cameras(args.cameras, seed=args.seed)
        engine = make_engine(url)
        with step(progress, "migrating the throwaway database (PostGIS, geography column, GiST index)"):
            migrate(engine)
        start = time.perf_counter()
        _copy_cameras(url, cams, progress)
        copy_s = time.perf_counter() - start
        with step(progress, "building CameraIndex (columns + k-d tree)"):
            start = time.perf_counter()
            index = CameraIndex.from_arrays(
                ids=cams.ids, lon=cams.lon, lat=cams.lat, direction_deg=cams.direction_deg,
                fov_deg=cams.fov_deg, view_range_m=cams.view_range_m, ptz=cams.ptz, online=cams.online,
            )
            build_s = time.perf_counter() - start
        table_bytes, gist_bytes, uses_gist = _database_facts(engine)

        lon_a, lat_a = query_points(cams, WARMUP_QUERIES + args.queries + args.area_queries, seed=args.seed + 1)
        spots = list(zip(lon_a.tolist(), lat_a.tolist(), strict=True))
        warmup, points = spots[:WARMUP_QUERIES], spots[WARMUP_QUERIES:WARMUP_QUERIES + args.queries]
        areas = [circle_polygon(lon, lat, DISASTER_RADIUS_M) for lon, lat in spots[WARMUP_QUERIES + args.queries:]]
        with Session(engine) as session:
            def memory_point(spot: tuple[float, float]) -> Selection:
                return select_cameras(index, *spot, radius_m=radius_m, k=k)

            def postgis_point(spot: tuple[float, float]) -> Selection:
                return select_cameras(PostgisCameras(session), *spot, radius_m=radius_m, k=k)

            def memory_area(area: Polygon) -> Selection:
                return select_in_area(index, area)

            def postgis_area(area: Polygon) -> Selection:
                return select_in_area(PostgisCameras(session), area)

            for spot in warmup:
                memory_point(spot)
                postgis_point(spot)
            (memory, postgis), (memory_answers, postgis_answers) = _time_both(
                (memory_point, postgis_point), points, "select_cameras (CameraIndex, PostGIS)", progress)
            (memory_in_area, postgis_in_area), (memory_area_answers, postgis_area_answers) = _time_both(
                (memory_area, postgis_area), areas, "select_in_area (CameraIndex, PostGIS)", progress)
        engine.dispose()

    point_mismatches = sum(a != b for a, b in zip(memory_answers, postgis_answers, strict=True))
    area_mismatches = sum(a != b for a, b in zip(memory_area_answers, postgis_area_answers, strict=True))
    widened = sum(s.widened for s in memory_answers)
    area_cameras = [len(s.cameras) for s in memory_area_answers]

    title = f"Camera selection, PostGIS vs in-memory — {len(cams):,} cameras, k={k}, {radius_m:,.0f} m"
    table = Table(title=title)
    table.add_column("measure")
    for column in ("CameraIndex", "PostGIS", "PostGIS / index"):
        table.add_column(column, justify="right")
    table.add_row("select_cameras", f"{len(memory.values):,} queries", f"{widened:,} widened to {2 * radius_m:,.0f} m",
                  "")
    _latency_rows(table, memory, postgis, "µs")
    table.add_row("same answers", f"{len(memory.values) - point_mismatches:,} of {len(memory.values):,}", "", "")
    n_areas = len(areas)
    if n_areas:
        table.add_section()
        table.add_row("select_in_area", f"{n_areas:,} circles of {DISASTER_RADIUS_M:,.0f} m",
                      f"{np.percentile(area_cameras, 50):,.0f} cameras inside (p50)", "")
        _latency_rows(table, memory_in_area, postgis_in_area, "ms")
        table.add_row("same answers", f"{n_areas - area_mismatches:,} of {n_areas:,}", "", "")
    table.add_section()
    table.add_row("load", f"{build_s:.1f} s build", f"{copy_s:.1f} s COPY", "")
    table.add_row("size", f"{index.nbytes / 2**20:,.0f} MiB RAM", f"{table_bytes / 2**20:,.0f} MiB disk", "")
    table.add_row("of which GiST index", "", f"{gist_bytes / 2**20:,.0f} MiB", "")
    table.add_row("plan uses GiST index", "", "yes" if uses_gist else "NO", "")
    console.print(table)
    passed = point_mismatches == 0 and area_mismatches == 0
    verdict = "[bold green]PASS[/]" if passed else "[bold red]FAIL[/]"
    console.print(f"{verdict}: {point_mismatches} point and {area_mismatches} area answers differ between "
                  "PostGIS and the in-memory index")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
