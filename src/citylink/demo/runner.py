"""`citylink demo`: Helsinki's real cameras, a running platform, and a live scenario sent through its API.

Steps, each shown on the console:
1. import the 221 OSM cameras of data/helsinki.osm.pbf into the store, with the demo configuration applied;
2. start the API server (uvicorn) in a background thread; the first start creates the default agencies and
   writes their keys to DATA_DIR/bootstrap-keys.json;
3. send the scenario's events through the real HTTP API, each with its agency's key, and show what the
   platform did on a live console;
4. on Ctrl-C or when the duration is up: end the incidents still open, verify the audit chain, stop the server
   and print a summary.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.live import Live

from citylink.adapters.camera_import import CameraImportError, read_cameras
from citylink.api.app import create_app
from citylink.demo import CameraConfig, DemoConfig, load_config
from citylink.demo.air_quality import EPISODE_S, REPORT_EVERY_S, AirStations, demo_environment
from citylink.demo.console import Board, StreamFeed, fetch_incidents
from citylink.demo.plate_traffic import EXEMPT_PLATE, RESTRICTED_PLATES, WATCHED_PLATE, PlateTraffic
from citylink.demo.scenario import Post, Scenario
from citylink.demo.walks import Walks
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.domain.cameras import Camera, CameraStatus
from citylink.runtime.platform import BOOTSTRAP_KEYS_FILE
from citylink.settings import Settings
from citylink.store import audit_repo, camera_repo
from citylink.store.database import Database

OSM_ENV = "CITYLINK_DEMO_OSM"
OSM_RELATIVE = Path("data") / "helsinki.osm.pbf"
HOST = "127.0.0.1"
SENDING_AGENCIES = ("police", "fire", "disaster", "welfare", "justice")
VIEW_INTERVAL_S = 1.0
PLATE_READS_INTERVAL_S = 15.0  # the demo's LPR cameras send a batch of reads this often
UNIT_REPORT_INTERVAL_S = 60.0  # the demo units' trackers report this often (well inside the 10-minute staleness)
WALK_STEP_S = 4.0  # the demo's safe-return walkers send a position this often
SETTLE_S = 0.5  # after the last event: let the services and the live feed catch up before the last view
DEMO_SOURCE_SUFFIX = "+demo:helsinki.json"
OSM_ATTRIBUTION = "© OpenStreetMap contributors, ODbL"


class DemoError(Exception):
    """The demo cannot start; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class CameraChanges:
    directed: int
    ptz: int
    offline: int
    unknown: tuple[str, ...]  # configured ids not in the OSM import


# --- 1. cameras ---------------------------------------------------------------------------------------------


def find_osm_file(explicit: Path | None = None, *, cwd: Path | None = None) -> Path:
    """The Helsinki extract: explicit path, else $CITYLINK_DEMO_OSM, else data/helsinki.osm.pbf in the current
    directory or one of its parents, else next to the source tree (an editable install in the repo)."""
    if explicit is None and os.environ.get(OSM_ENV):
        explicit = Path(os.environ[OSM_ENV])
    if explicit is not None:
        if not explicit.is_file():
            raise DemoError(f"no OSM file at {explicit}")
        return explicit
    start = (cwd or Path.cwd()).resolve()
    candidates = [d / OSM_RELATIVE for d in (start, *start.parents)]
    candidates += [d / OSM_RELATIVE for d in Path(__file__).resolve().parents]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DemoError(f"cannot find {OSM_RELATIVE} in {start} or its parents; run from the citylink repository "
                    f"or set {OSM_ENV} to the Helsinki extract")


def configure_cameras(cameras: list[Camera], config: CameraConfig) -> tuple[list[Camera], CameraChanges]:
    """The OSM cameras with the demo's directions, PTZ flags and offline marks applied."""
    directions = {d.id: d for d in config.directions}
    ptz, offline = set(config.ptz), set(config.offline)
    known = {c.id for c in cameras}
    out = []
    for camera in cameras:
        update: dict[str, Any] = {}
        if (direction := directions.get(camera.id)) is not None:
            update.update(direction_deg=direction.direction_deg, fov_deg=direction.fov_deg)
        if camera.id in ptz:
            update["ptz"] = True
        if camera.id in offline:
            update["status"] = CameraStatus.OFFLINE
        if update:
            # The source says which records carry made-up demo values, for anyone reading the registry.
            update["source"] = f"{camera.source}{DEMO_SOURCE_SUFFIX}"[:128]
            camera = camera.model_copy(update=update)
        out.append(camera)
    unknown = tuple(sorted((set(directions) | ptz | offline) - known))
    return out, CameraChanges(directed=len(set(directions) & known), ptz=len(ptz & known),
                              offline=len(offline & known), unknown=unknown)


