"""The command-line contract integrators rely on (README): serve, import cameras, agencies."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from citylink.cli import app
from tests.conftest import HELSINKI_PBF, REPO, event_body
from tests.live import free_port

runner = CliRunner()
SEOUL_CSV = REPO / "data" / "seoul-cctv.csv"


def test_import_helsinki_then_reimport_is_an_upsert(tmp_path: Path) -> None:
    first = runner.invoke(app, ["import", "cameras", str(HELSINKI_PBF), "--data-dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert "imported 221, updated 0, unchanged 0, rejected 0" in first.output
    again = runner.invoke(app, ["import", "cameras", str(HELSINKI_PBF), "--data-dir", str(tmp_path)])
    assert "imported 0, updated 0, unchanged 221, rejected 0" in again.output


def test_import_seoul_csv_reports_each_rejected_row(tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", "cameras", str(SEOUL_CSV), "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "imported 1762, updated 0, unchanged 0, rejected 1" in result.output
    assert "row 483: exact duplicate of row 482" in result.output


def test_import_of_an_unreadable_file_exits_non_zero(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["import", "cameras", str(tmp_path / "nope.csv"), "--data-dir", str(tmp_path)])
    assert missing.exit_code == 2
    assert "cannot import" in missing.output
    odd = tmp_path / "cameras.xlsx"
    odd.write_bytes(b"PK\x03\x04")
    unsupported = runner.invoke(app, ["import", "cameras", str(odd), "--data-dir", str(tmp_path)])
    assert unsupported.exit_code == 2


def test_agencies_create_key_and_list(tmp_path: Path) -> None:
    created = runner.invoke(app, ["agencies", "create", "police/patrol-3", "Patrol car 3", "police",
                                  "--data-dir", str(tmp_path)])
    assert created.exit_code == 0, created.output
    key = runner.invoke(app, ["agencies", "key", "police/patrol-3", "--role", "agency", "--data-dir", str(tmp_path)])
    issued = json.loads(key.output)
    assert issued["key"].startswith("clk_") and issued["role"] == "agency"
    listing = runner.invoke(app, ["agencies", "list", "--data-dir", str(tmp_path)])
    assert "police/patrol-3" in listing.output and issued["key_id"] in listing.output
    assert issued["key"] not in listing.output
    unknown = runner.invoke(app, ["agencies", "key", "nobody", "--data-dir", str(tmp_path)])
    assert unknown.exit_code == 2
    revoked = runner.invoke(app, ["agencies", "revoke", issued["key_id"], "--data-dir", str(tmp_path)])
    assert revoked.exit_code == 0, revoked.output
    assert f"{issued['key_id']}:agency (revoked)" in runner.invoke(
        app, ["agencies", "list", "--data-dir", str(tmp_path)]).output
    again = runner.invoke(app, ["agencies", "revoke", issued["key_id"], "--data-dir", str(tmp_path)])
    assert again.exit_code == 2


def test_serve_bootstraps_agencies_and_takes_events(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "citylink", "serve", "--data-dir", str(data_dir),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        keys_file = data_dir / "bootstrap-keys.json"
        keys = json.loads(keys_file.read_text())
        assert set(keys) == {"centre", "police", "fire", "disaster", "welfare", "justice"}
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        response = httpx.post(base + "/api/v1/events", json=event_body(),
                              headers={"Authorization": f"Bearer {keys['police']}"})
        assert response.status_code == 201
        assert httpx.get(base + "/docs").status_code == 200
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert "bootstrap-keys.json" in output
    # uvicorn shuts down cleanly on SIGTERM, then re-raises it so the exit status says why it stopped.
    assert "Application shutdown complete" in output, output
    assert process.returncode in (0, -15)
