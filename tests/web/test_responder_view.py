"""The responder view in a real browser: only the granted cameras, live, until the grant ends."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import ESPLANADI, RAUTATIENTORI, Pages, WebServer, publish_screenshot

ENDS_WITHIN_S = 2.0


def _open_view(pages: Pages, token: str, cameras: list[str]) -> Page:
    view = pages.new()
    view.goto(f"{pages.server.base}/view/{token}")
    expect(view.get_by_test_id("view-state")).to_contain_text("Live")
    expect(view.get_by_test_id("view-video")).to_have_count(len(cameras))
    # Up to four stream; the rest show stills. Every granted camera has a decoded picture.
    view.wait_for_function(
        """([n, all]) => { const imgs = [...document.querySelectorAll('[data-testid=view-video][src]')];
                  return imgs.filter(i => i.src.includes('.mjpeg')).length === n && imgs.length === all
                         && imgs.every(i => i.complete && i.naturalWidth > 0); }""",
        arg=[min(len(cameras), 4), len(cameras)], timeout=10_000)
    return view


def _shown_cameras(view: Page) -> list[str]:
    ids: list[str] = view.locator("[data-testid=view-cameras] figure").evaluate_all(
        "figs => figs.map(f => f.dataset.camera)")
    return ids


def _assert_video_stopped(view: Page) -> None:
    assert view.locator("img[src*='/video/']").count() == 0


def test_closing_from_the_board_revokes_the_grants_and_the_open_view_says_so_within_2s(
        pages: Pages, web_server: WebServer, artifacts: Path) -> None:
    incident_id = web_server.post_event("112UC001", RAUTATIENTORI, sender="police", place="Rautatientori",
                                        content="robbery at the station square, suspect on foot")["incident_id"]
    token, cameras = web_server.grant_token(incident_id, "police")
    view = _open_view(pages, token, cameras)
    assert sorted(_shown_cameras(view)) == sorted(cameras)  # only the granted cameras
    expect(view.get_by_test_id("countdown")).to_be_visible()
    expect(view.get_by_test_id("view-incident")).to_contain_text("112 emergency video")
    view.wait_for_selector("[data-testid=view-map] .inc-icon")
    shot = artifacts / "responder.png"
    view.screenshot(path=str(shot))
    publish_screenshot(shot, "responder.png")

    board = pages.board("centre")
    board.click(f'[data-testid=incident-row][data-id="{incident_id}"]')
    expect(board.get_by_test_id("panel-name")).to_be_visible()
    board.get_by_test_id("action-close").click()
    expect(board.get_by_test_id("confirm-dialog")).to_be_visible()
    started = time.monotonic()
    board.get_by_test_id("confirm-ok").click()

    view.wait_for_selector(".view-ended", timeout=5_000)
    elapsed_s = time.monotonic() - started
    assert elapsed_s <= ENDS_WITHIN_S, f"the view turned {elapsed_s:.2f} s after closing (target ≤ 2 s)"
    expect(view.get_by_test_id("view-banner")).to_contain_text("revoked")
    _assert_video_stopped(view)
    view.screenshot(path=str(artifacts / "responder-revoked.png"))

    # The board dropped it from the map and the list; every grant of the incident is revoked.
    expect(board.locator(f'[data-testid=incident-marker][data-id="{incident_id}"]')).to_have_count(0)
    expect(board.locator(f'[data-testid=incident-row][data-id="{incident_id}"]')).to_have_count(0)
    assert not board.evaluate("id => window.__citylinkBoard.onMap(id)", incident_id)
    grants = web_server.incident(incident_id)["grants"]
    assert grants
    assert all(g["revoked"] for g in grants)
    with httpx.stream("GET", f"{web_server.base}/video/{cameras[0]}.mjpeg", params={"jwt": token},
                      timeout=10) as response:
        assert response.status_code in (401, 403)


def test_an_expired_grant_is_shown_as_expired(pages: Pages, web_server: WebServer) -> None:
    """A token past its expiry: the page says "expired" and shows no picture, even before any poll answers."""
    incident_id = web_server.post_event("119UC001", ESPLANADI, sender="fire", place="Esplanadi")["incident_id"]
    token, cameras = web_server.grant_token(incident_id, "fire")
    view = _open_view(pages, token, cameras)
    expires_at = view.evaluate("() => document.querySelector('#countdown-value').textContent")
    assert ":" in expires_at
    # The page follows the server's clock (from each poll's Date header), so a poll answered after the clock
    # moves would move it back: cut the polls off first and wait until one has failed (they run one at a time).
    view.route("**/api/v1/view/**", lambda route: route.abort())
    expect(view.get_by_test_id("view-state")).to_have_class(re.compile(r"\boffline\b"))
    # Move the page's clock past the grant's expiry: the countdown reaches zero and the page ends it itself.
    view.evaluate("() => { const real = Date.now; Date.now = () => real() + 3 * 3600 * 1000; }")
    view.wait_for_selector(".view-ended", timeout=int(ENDS_WITHIN_S * 1000))
    expect(view.get_by_test_id("view-banner")).to_contain_text("expired")
    _assert_video_stopped(view)


def test_a_forged_link_shows_nothing(pages: Pages, web_server: WebServer) -> None:
    view = pages.new()
    view.goto(f"{web_server.base}/view/not-a-grant-token")
    expect(view.locator(".view-ended")).to_be_visible()
    expect(view.get_by_test_id("view-banner")).to_contain_text("not valid")
    assert view.locator("img").count() == 0
    assert [u for u in pages.requests if "/video/" in u] == []