def import_cameras(settings: Settings, osm_path: Path, config: DemoConfig
                   ) -> tuple[int, CameraChanges, camera_repo.UpsertCounts]:
    """Read, configure and upsert the cameras; (cameras read, demo changes, store counts). Re-runs upsert."""
    try:
        result = read_cameras(osm_path)
    except CameraImportError as exc:
        raise DemoError(f"cannot read cameras from {osm_path}: {exc}") from exc
    cameras, changes = configure_cameras(result.cameras, config.cameras)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.open(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
    now = datetime.now(UTC)

    def save(session: Any) -> camera_repo.UpsertCounts:
        counts = camera_repo.upsert_many(session, cameras, now=now)
        audit_repo.append(session, AuditEntry(
            AuditAction.CAMERAS_IMPORTED, "demo", f"{osm_path.name}{DEMO_SOURCE_SUFFIX}",
            {"created": counts.created, "updated": counts.updated, "unchanged": counts.unchanged,
             "rejected": len(result.rejected)}, now))
        return counts

    try:
        counts = db.write_sync(save)
    finally:
        db.close()
    return len(cameras), changes, counts


# --- 2. the server ------------------------------------------------------------------------------------------


class DemoServer:
    """uvicorn serving create_app(settings) on HOST:port in a background thread."""

    def __init__(self, settings: Settings, *, port: int) -> None:
        config = uvicorn.Config(create_app(settings), host=HOST, port=port, log_level="warning", access_log=False,
                                log_config=None, lifespan="on", ws="none", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="citylink-demo-server", daemon=True)
        self.url = f"http://{HOST}:{port}"

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self, *, timeout_s: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.url, timeout=1.0) as client:
            while time.monotonic() < deadline:
                if not self._thread.is_alive():
                    raise DemoError(f"the server stopped while starting; is port {self.url.rsplit(':', 1)[1]} "
                                    "already in use? (try --port)")
                if self._server.started and _answers(client, "/healthz"):
                    return
                time.sleep(0.05)
        raise DemoError(f"the server did not answer {self.url}/healthz within {timeout_s:.0f} s")

    def stop(self, *, timeout_s: float = 15.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)


def _answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.HTTPError:
        return False


def read_keys(settings: Settings) -> dict[str, str]:
    """The bootstrap API keys: centre (admin) for reading, one per sending agency."""
    path = settings.data_dir / BOOTSTRAP_KEYS_FILE
    if not path.is_file():
        raise DemoError(f"{path} is missing, but the store already has agencies: issue new keys with "
                        f"`citylink agencies key <agency> --data-dir {settings.data_dir}`, or use a fresh --data-dir")
    keys: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    missing = [a for a in ("centre", *SENDING_AGENCIES) if a not in keys]
    if missing:
        raise DemoError(f"{path} has no key for {', '.join(missing)}; use a fresh --data-dir")
    return keys


# --- 3. the scenario ----------------------------------------------------------------------------------------


