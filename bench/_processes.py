"""citylink processes for the end-to-end benchmarks (start, wait until ready, read their CPU time, stop), and the
throwaway PostgreSQL databases they run on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of pid; empty where /proc is missing."""
    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    seconds: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[int(task.name)] = (int(fields[11]) + int(fields[12])) * tick
    return seconds


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, command: list[str], *, log: Path, port: int | None = None, ready: str | None = None,
              env: dict[str, str] | None = None, timeout_s: float = 60.0) -> Server:
        """Ready when GET /healthz on port answers 200, or when the log shows the ready line."""
        full_env = {**(env or os.environ), "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=REPO)
        server = cls(name, process, log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.log_tail()}")
            if server._ready(port, ready):
                return server
            time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"{name} was not ready within {timeout_s:.0f} s:\n{server.log_tail()}")

    def _ready(self, port: int | None, line: str | None) -> bool:
        if line is not None:
            return line in self.log.read_text(errors="replace")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # clean shutdown: uvicorn runs the lifespan exit
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of admin_url; dropped on the way out, whatever happened."""
    name = f"citylink_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
