"""Browser tests of the situation board and the responder view: the real app on real sockets, Debian's Chromium.

The server is the real `create_app` with the 221 OSM cameras of central Helsinki (demo directions applied) and
the extract as its base map. Chromium comes from Debian (`apt-get install chromium`); no browser is ever
downloaded. Without it the tests skip, unless CITYLINK_REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from citylink.api.app import create_app
from citylink.demo import load_config
from citylink.demo.runner import import_cameras
from citylink.domain.agencies import Role
from citylink.runtime.platform import BOOTSTRAP_KEYS_FILE, Platform
from citylink.settings import Settings
from citylink.store import agency_repo
from tests.conftest import HELSINKI_PBF, REPO
from tests.live import free_port, serve_in_thread

CHROMIUM = Path(os.environ.get("CITYLINK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT: ViewportSize = {"width": 1600, "height": 900}
SCREENSHOTS = REPO / "docs" / "screenshots"

# Extra keys the bootstrap does not create: one per centre role the tests log in as.
EXTRA_ROLES = {"operator": Role.OPERATOR, "supervisor": Role.SUPERVISOR, "auditor": Role.AUDITOR}

# Places in the extract (lon, lat): Rautatientori, the Esplanadi park, Senaatintori, the Kamppi end of Simonkatu.
RAUTATIENTORI = (24.9437, 60.1711)
ESPLANADI = (24.9478, 60.1678)
SENAATINTORI = (24.9522, 60.1693)
KAMPPI = (24.9375, 60.1690)


def _unavailable(reason: str) -> None:
    if os.environ.get("CITYLINK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}; CITYLINK_REQUIRE_SERVICES=1 requires it")
    pytest.skip(f"{reason}; install it to run the browser tests")


_occurrences = itertools.count(1)


@dataclass
class WebServer:
    """The running app, its API keys by login name (agencies, plus operator/supervisor/auditor of the centre)."""

    base: str
    keys: dict[str, str]
    data_dir: Path

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def post_event(self, code: str, at: tuple[float, float], *, sender: str, place: str = "",
                   **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": code, "status": "10", "occurrence": f"web-{os.getpid()}-{next(_occurrences)}",
            "time": datetime.now(UTC).isoformat(), "location": {"lon": at[0], "lat": at[1]}, "place": place,
            "content": f"{code} reported by the browser tests", "sender": {"system": sender, "city": "helsinki"},
        }
        body.update(extra)
        response = httpx.post(f"{self.base}/api/v1/events", json=body, headers=self.auth(sender), timeout=10)
        assert response.status_code == 201, response.text
        accepted: dict[str, Any] = response.json()
        return accepted

    def incident(self, incident_id: str, *, who: str = "centre") -> dict[str, Any]:
        response = httpx.get(f"{self.base}/api/v1/incidents/{incident_id}", headers=self.auth(who), timeout=10)
        assert response.status_code == 200, response.text
        detail: dict[str, Any] = response.json()
        return detail

    def wait_for(self, incident_id: str, ready: Callable[[dict[str, Any]], bool], *, who: str = "centre",
                 timeout_s: float = 10.0) -> dict[str, Any]:
        """The incident once `ready(detail)` holds (services act asynchronously after the 201)."""
        deadline = time.monotonic() + timeout_s
        while True:
            detail = self.incident(incident_id, who=who)
            if ready(detail) or time.monotonic() > deadline:
                return detail
            time.sleep(0.05)

    def grant_token(self, incident_id: str, agency: str) -> tuple[str, list[str]]:
        """The live grant of `agency` for the incident, as that agency sees it: (token, camera ids)."""
        detail = self.wait_for(incident_id, lambda d: any(g["agency"] == agency and g["token"] for g in d["grants"]),
                               who=agency)
        for grant in detail["grants"]:
            if grant["agency"] == agency and grant["token"]:
                return grant["token"], list(grant["cameras"])
        raise AssertionError(f"{agency} holds no grant for incident {incident_id}: {detail['grants']}")


def _prepare(settings: Settings) -> dict[str, str]:
    """The store before the server starts: Helsinki's cameras (imported as `citylink demo` does, demo camera
    directions applied), the agencies and their keys, and a key for each extra centre role."""
    import_cameras(settings, HELSINKI_PBF, load_config())
    platform = Platform.open(settings)
    try:
        platform.bootstrap()
        keys: dict[str, str] = json.loads((settings.data_dir / BOOTSTRAP_KEYS_FILE).read_text())
        now = datetime.now(UTC)
        for name, role in EXTRA_ROLES.items():
            keys[name] = platform.db.write_sync(partial(agency_repo.issue_key, agency_id="centre", role=role,
                                                        now=now))[1]
    finally:
        platform.db.close()
    return keys


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    data_dir = tmp_path_factory.mktemp("web") / "data"
    settings = Settings(data_dir=data_dir, basemap_path=HELSINKI_PBF, road_network_path=HELSINKI_PBF)
    keys = _prepare(settings)
    with serve_in_thread(create_app(settings)) as base:
        yield WebServer(base=base, keys=keys, data_dir=data_dir)


class RestartableServer:
    """The app on a fixed port that can be stopped and started again, as an operator's server restart is."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # Open live feeds would hold a graceful shutdown forever; after a second they are cut, as in a crash.
        config = uvicorn.Config(create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the server on {self.base} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=20)
            assert not self._thread.is_alive(), "the server did not stop"
        self._server = self._thread = None


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[tuple[RestartableServer, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path / "data", basemap_path=HELSINKI_PBF)
    keys = _prepare(settings)
    server = RestartableServer(settings)
    server.start()
    try:
        yield server, keys
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Pages:
    """Browser pages for one test, each recording every request it makes; closed (streams and all) afterwards."""

    browser: Browser
    server: WebServer
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)
    also_own: set[str] = field(default_factory=set)  # hosts of other citylink servers a test runs

    def allow(self, base: str) -> None:
        self.also_own.add(urlsplit(base).netloc)

    def new(self) -> Page:
        context = self.browser.new_context(viewport=VIEWPORT, locale="en-GB")
        self.contexts.append(context)
        page = context.new_page()
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page

    def board(self, who: str) -> Page:
        """A board page logged in through the login screen as `who`, with its list and map drawn."""
        page = self.new()
        page.goto(f"{self.server.base}/board")
        page.wait_for_selector("[data-testid=login-key]", state="visible")
        page.fill("[data-testid=login-key]", self.server.keys[who])
        page.click("[data-testid=login-submit]")
        page.wait_for_selector("body[data-ready=true]", state="attached", timeout=20_000)
        page.wait_for_selector("[data-testid=connection][data-state=live]", timeout=10_000)
        return page

    def foreign_requests(self) -> list[str]:
        """Requests to any host other than citylink's (data: and blob: URLs have no host and never leave)."""
        own = {urlsplit(self.server.base).netloc, *self.also_own}
        return [url for url in self.requests
                if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).netloc not in own]

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Browser, web_server: WebServer) -> Iterator[Pages]:
    opened = Pages(browser, web_server)
    try:
        yield opened
    finally:
        opened.close()
    # Every test doubles as a check that nothing leaves the closed network, and that no script failed.
    assert opened.foreign_requests() == [], f"requests to other hosts: {opened.foreign_requests()}"
    assert opened.errors == [], f"uncaught errors in the page: {opened.errors}"


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go as test artifacts; one of each is also copied to docs/screenshots/."""
    return tmp_path_factory.mktemp("screenshots")


def publish_screenshot(path: Path, name: str) -> Path:
    """Copy a screenshot to docs/screenshots/NAME as a 256-colour PNG (a third of the size, same look)."""
    from PIL import Image

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / name
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            target, optimize=True)
    return target
