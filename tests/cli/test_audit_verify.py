"""`citylink audit verify` on a real store: intact passes; an altered, removed or reordered record is named."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citylink.cli import app
from tests.conftest import Harness, event_body

runner = CliRunner()


async def _store_with_history(harness: Harness) -> Path:
    await harness.post_event("police", event_body())
    await harness.settle()
    await harness.client.post("/api/v1/video/auth", json={"action": "read", "path": "camera/sees"})
    return harness.platform.settings.data_dir


def _tampered_copy(data_dir: Path, tmp_path: Path, sql: str) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    source = sqlite3.connect(data_dir / "citylink.db")
    target = sqlite3.connect(copy / "citylink.db")
    source.backup(target)  # a consistent copy even while the WAL is in use
    source.close()
    target.executescript(sql)
    target.commit()
    target.close()
    return copy


async def test_intact_log_verifies(harness: Harness) -> None:
    data_dir = await _store_with_history(harness)
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "audit log intact" in result.output


@pytest.mark.parametrize(("sql", "expected"), [
    ("UPDATE audit_log SET actor = 'fire' WHERE seq = 9", "record 9 (position 9): content does not match"),
    ("DELETE FROM audit_log WHERE seq = 9", "expected record 9, found 10: records missing"),
    ("UPDATE audit_log SET seq = -1 WHERE seq = 9; UPDATE audit_log SET seq = 9 WHERE seq = 10;"
     "UPDATE audit_log SET seq = 10 WHERE seq = -1",
     "record 9 (position 9): link to the previous record is broken"),
])
async def test_tampered_copy_fails_and_says_where(harness: Harness, tmp_path: Path, sql: str, expected: str) -> None:
    data_dir = await _store_with_history(harness)
    copy = _tampered_copy(data_dir, tmp_path, sql)
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(copy)])
    assert result.exit_code == 1, result.output
    assert "TAMPERED" in result.output
    assert expected in result.output
