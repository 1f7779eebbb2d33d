"""The demo's live console: what the platform really did, read back from its API and its live feed.

Three sources feed one Board:
- the runner reports every event it sent and how the API answered;
- GET /api/v1/incidents (and each incident's detail) gives the incident counts and the table of the latest
  incidents with their cameras and grants;
- GET /api/v1/stream (server-sent events, read in a thread) gives the activity lines and the session's
  counts of camera selections, grants and notifications.

Event items can carry personal data (a person reference, a guardian's phone): the board never reads them.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

Outcome = Literal["accepted", "duplicate", "refused", "failed"]

TABLE_ROWS = 8
ACTIVITY_LINES = 8
STREAM_PATH = "/api/v1/stream"
_STATUS_STYLE = {"occurred": "bold red", "changed": "yellow", "cleared": "green", "cancelled": "dim",
                 "ended": "green", "auto-ended": "dim"}


@dataclass(frozen=True, slots=True)
class IncidentLine:
    """One row of the incident table, from GET /api/v1/incidents/{id}."""

    opened: str  # local HH:MM:SS
    code: str
    service: str
    place: str
    status: str
    cameras: tuple[tuple[str, int], ...]  # (camera id, tier)
    grants: tuple[tuple[str, bool], ...]  # (agency, still live)


@dataclass(slots=True)
class Sent:
    """How the API answered the events the scenario sent."""

    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.accepted + self.duplicates + self.refused + self.failed


@dataclass(slots=True)
class StreamTally:
    """What the live feed reported during this session."""

    selections: int = 0
    grants_issued: set[str] = field(default_factory=set)
    grants_revoked: set[str] = field(default_factory=set)
    notifications: int = 0
    plans: int = 0  # dispatch plans and cordons worked out


class Board:
    """The console's state. The stream thread and the runner both write to it, hence the lock."""

    def __init__(self, *, title: str, links: list[str], timezone: str) -> None:
        self._lock = threading.Lock()
        self._title = title
        self._links = links
        self._tz = ZoneInfo(timezone)
        self.sent = Sent()
        self.stream = StreamTally()
        self.open_incidents = 0
        self.closed_incidents = 0
        self.status = "starting"
        self.plate_reads = 0
        self.plate_hits = 0
        self._lines: list[IncidentLine] = []
        self._activity: deque[Text] = deque(maxlen=ACTIVITY_LINES)
        self._last_sent = ""
        self._places: dict[str, tuple[str, str]] = {}  # incident id -> (code, place), for activity lines

    # --- writers --------------------------------------------------------------------------------------------

    def record_post(self, summary: str, outcome: Outcome, note: str = "") -> None:
        """How the API answered one event the scenario sent."""
        with self._lock:
            match outcome:
                case "accepted":
                    self.sent.accepted += 1
                case "duplicate":
                    self.sent.duplicates += 1
                case "refused":
                    self.sent.refused += 1
                case "failed":
                    self.sent.failed += 1
            self._last_sent = summary if outcome == "accepted" else f"{summary}  [{outcome}: {note}]"

    def record_plate_reads(self, reads: int, hits: int) -> None:
        with self._lock:
            self.plate_reads += reads
            self.plate_hits += hits

    def record_incidents(self, *, open_count: int, closed_count: int, lines: list[IncidentLine]) -> None:
        with self._lock:
            self.open_incidents, self.closed_incidents, self._lines = open_count, closed_count, lines

    def record_stream(self, type_: str, data: dict[str, Any]) -> None:
        with self._lock:
            line = self._describe(type_, data)
            if line is not None:
                self._activity.append(line)

    # --- the view -------------------------------------------------------------------------------------------

    def render(self) -> RenderableType:
        with self._lock:
            return Group(self._header(), self._counters(), self._table(), self._activity_panel())

    def _header(self) -> RenderableType:
        text = Text(self._title, style="bold")
        for link in self._links:
            text.append("\n" + link, style="cyan")
        text.append(f"\n{self.status}", style="dim")
        return Panel(text, border_style="blue")

    def _counters(self) -> RenderableType:
        grid = Table.grid(padding=(0, 3))
        for _ in range(4):
            grid.add_column()
        sent = self.sent
        grid.add_row(f"events sent [bold]{sent.total}[/]",
                      f"refused [bold]{sent.refused}[/]  failed [bold]{sent.failed}[/]",
                      f"incidents open [bold red]{self.open_incidents}[/]",
                      f"closed [bold green]{self.closed_incidents}[/]")
        grid.add_row(f"camera selections [bold]{self.stream.selections}[/]",
                     f"grants issued [bold]{len(self.stream.grants_issued)}[/]",
                     f"revoked [bold]{len(self.stream.grants_revoked)}[/]",
                     f"notifications [bold]{self.stream.notifications}[/]")
        grid.add_row(f"route plans [bold]{self.stream.plans}[/]", f"LPR reads [bold]{self.plate_reads}[/]",
                     f"watch-list hits [bold red]{self.plate_hits}[/]", "")
        last = Text(f"last sent: {self._last_sent or '-'}", style="dim", no_wrap=True, overflow="ellipsis")
        return Group(grid, last)

    def _table(self) -> RenderableType:
        # One line per incident, cut with an ellipsis, so the whole board fits a terminal; the API has the rest.
        table = Table(title="latest incidents (GET /api/v1/incidents)", title_justify="left", expand=True,
                      caption="tier 1 sees the spot, 2 can turn to it, 3 nearby; a struck-out grant is revoked",
                      caption_justify="left")
        for name, ratio in (("opened", None), ("code", None), ("service", 2), ("place", 2), ("status", None),
                            ("cameras: count, id/tier", 4), ("grants", 2)):
            table.add_column(name, ratio=ratio, no_wrap=True, overflow="ellipsis")
        for line in self._lines:
            table.add_row(line.opened, line.code, line.service, line.place,
                          Text(line.status, style=_STATUS_STYLE.get(line.status, "")),
                          _cameras_text(line.cameras), _grants_text(line.grants))
        return table

    def _activity_panel(self) -> RenderableType:
        body = Text("\n").join(self._activity) if self._activity else Text("waiting for the live feed…", "dim")
        return Panel(body, title="live feed (GET /api/v1/stream)", title_align="left", border_style="dim")

    def _describe(self, type_: str, data: dict[str, Any]) -> Text | None:
        """Count a stream message, and give its activity line (None for the ones not worth a line)."""
        incident_id = str(data.get("incident_id") or data.get("id") or "")
        if type_.startswith("incident.") and "code" in data:
            self._places[incident_id] = (str(data.get("code", "")), str(data.get("place", "")))
        code, place = self._places.get(incident_id, ("", ""))
        about = f"{code} at {place}" if code else f"incident {incident_id[:8]}"
        stamp = datetime.now(self._tz).strftime("%H:%M:%S")
        match type_:
            case "incident.opened":
                return _line(stamp, "opened", f"{about}: {data.get('name_en', '')}", "red")
            case "incident.closed":
                return _line(stamp, "closed", f"{about} ({data.get('status_label', '')})", "green")
            case "cameras.selected":
                self.stream.selections += 1
                cameras = data.get("cameras") or []
                return _line(stamp, "cameras", f"{len(cameras)} selected for {about}", "cyan")
            case "grant.issued":
                self.stream.grants_issued.add(str(data.get("grant_id")))
                count = len(data.get("cameras") or [])
                return _line(stamp, "grant", f"{data.get('agency')} may watch {count} cameras of {about}", "magenta")
            case "grant.revoked":
                self.stream.grants_revoked.add(str(data.get("grant_id")))
                return _line(stamp, "revoked", f"{data.get('agency')}'s grant for {about}", "yellow")
            case "notification.created":
                self.stream.notifications += 1
                return _line(stamp, "notify", f"{data.get('recipient')}: {data.get('message')}", "blue")
            case "incident.plan":
                self.stream.plans += 1
                return _line(stamp, str(data.get("kind", "plan")), f"{about}: {data.get('summary', '')}", "bright_red")
        return None


