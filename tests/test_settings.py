"""Settings that cannot work together are refused at start, with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from citylink.settings import Settings

PG = "postgresql://citylink@db/citylink"
NATS = "nats://127.0.0.1:4222"


@pytest.mark.parametrize(("fields", "reason"), [
    ({"role": "worker", "database_url": PG}, "needs nats_url"),
    ({"role": "api", "nats_url": NATS}, "needs a PostgreSQL database_url"),
    ({"selection": {"engine": "postgis"}}, "needs a PostgreSQL database_url"),
])
def test_impossible_layouts_are_refused(tmp_path: Path, fields: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings(data_dir=tmp_path, **fields)  # type: ignore[arg-type]


def test_the_production_layout_is_accepted(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, role="worker", database_url=PG, nats_url=NATS,
                        worker_cities=("seoul", "busan"))
    assert settings.role == "worker" and settings.worker_cities == ("seoul", "busan")