class _Player:
    """Sends the scenario's events at a steady rate and keeps the console current."""

    def __init__(self, client: httpx.Client, keys: dict[str, str], board: Board, live: Live, *,
                 config: DemoConfig, seed: int) -> None:
        self._client = client
        self._keys = keys
        self._board = board
        self._live = live
        self._config = config
        self._plates = PlateTraffic(config, seed=seed)
        self._walks = Walks(config, seed=seed)
        self.air = AirStations(config, seed=seed)

    def play(self, scenario: Scenario, *, interval_s: float, duration_s: float, server: DemoServer) -> str:
        """Until the duration is up, Ctrl-C or the server dies; returns why it stopped."""
        started = time.monotonic()
        deadline = started + duration_s if duration_s > 0 else math.inf
        next_post = next_view = started
        next_report = started + UNIT_REPORT_INTERVAL_S
        next_reads = started + 2.0  # soon, so that even a short demo shows plate reads
        next_walk = started + 1.0
        next_air = started
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return "duration elapsed"
                if not server.alive:
                    return "the server stopped"
                if now >= next_report:
                    report_unit_positions(self._client, self._config, self._keys)
                    next_report = now + UNIT_REPORT_INTERVAL_S
                if now >= next_reads:
                    self.send_plate_reads()
                    next_reads = now + PLATE_READS_INTERVAL_S
                if now >= next_walk:
                    self._walks.step(self._client, self._keys["welfare"], datetime.now(UTC))
                    next_walk = now + WALK_STEP_S
                if now >= next_air:
                    self.air.step(self._client, self._keys["centre"], datetime.now(UTC), now - started)
                    next_air = now + REPORT_EVERY_S
                if now >= next_post:
                    self.send(scenario.next(datetime.now(UTC)))
                    next_post = max(next_post + interval_s, now)  # fall behind rather than burst
                if now >= next_view:
                    self._board.status = _status_line(now - started, duration_s)
                    self.refresh()
                    next_view = now + VIEW_INTERVAL_S
                time.sleep(max(0.0, min(next_post, next_view, next_report, next_reads, next_walk, next_air,
                                       deadline) - time.monotonic()))
        except KeyboardInterrupt:
            return "Ctrl-C"

    def send_plate_reads(self) -> None:
        """A batch from the demo's LPR cameras; a hit shows up in the live feed as a wanted-vehicle incident."""
        reads = self._plates.batch(datetime.now(UTC))
        try:
            response = self._client.post("/api/v1/lpr/reads", json={"reads": reads})
        except httpx.HTTPError:
            return  # the next batch comes in a few seconds; a failed one is counted by the server's absence
        if response.status_code != 200:
            return
        self._board.record_plate_reads(len(reads), len(response.json().get("hits", [])))

    def end_open(self, code: str, *, agency: str, content: str) -> None:
        """An agency ends the incidents of a code the demo's devices opened and that are still open (the demo
        is stopping: the wanted car was stopped, the air station's alarm is handed over to the night shift)."""
        with contextlib.suppress(httpx.HTTPError):
            listed = self._client.get("/api/v1/incidents", params={"code": code, "open": "true"})
            for incident in listed.json() if listed.status_code == 200 else []:
                self._client.post(f"/api/v1/incidents/{incident['id']}/status", headers=_auth(self._keys, agency),
                                  json={"status": "90", "content": f"demo: {content}"})

    def send(self, post: Post) -> None:
        headers = {"Authorization": f"Bearer {self._keys[post.agency]}"}
        try:
            response = self._client.post("/api/v1/events", json=post.body(), headers=headers)
        except httpx.HTTPError as exc:
            self._board.record_post(post.summary, "failed", type(exc).__name__)
            return
        if response.status_code == 201:
            self._board.record_post(post.summary, "accepted")
        elif response.status_code == 200:
            self._board.record_post(post.summary, "duplicate")
        else:
            # Only the status and the title: a validation detail could echo the event's personal items.
            self._board.record_post(post.summary, "refused", f"{response.status_code} {_title(response)}")

    def wind_down(self, scenario: Scenario) -> None:
        """End the incidents still open, so their grants are revoked before the server stops."""
        self._board.status = "ending the open incidents"
        try:
            for post in scenario.wind_down(datetime.now(UTC)):
                self.send(post)
            self.end_open("LPRUM120", agency="police", content="the car was stopped")
            for code in ("APLEN110", "WESEN110", "MTSUC220"):
                self.end_open(code, agency="centre", content="the demo is stopping")
            self._walks.finish(self._client, self._keys["welfare"], datetime.now(UTC))
            time.sleep(SETTLE_S)
        except KeyboardInterrupt:
            self._board.status = "interrupted while ending incidents"
        self.refresh()

    def refresh(self) -> None:
        try:
            open_count, closed_count, lines = fetch_incidents(self._client, timezone=self._config.timezone)
        except (httpx.HTTPError, ValueError, KeyError):
            pass  # the next refresh tries again; the demo must not die of a missed view
        else:
            self._board.record_incidents(open_count=open_count, closed_count=closed_count, lines=lines)
        self._live.update(self._board.render(), refresh=True)


def _title(response: httpx.Response) -> str:
    try:
        return str(response.json().get("title", ""))
    except ValueError:
        return ""


def _status_line(elapsed_s: float, duration_s: float) -> str:
    left = f", {max(0.0, duration_s - elapsed_s):.0f} s left" if duration_s > 0 else ""
    return f"running for {elapsed_s:.0f} s{left}; Ctrl-C to stop"


def verify_audit(client: httpx.Client) -> dict[str, Any] | None:
    """GET /api/v1/audit/verify with the centre's (admin) key; None when it could not be asked."""
    try:
        response = client.get("/api/v1/audit/verify", timeout=60.0)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    return result


