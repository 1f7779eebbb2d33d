"""A real uvicorn server in a background thread, for tests that need real sockets (SSE, webhooks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.types import ASGIApp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: ASGIApp, *, ready_path: str = "/healthz") -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + ready_path, timeout=1).status_code < 500:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        raise RuntimeError(f"server on {base} did not start")
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=20)
