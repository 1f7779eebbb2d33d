"""The service statistics page: the figures of /api/v1/statistics/services drawn as bars and listed."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.web.conftest import RAUTATIENTORI, Pages, WebServer, publish_screenshot


def test_the_page_draws_each_service_s_events_and_delays(pages: Pages, web_server: WebServer,
                                                           artifacts: Path) -> None:
    web_server.post_event("112UC001", RAUTATIENTORI, sender="police", place="Rautatientori")
    stats = httpx.get(f"{web_server.base}/api/v1/statistics/services", headers=web_server.auth("centre"),
                      timeout=10).json()["services"]
    assert stats
    page = pages.board("centre")  # the page uses the board's login; the board links to it
    page.get_by_test_id("stats-link").click()
    page.wait_for_selector("body[data-ready=true]")
    events = page.locator("[data-testid=chart-events] [data-testid=bar]")
    expect(events).to_have_count(len(stats))
    drawn = {b.get_attribute("data-service"): int(b.get_attribute("data-value") or 0) for b in events.all()}
    # Events keep arriving from other tests; each drawn count is at least what the API said a moment ago.
    assert all(drawn[s["service"]] >= s["events"] for s in stats if s["service"] in drawn)
    expect(page.locator("[data-testid=chart-delays] [data-testid=bar-p99]")).to_have_count(len(stats))
    expect(page.get_by_test_id("stats-row")).to_have_count(len(stats))
    widths = [float(b.get_attribute("width") or 0) for b in events.all()]
    assert max(widths) > min(widths) or len(set(drawn.values())) == 1  # bars scale with the counts
    assert pages.foreign_requests() == []
    shot = artifacts / "stats.png"
    page.screenshot(path=str(shot), full_page=True)
    assert publish_screenshot(shot, "stats.png").stat().st_size < 1_000_000


def test_without_a_login_the_page_says_where_to_log_in(pages: Pages, web_server: WebServer) -> None:
    page = pages.new()
    page.goto(f"{web_server.base}/stats")
    expect(page.get_by_test_id("stats-message")).to_contain_text("Log in on the situation board first")