# --- the command --------------------------------------------------------------------------------------------


def run_demo(*, data_dir: Path, port: int, rate_per_min: float, duration_s: float, seed: int, console: Console,
             osm_path: Path | None = None) -> int:
    """Run the Helsinki demo; 0 when it ran and the audit chain verified, 1 when it did not, 2 on bad setup."""
    if rate_per_min <= 0:
        console.print(f"[red]--rate must be positive, got {rate_per_min}")
        return 2
    try:
        config = load_config()
        osm = find_osm_file(osm_path)
        settings = Settings(data_dir=data_dir, basemap_path=osm, road_network_path=osm,
                            environment=demo_environment())
        with console.status(f"importing cameras from {osm.name}"):
            read, changes, counts = import_cameras(settings, osm, config)
    except DemoError as exc:
        console.print(f"[red]demo: {exc}")
        return 2
    _print_import(console, osm, read, changes, counts, config)

    server = DemoServer(settings, port=port)
    try:
        with console.status(f"starting the API server on {server.url}"):
            server.start()
        keys = read_keys(settings)
    except DemoError as exc:
        server.stop()
        console.print(f"[red]demo: {exc}")
        return 1
    try:
        try:
            _register_units(server, config, keys, console)
        except (DemoError, httpx.HTTPError) as exc:
            console.print(f"[red]demo: {exc}")
            return 1
        return _run_live(server, settings, config, keys, console=console, interval_s=60.0 / rate_per_min,
                         duration_s=duration_s, seed=seed)
    finally:
        server.stop()


def _register_units(server: DemoServer, config: DemoConfig, keys: dict[str, str], console: Console) -> None:
    """The demo's units, each registered by its own agency where the configuration places it, available: the
    dispatch plans of 119 calls rank them by road next to the fire station."""
    tracked = [u for u in config.units if u.tracked_as is not None]
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        for unit in tracked:
            lon, lat = config.start_position(unit)
            response = client.put(f"/api/v1/units/{unit.id}", headers=_auth(keys, unit.agency),
                                  json={"kind": unit.tracked_as, "name": f"{unit.kind} {unit.id.rsplit('-', 1)[-1]}",
                                        "state": "available", "location": {"lon": lon, "lat": lat}})
            if response.status_code not in (200, 201):
                raise DemoError(f"registering unit {unit.id} failed: HTTP {response.status_code} {response.text}")
        traffic = PlateTraffic(config, seed=0)
        box = config.bbox
        centre = {**_auth(keys, "centre"), "content-type": "text/csv"}
        for what, response in (
                ("watch-list entry", client.put(f"/api/v1/lpr/watch-list/{WATCHED_PLATE}",
                                                headers=_auth(keys, "police"),
                                                json=traffic.watch_entry(datetime.now(UTC)))),
                ("low-emission zone", client.put("/api/v1/lez/zones/demo", headers=_auth(keys, "centre"),
                                                 json=traffic.zone((box.min_lon, box.min_lat, box.max_lon,
                                                                    box.max_lat)))),
                ("restricted list", client.post("/api/v1/lez/restricted", headers=centre, content=(
                    "plate,grade\n" + "".join(f"{p},5\n" for p in RESTRICTED_PLATES)).encode())),
                ("exemption list", client.post("/api/v1/lez/exemptions", headers=centre,
                                               content=f"plate,reason\n{EXEMPT_PLATE},retrofitted\n".encode()))):
            if response.status_code not in (200, 201):
                raise DemoError(f"the demo's {what} failed: HTTP {response.status_code} {response.text}")
        stations = AirStations(config, seed=0).register(client, keys["centre"])
    console.print(f"[green]✓[/] {len(tracked)} units registered (made up, see citylink/demo/helsinki.json); "
                  "119 calls get a dispatch plan by road, 112 reports a 3-minute escape cordon")
    console.print("[green]✓[/] one made-up stolen car on the police watch list and three made-up old cars barred "
                  "from a low-emission zone over the demo area; the demo's LPR cameras send plate reads every "
                  f"{PLATE_READS_INTERVAL_S:g} s: a hit opens a wanted-vehicle incident, a barred car a violation")
    console.print(f"[green]✓[/] {stations} made-up air stations report every {REPORT_EVERY_S:g} s: a fine-dust "
                  f"episode opens, grows and lifts a PM2.5 alarm every {EPISODE_S / 60:g} minutes and one station "
                  "goes silent for a while (a maintenance event); the rules' hours pass in seconds here")


