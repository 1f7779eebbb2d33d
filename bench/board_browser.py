"""Benchmark: the situation board in Chromium with 2,000 open incidents and 20,000 cameras.

    python bench/board_browser.py [--incidents 2000] [--cameras 20000] [--events 100] [--rate 20] [--runs 5]

Set-up, in a temporary data directory: synthetic cameras around central Helsinki (bench/_synthetic.py, most
of them inside the OSM extract's box, so the map draws them all) saved straight into the store, then
--incidents events of the usual code mix (bench/_load.py) submitted in process through Platform.submit, each
handled by its service (cameras selected, grants issued) as over HTTP. Then `python -m citylink serve` on it,
in its own process, with data/helsinki.osm.pbf as the base map. Debian's Chromium (/usr/bin/chromium, never a
downloaded browser) loads the board through Playwright:

1. Load, --runs times, each in a fresh browser context (cold cache) already logged in: the browser's first
   contentful paint (the page's frame), and the marks board.js sets, from navigation start:
   `citylink:incidents` when the first frame with data is drawn (every open incident in the list and on the
   map, over the base map) and `citylink:usable` when every camera is on the map too.
   Baseline in the same run: a page with Leaflet alone that draws the same cameras from the same API as
   canvas circle markers, with none of citylink's logic: what the map and the camera register cost.
2. Live: while a background client posts events at --rate events/s over HTTP, --events 112UC001 events are
   posted one by one from inside the page (fetch, same clock as the page), each timed from just before the
   POST to the moment its row is added to the list (a MutationObserver). The main thread's long tasks
   (> 50 ms, PerformanceObserver) are recorded over the same window. Afterwards the board's incident count
   is checked against the API's: nothing missed, nothing twice.

Targets, on every cold load: the first paint with data <= 2 s, and the whole board (every camera too)
<= 2 s; a new incident in the list <= 1 s after its POST at p99. Exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright
from rich.console import Console
from rich.table import Table

from _load import Summary, helsinki_event_bodies, ms
from _processes import Server, free_port
from _synthetic import SyntheticCameras, make_cameras, query_points
from citylink.api.schemas import EventIn
from citylink.domain.cameras import Camera, CameraStatus
from citylink.runtime.platform import BOOTSTRAP_KEYS_FILE, Platform
from citylink.settings import Settings
from citylink.store import camera_repo
from citylink.store.database import Database

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
HELSINKI_PBF = REPO / "data" / "helsinki.osm.pbf"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT: ViewportSize = {"width": 1600, "height": 900}
# Cameras are spread over districts in this box (lon_min, lat_min, lon_max, lat_max), a little wider than the
# OSM extract (24.9352, 60.1642, 24.9534, 60.1791), so nearly all of them are on screen at the board's first view.
CAMERA_BBOX = (24.930, 60.162, 24.958, 60.181)
TARGET_FIRST_PAINT_MS = 2000.0
TARGET_NEW_INCIDENT_P99_MS = 1000.0
SUBMIT_BATCH = 200

console = Console(width=shutil.get_terminal_size((120, 40)).columns)


# -- set-up ---------------------------------------------------------------------------------------------------

def to_cameras(cams: SyntheticCameras) -> list[Camera]:
    return [
        Camera(id=cid, name=f"synthetic {cid}", lon=lon, lat=lat,
               direction_deg=None if math.isnan(direction) else direction, fov_deg=fov, view_range_m=view_range,
               ptz=ptz, status=CameraStatus.ONLINE if online else CameraStatus.OFFLINE, source="synthetic")
        for cid, lon, lat, direction, fov, view_range, ptz, online in zip(
            cams.ids, cams.lon.tolist(), cams.lat.tolist(), cams.direction_deg.tolist(), cams.fov_deg.tolist(),
            cams.view_range_m.tolist(), cams.ptz.tolist(), cams.online.tolist(), strict=True)
    ]


def event_bodies(n: int, cams: SyntheticCameras, *, seed: int, run: str,
                 code: str | None = None) -> list[dict[str, Any]]:
    """n events of the usual code mix (or all of `code`), each near a camera. Disaster areas are kept small:
    at this density a 300 m disaster would grant thousands of cameras, which is another benchmark."""
    lon, lat = query_points(cams, n, seed=seed + 7, jitter_m=60.0)
    bodies = []
    for i, body in enumerate(helsinki_event_bodies(n, seed=seed, run=run, bbox=CAMERA_BBOX)):
        body["location"] = {"lon": round(float(lon[i]), 6), "lat": round(float(lat[i]), 6)}
        if code is not None:
            body.update(code=code, items=[{"key": "CRIME_TYPE", "val": "robbery"}],
                        sender={"system": "112", "city": "helsinki"})
        if body["code"] == "DUCDP110":
            body.pop("area", None)
            body["radius_m"] = 60.0
        bodies.append(body)
    return bodies


async def _submit_all(settings: Settings, bodies: list[dict[str, Any]]) -> None:
    platform = Platform.open(settings)
    platform.bootstrap()
    await platform.start()
    try:
        for lo in range(0, len(bodies), SUBMIT_BATCH):
            await asyncio.gather(*(platform.submit(EventIn.model_validate(body).to_event(), received_by="police",
                                                   correlation_id=f"bench-{lo + i}")
                                   for i, body in enumerate(bodies[lo:lo + SUBMIT_BATCH])))
        await platform.wait_idle()
    finally:
        await platform.stop()


def populate(settings: Settings, cams: SyntheticCameras, bodies: list[dict[str, Any]]) -> dict[str, str]:
    """Cameras straight into the store (one transaction), then the events through the platform; the API keys."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.open(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        cameras = to_cameras(cams)
        db.write_sync(lambda s: camera_repo.upsert_many(s, cameras, now=_now()))
    finally:
        db.close()
    asyncio.run(_submit_all(settings, bodies))
    keys: dict[str, str] = json.loads((settings.data_dir / BOOTSTRAP_KEYS_FILE).read_text())
    return keys


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


