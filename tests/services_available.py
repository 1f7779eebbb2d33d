"""Real servers for real tests: skip with a reason on a user's machine, fail in CI (CITYLINK_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import os
import socket

import pytest


def need_server(name: str, host: str, port: int) -> None:
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        message = f"{name} is not reachable on {host}:{port} ({exc})"
    if os.environ.get("CITYLINK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; CITYLINK_REQUIRE_SERVICES=1 requires it")
    pytest.skip(f"{message}; start it to run this test")