def report_unit_positions(client: httpx.Client, config: DemoConfig, keys: dict[str, str]) -> None:
    """What the units' trackers would send: each unit where it stands, now. A unit that stops reporting for
    ten minutes is no longer ranked (it may be anywhere), so a long demo keeps them reporting."""
    for unit in config.units:
        if unit.tracked_as is not None:
            lon, lat = config.start_position(unit)
            with contextlib.suppress(httpx.HTTPError):  # the next round reports again
                client.patch(f"/api/v1/units/{unit.id}", headers=_auth(keys, unit.agency),
                             json={"location": {"lon": lon, "lat": lat}})


def _auth(keys: dict[str, str], agency: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[agency]}"}


def _print_import(console: Console, osm: Path, read: int, changes: CameraChanges,
                  counts: camera_repo.UpsertCounts, config: DemoConfig) -> None:
    console.print(f"[green]✓[/] {read} cameras from {osm}  ({OSM_ATTRIBUTION})")
    console.print(f"  demo configuration (made up, see citylink/demo/helsinki.json): {changes.directed} "
                  f"directions, {changes.ptz} more PTZ, {changes.offline} offline")
    console.print(f"  store: {counts.created} new, {counts.updated} updated, {counts.unchanged} unchanged")
    if changes.unknown:
        console.print(f"[yellow]  not in the OSM file, ignored: {', '.join(changes.unknown)}")


def _run_live(server: DemoServer, settings: Settings, config: DemoConfig, keys: dict[str, str], *,
              console: Console, interval_s: float, duration_s: float, seed: int) -> int:
    keys_file = settings.data_dir / BOOTSTRAP_KEYS_FILE
    console.print(f"[green]✓[/] situation board on [bold]{server.url}/board[/]  (API docs: {server.url}/docs)")
    console.print(f"  log in with an agency key from {keys_file.resolve()} ('centre' is the admin; mode 0600,"
                  " keep it private)")
    links = [f"board {server.url}/board", f"API docs {server.url}/docs", f"keys {keys_file.resolve()}"]
    board = Board(title=f"citylink demo — {config.city}, {60.0 / interval_s:g} events/min, seed {seed}  "
                        f"(map data {OSM_ATTRIBUTION})",
                  links=links, timezone=config.timezone)
    centre = {"Authorization": f"Bearer {keys['centre']}"}
    feed = StreamFeed(server.url, keys["centre"], board)
    feed.start()
    try:
        with httpx.Client(base_url=server.url, headers=centre, timeout=10.0) as client, \
                Live(board.render(), console=console, auto_refresh=False) as live:
            player = _Player(client, keys, board, live, config=config, seed=seed)
            scenario = Scenario(config, seed=seed)
            reason = player.play(scenario, interval_s=interval_s, duration_s=duration_s, server=server)
            if server.alive:
                player.wind_down(scenario)
            board.status = f"stopped: {reason}"
            live.update(board.render(), refresh=True)
            audit = verify_audit(client) if server.alive else None
    finally:
        feed.stop()
    return _print_summary(console, board, audit, settings)


def _print_summary(console: Console, board: Board, audit: dict[str, Any] | None, settings: Settings) -> int:
    sent, stream = board.sent, board.stream
    console.line()  # a non-terminal Live leaves its last frame without a line end
    console.rule("demo summary")
    console.print(f"events sent {sent.total}: {sent.accepted} accepted, {sent.duplicates} duplicates, "
                  f"{sent.refused} refused, {sent.failed} failed")
    console.print(f"incidents in the store: {board.open_incidents} open, {board.closed_incidents} closed")
    console.print(f"this session: {stream.selections} camera selections, {len(stream.grants_issued)} grants "
                  f"issued, {len(stream.grants_revoked)} revoked, {stream.notifications} notifications, "
                  f"{stream.plans} route plans (dispatch plans and cordons)")
    console.print(f"data directory: {settings.data_dir.resolve()} (run again to continue with it)")
    if audit is None:
        console.print("[yellow]audit log: could not be verified (server not answering)")
        return 1
    if audit.get("ok"):
        console.print(f"[green]audit log intact: {audit.get('records')} records, hash chain verified")
        return 0
    problems = audit.get("problems") or []
    console.print(f"[red]audit log TAMPERED: {len(problems)} problem(s) in {audit.get('records')} records")
    for problem in problems[:10]:
        console.print(f"  record {problem.get('seq')}: {problem.get('reason')}", highlight=False)
    return 1
