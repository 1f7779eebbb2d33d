"""Property-based fuzzing of every operation in our OpenAPI schema: whatever comes in, never a 500."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from starlette.testclient import TestClient

from citylink.api.app import create_app
from citylink.settings import Settings

_DATA_DIR = Path(tempfile.mkdtemp(prefix="citylink-fuzz-"))
app = create_app(Settings(data_dir=_DATA_DIR))
# The live feed never ends by design; it has its own tests over a real socket.
schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/api/v1/stream")
_client: TestClient | None = None


def _centre_key() -> str:
    """Start the app once (lifespan: migrations, bootstrap) and hand out the admin key."""
    global _client
    if _client is None:
        _client = TestClient(app)
        _client.__enter__()
    keys: dict[str, str] = json.loads((_DATA_DIR / "bootstrap-keys.json").read_text())
    return keys["centre"]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_500(case: Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {_centre_key()}"})
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