def _line(stamp: str, tag: str, text: str, style: str) -> Text:
    line = Text(f"{stamp} ", style="dim")
    line.append(f"{tag:<8}", style=style)
    line.append(text)
    return line


def _cameras_text(cameras: tuple[tuple[str, int], ...]) -> str:
    if not cameras:
        return "-"
    return f"{len(cameras)}: " + " ".join(f"{cid.removeprefix('osm:')}/{tier}" for cid, tier in cameras)


def _grants_text(grants: tuple[tuple[str, bool], ...]) -> Text:
    if not grants:
        return Text("-")
    text = Text()
    for n, (agency, live) in enumerate(grants):
        if n:
            text.append(", ")
        text.append(agency, style="green" if live else "dim strike")
    return text


# --- reading the API ----------------------------------------------------------------------------------------


def fetch_incidents(client: httpx.Client, *, timezone: str, rows: int = TABLE_ROWS
                    ) -> tuple[int, int, list[IncidentLine]]:
    """(open, closed, the latest incidents) from the API; the client carries a key that sees every incident."""
    response = client.get("/api/v1/incidents", params={"limit": 1000})
    response.raise_for_status()
    summaries: list[dict[str, Any]] = response.json()
    open_count = sum(1 for s in summaries if s.get("ended_at") is None)
    tz = ZoneInfo(timezone)
    lines = []
    for summary in summaries[:rows]:  # newest activity first
        detail = client.get(f"/api/v1/incidents/{summary['id']}")
        if detail.status_code == 200:
            lines.append(incident_line(detail.json(), tz))
    return open_count, len(summaries) - open_count, lines