# -- browser measurements -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Load:
    fcp_ms: float
    incidents_ms: float
    usable_ms: float
    incidents: int


BASELINE_HTML = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/vendor/leaflet/leaflet.css">
<script src="/static/vendor/leaflet/leaflet.js"></script>
<style>html, body, #map { height: 100%; margin: 0; }</style></head><body><div id="map"></div><script>
(async () => {
  const config = await (await fetch('/api/v1/config')).json();
  const [minLon, minLat, maxLon, maxLat] = config.bbox;
  const map = L.map('map', { preferCanvas: true });
  map.fitBounds([[minLat, minLon], [maxLat, maxLon]]);
  const renderer = L.canvas();
  const first = await (await fetch('/api/v1/cameras?limit=10000&offset=0')).json();
  const pages = [first];
  for (let offset = 10000; offset < first.total; offset += 10000) {
    pages.push(await (await fetch(`/api/v1/cameras?limit=10000&offset=${offset}`)).json());
  }
  for (const page of pages) for (const c of page.cameras) {
    L.circleMarker([c.lat, c.lon], { renderer, radius: 3.2, weight: 1, color: '#0b3d5c', fillColor: '#1c7fb8',
      fillOpacity: 0.95 }).addTo(map);
  }
  await new Promise((resolve) => requestAnimationFrame(resolve));
  performance.mark('citylink:usable');
  document.body.dataset.ready = 'true';
})();
</script></body></html>"""

MARKS_JS = """() => {
  const mark = (name) => { const m = performance.getEntriesByName(name); return m.length ? m[0].startTime : NaN; };
  const fcp = performance.getEntriesByType('paint').find((p) => p.name === 'first-contentful-paint');
  return { fcp: fcp ? fcp.startTime : NaN, incidents: mark('citylink:incidents'), usable: mark('citylink:usable'),
           count: window.__citylinkBoard ? window.__citylinkBoard.incidents() : 0 };
}"""


def _context(browser: Browser, base: str, key: str) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT)
    response = context.request.post(f"{base}/api/v1/session", data={"key": key})
    if response.status != 204:
        raise RuntimeError(f"login failed: {response.status} {response.text()}")
    return context


def measure_load(browser: Browser, base: str, key: str, path: str, *, html: str | None = None) -> Load:
    """One cold load of path (a fresh context: empty cache) until it says it is ready."""
    context = _context(browser, base, key)
    try:
        if html is not None:
            context.route(f"{base}{path}", lambda route: route.fulfill(body=html, content_type="text/html"))
        page = context.new_page()
        page.goto(f"{base}{path}")
        page.wait_for_selector("body[data-ready=true]", state="attached", timeout=120_000)
        marks: dict[str, float] = page.evaluate(MARKS_JS)
        return Load(marks["fcp"], marks["incidents"], marks["usable"], int(marks["count"]))
    finally:
        context.close()


OBSERVE_JS = """() => {
  window.__seen = new Map();
  new MutationObserver((mutations) => {
    const now = performance.now();
    for (const m of mutations) for (const node of m.addedNodes) {
      const id = node.dataset && node.dataset.id;
      if (id && !window.__seen.has(id)) window.__seen.set(id, now);
    }
  }).observe(document.getElementById('incident-list'), { childList: true });
  window.__longTasks = [];
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
    .observe({ type: 'longtask' });
}"""

POST_JS = """async ([key, body]) => {
  const t0 = performance.now();
  const response = await fetch('/api/v1/events', { method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` } });
  const answer = await response.json();
  return { t0, status: response.status, id: answer.incident_id || null };
}"""


@dataclass
class Background:
    """Posts events at a constant rate (open loop: each at its scheduled time, whatever the last one did)."""

    base: str
    key: str
    bodies: list[dict[str, Any]]
    rate: float
    statuses: list[int] = field(default_factory=list)
    latencies_ns: list[int] = field(default_factory=list)
    sent: int = 0
    started: float = 0.0
    stopped: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> None:
        began = time.perf_counter_ns()
        try:
            status = client.post("/api/v1/events", json=body).status_code
        except httpx.HTTPError:
            status = 0
        with self._lock:
            self.statuses.append(status)
            self.latencies_ns.append(time.perf_counter_ns() - began)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        with httpx.Client(base_url=self.base, headers=headers, timeout=30, limits=limits) as client, \
                ThreadPoolExecutor(max_workers=16) as pool:
            self.started = time.monotonic()
            for i, body in enumerate(self.bodies):
                delay = self.started + i / self.rate - time.monotonic()
                if self._stop.wait(max(delay, 0.0)):
                    break
                pool.submit(self._post, client, body)
                self.sent += 1
            self.stopped = time.monotonic()

    @contextmanager
    def running(self) -> Iterator[Background]:
        thread = threading.Thread(target=self._run, name="background-load", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=60)


@dataclass(frozen=True, slots=True)
class Live:
    latencies_ms: list[float]
    failed_posts: int
    background_sent: int
    background_ok: int
    background_s: float
    background_latency: Summary
    long_tasks_ms: list[float]
    board_incidents: int
    api_incidents: int


def measure_live(browser: Browser, base: str, keys: dict[str, str], measured: list[dict[str, Any]],
                 background: list[dict[str, Any]], *, rate: float, seed: int) -> Live:
    context = _context(browser, base, keys["centre"])
    try:
        page: Page = context.new_page()
        page.goto(f"{base}/board")
        page.wait_for_selector("body[data-ready=true]", state="attached", timeout=120_000)
        page.wait_for_selector("[data-testid=connection][data-state=live]", timeout=30_000)
        page.evaluate(OBSERVE_JS)
        rng = random.Random(seed)
        latencies: list[float] = []
        failed = 0
        load = Background(base, keys["police"], background, rate)
        with load.running():
            time.sleep(2.0)  # the board under load before the first measured event
            with console.status(f"{len(measured)} events posted from the page, {rate:g} events/s in the background"):
                for body in measured:
                    posted: dict[str, Any] = page.evaluate(POST_JS, [keys["police"], body])
                    if posted["status"] != 201 or not posted["id"]:
                        failed += 1
                        continue
                    page.wait_for_function("id => window.__seen.has(id)", arg=posted["id"], timeout=30_000)
                    seen: float = page.evaluate("id => window.__seen.get(id)", posted["id"])
                    latencies.append(seen - posted["t0"])
                    time.sleep(rng.uniform(0.1, 0.3))
        long_tasks: list[float] = page.evaluate("() => window.__longTasks")
        # After the load: the board holds exactly the open incidents the API has.
        time.sleep(2.0)
        total = int(httpx.get(f"{base}/api/v1/incidents", params={"open": "true", "limit": 1},
                              headers={"Authorization": f"Bearer {keys['centre']}"}).headers["X-Total-Count"])
        shown: int = page.evaluate("() => window.__citylinkBoard.incidents()")
        ok = sum(1 for s in load.statuses if 200 <= s < 300)
        return Live(latencies, failed, load.sent, ok, load.stopped - load.started,
                    Summary.of_ns(load.latencies_ns), long_tasks, shown, total)
    finally:
        context.close()


# -- report ---------------------------------------------------------------------------------------------------

def _load_row(table: Table, label: str, loads: list[Load]) -> None:
    def cell(values: list[float]) -> str:
        finite = [v for v in values if not math.isnan(v)]
        if not finite:
            return "-"
        return f"{statistics.median(finite):,.0f} / {max(finite):,.0f}"

    table.add_row(label, cell([x.fcp_ms for x in loads]), cell([x.incidents_ms for x in loads]),
                  cell([x.usable_ms for x in loads]))


def report(args: argparse.Namespace, setup_s: dict[str, float], warm: Load, loads: list[Load], baseline: list[Load],
           live: Live) -> bool:
    setup = Table(title="set-up", title_justify="left")
    setup.add_column("step")
    setup.add_column("time", justify="right")
    for label, seconds in setup_s.items():
        setup.add_row(label, f"{seconds:.1f} s")
    console.print(setup)

    table = Table(title=f"cold load, {len(loads)} runs, fresh cache each: {loads[0].incidents:,} open incidents, "
                        f"{args.cameras:,} cameras (ms from navigation start; median / worst)", title_justify="left")
    table.add_column("page")
    table.add_column("first contentful paint", justify="right")
    table.add_column("first paint with data: incidents listed and on the map", justify="right")
    table.add_column("every camera on the map too", justify="right")
    _load_row(table, "[bold]citylink board[/]", loads)
    _load_row(table, "baseline: Leaflet + the same cameras, no citylink logic", baseline)
    _load_row(table, "citylink board, first load after server start (not judged)", [warm])
    console.print(table)

    lat = Summary.of_ns([v * 1e6 for v in live.latencies_ms])
    bg_rate = live.background_sent / max(live.background_s, 1e-9)
    table = Table(title=f"live: {len(live.latencies_ms)} incidents posted from the page while {bg_rate:.1f} "
                        "events/s arrive in the background", title_justify="left")
    table.add_column("measure")
    for column in ("p50", "p90", "p99", "max"):
        table.add_column(column, justify="right")
    table.add_row("[bold]POST → row in the incident list[/]", *(ms(v) for v in (lat.p50, lat.p90, lat.p99, lat.max)))
    bg = live.background_latency
    table.add_row("background POST → 201 (HTTP, for reference)", *(ms(v) for v in (bg.p50, bg.p90, bg.p99, bg.max)))
    console.print(table)
    tasks = sorted(live.long_tasks_ms)
    console.print(f"background: {live.background_ok:,} of {live.background_sent:,} events answered 2xx; "
                  f"measured posts failed: {live.failed_posts}")
    console.print(f"main-thread long tasks (> 50 ms) during the live phase: {len(tasks)}"
                  + (f", longest {tasks[-1]:.0f} ms, total {sum(tasks):,.0f} ms" if tasks else ""))
    console.print(f"after the load: board shows {live.board_incidents:,} open incidents, the API counts "
                  f"{live.api_incidents:,}")

    worst_incidents = max(x.incidents_ms for x in loads)
    worst_usable = max(x.usable_ms for x in loads)
    checks = [
        (worst_incidents <= TARGET_FIRST_PAINT_MS,
         f"first paint with data worst {worst_incidents:,.0f} ms vs target {TARGET_FIRST_PAINT_MS:,.0f} ms "
         f"(median FCP of the page {statistics.median(x.fcp_ms for x in loads):,.0f} ms)"),
        (worst_usable <= TARGET_FIRST_PAINT_MS,
         f"whole board, {args.cameras:,} cameras included, worst {worst_usable:,.0f} ms vs "
         f"{TARGET_FIRST_PAINT_MS:,.0f} ms (baseline, the cameras alone: worst "
         f"{max(x.usable_ms for x in baseline):,.0f} ms)"),
        (lat.p99 <= TARGET_NEW_INCIDENT_P99_MS and live.failed_posts == 0,
         f"new incident in the list p99 {ms(lat.p99)} (p50 {ms(lat.p50)}) vs target "
         f"{TARGET_NEW_INCIDENT_P99_MS:,.0f} ms at {bg_rate:.1f} events/s"),
        (live.board_incidents == live.api_incidents,
         f"board and API agree on the open incidents ({live.board_incidents:,} / {live.api_incidents:,})"),
    ]
    for passed, text in checks:
        console.print(f"{'[bold green]PASS[/]' if passed else '[bold red]FAIL[/]'}: {text}")
    return all(passed for passed, _ in checks)


# -- main -----------------------------------------------------------------------------------------------------

def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=2000, help="open incidents before the board loads")
    parser.add_argument("--cameras", type=int, default=20_000, help="synthetic cameras")
    parser.add_argument("--events", type=int, default=100, help="incidents timed from POST to the list")
    parser.add_argument("--rate", type=float, default=20.0, help="background events per second while timing")
    parser.add_argument("--runs", type=int, default=5, help="cold loads of each page")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if not CHROMIUM.is_file():
        console.print(f"[red]no Chromium at {CHROMIUM}: apt-get install -y chromium[/]")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="citylink-board-bench-"))
    settings = Settings(data_dir=tmp / "data", basemap_path=HELSINKI_PBF)
    setup_s: dict[str, float] = {}
    server: Server | None = None
    try:
        with console.status(f"{args.cameras:,} cameras and {args.incidents:,} incidents into the store"):
            started = time.perf_counter()
            cams = make_cameras(args.cameras, seed=args.seed, bbox=CAMERA_BBOX, n_cities=12)
            bodies = event_bodies(args.incidents, cams, seed=args.seed, run="B")
            keys = populate(settings, cams, bodies)
            setup_s[f"store {args.cameras:,} cameras, submit {args.incidents:,} events in process"] = (
                time.perf_counter() - started)
        port = free_port()
        started = time.perf_counter()
        server = Server.start("citylink", [sys.executable, "-m", "citylink", "serve", "--data-dir",
                                           str(settings.data_dir), "--port", str(port), "--basemap", str(HELSINKI_PBF),
                                           "--log-level", "warning"], port=port, log=tmp / "server.log")
        setup_s["citylink serve: start until /healthz answers"] = time.perf_counter() - started
        base = f"http://127.0.0.1:{port}"
        background = event_bodies(int(args.rate * (args.events * 0.6 + 30)), cams, seed=args.seed + 1, run="G")
        measured = event_bodies(args.events, cams, seed=args.seed + 2, run="M", code="112UC001")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                with console.status("cold loads of the board and of the baseline page"):
                    warm = measure_load(browser, base, keys["centre"], "/board")
                    loads = [measure_load(browser, base, keys["centre"], "/board") for _ in range(args.runs)]
                    baseline = [measure_load(browser, base, keys["centre"], "/__bench/baseline", html=BASELINE_HTML)
                                for _ in range(args.runs)]
                live = measure_live(browser, base, keys, measured, background, rate=args.rate, seed=args.seed)
            finally:
                browser.close()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if report(args, setup_s, warm, loads, baseline, live) else 1


if __name__ == "__main__":
    sys.exit(main())