def incident_line(detail: dict[str, Any], tz: ZoneInfo) -> IncidentLine:
    opened = datetime.fromisoformat(detail["opened_at"]).astimezone(tz).strftime("%H:%M:%S")
    cameras = tuple((str(c["id"]), int(c.get("tier", 0))) for c in detail.get("cameras", []))
    grants = tuple((str(g["agency"]), not g["revoked"]) for g in detail.get("grants", []))
    code = str(detail["code"])
    # "112 emergency video" next to code 112UC001 says 112 twice; the table is tight.
    service = str(detail.get("name_en", "")).removeprefix(code[:3] + " ")
    return IncidentLine(opened=opened, code=code, service=service,
                        place=detail.get("place", ""), status=detail.get("status_label", ""), cameras=cameras,
                        grants=grants)


class StreamFeed:
    """Reads the live feed in a background thread and hands every message to the board.

    Reads time out after read_timeout_s of silence and the feed reconnects with Last-Event-ID, so nothing is
    missed and stop() takes effect within a second: an open SSE request would otherwise hold up the server's
    graceful shutdown.
    """

    def __init__(self, base_url: str, key: str, board: Board, *, read_timeout_s: float = 1.0) -> None:
        self._base_url = base_url
        self._headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
        self._board = board
        self._timeout = httpx.Timeout(5.0, read=read_timeout_s)
        self._stop = threading.Event()
        self._last_id: str | None = None
        self._thread = threading.Thread(target=self._run, name="citylink-demo-stream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        with httpx.Client(base_url=self._base_url, timeout=self._timeout) as client:
            while not self._stop.is_set():
                headers = dict(self._headers)
                if self._last_id is not None:
                    headers["Last-Event-ID"] = self._last_id
                try:
                    with client.stream("GET", STREAM_PATH, headers=headers) as response:
                        if response.status_code != 200:
                            self._stop.wait(1.0)
                            continue
                        self._read(response)
                except httpx.HTTPError:
                    # A quiet spell (read timeout) or the server going away: reconnect and replay.
                    self._stop.wait(0.1)

    def _read(self, response: httpx.Response) -> None:
        type_, event_id = "message", None
        data: list[str] = []
        for raw in response.iter_lines():
            if self._stop.is_set():
                return
            if raw == "":
                if data:
                    self._deliver(type_, "\n".join(data), event_id)
                type_, data, event_id = "message", [], None
            elif raw.startswith(":"):
                continue  # a keep-alive comment
            else:
                name, _, value = raw.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    type_ = value
                elif name == "data":
                    data.append(value)
                elif name == "id":
                    event_id = value

    def _deliver(self, type_: str, payload: str, event_id: str | None) -> None:
        if event_id is not None:
            self._last_id = event_id
        try:
            data = json.loads(payload)
        except ValueError:
            return
        if isinstance(data, dict):
            self._board.record_stream(type_, data)
