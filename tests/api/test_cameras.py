"""The camera registry over HTTP: CRUD, import, and that selection follows every change at once."""

from __future__ import annotations

from tests.conftest import REPO, SPOT, Harness, event_body, offset


def _camera(cid: str, **fields: object) -> dict[str, object]:
    lon, lat = offset(*SPOT, north_m=-15)
    return {"id": cid, "name": "Kaivokatu north", "lon": lon, "lat": lat, "direction_deg": 0.0, **fields}


async def test_new_camera_is_selected_immediately(harness: Harness) -> None:
    created = await harness.client.post("/api/v1/cameras", json=_camera("new-1"), headers=harness.auth("centre"))
    assert created.status_code == 201, created.text
    response = await harness.post_event("police", event_body())
    await harness.settle()
    incident = await harness.incident(response.json()["incident_id"])
    assert incident["cameras"][0]["id"] == "new-1"


async def test_camera_taken_offline_or_deleted_is_not_selected(harness: Harness) -> None:
    auth = harness.auth("centre")
    offline = await harness.client.put("/api/v1/cameras/sees", json={**_camera("sees"), "status": "offline"},
                                       headers=auth)
    assert offline.status_code == 200
    assert (await harness.client.delete("/api/v1/cameras/ptz", headers=auth)).status_code == 204
    response = await harness.post_event("police", event_body())
    await harness.settle()
    ids = [c["id"] for c in (await harness.incident(response.json()["incident_id"]))["cameras"]]
    assert "sees" not in ids and "ptz" not in ids


async def test_camera_errors_are_clear(harness: Harness) -> None:
    auth = harness.auth("centre")
    missing = await harness.client.get("/api/v1/cameras/nope", headers=auth)
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "/camera_id"
    assert (await harness.client.delete("/api/v1/cameras/nope", headers=auth)).status_code == 404
    duplicate = await harness.client.post("/api/v1/cameras", json=_camera("sees"), headers=auth)
    assert duplicate.status_code == 409
    mismatch = await harness.client.put("/api/v1/cameras/a", json=_camera("b"), headers=auth)
    assert mismatch.status_code == 422 and mismatch.json()["errors"][0]["field"] == "/id"
    bad = await harness.client.post("/api/v1/cameras", json=_camera("x", direction_deg=400), headers=auth)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "/direction_deg"
    police = await harness.client.post("/api/v1/cameras", json=_camera("y"), headers=harness.auth("police"))
    assert police.status_code == 403
    bbox = await harness.client.get("/api/v1/cameras", params={"bbox": "1,2,3"}, headers=auth)
    assert bbox.status_code == 422 and bbox.json()["errors"][0]["field"] == "/bbox"


async def test_import_csv_over_http_reports_rejections_and_upserts(harness: Harness) -> None:
    body = (REPO / "data" / "seoul-cctv.csv").read_bytes()
    auth = {**harness.auth("centre"), "content-type": "text/csv"}
    first = await harness.client.post("/api/v1/cameras/import", content=body, headers=auth,
                                      params={"filename": "seoul-cctv.csv"})
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["imported"], report["updated"], len(report["rejected"])) == (1762, 0, 1)
    assert report["rejected"][0] == {"row": 483, "reason": "exact duplicate of row 482"}
    again = (await harness.client.post("/api/v1/cameras/import", content=body, headers=auth)).json()
    assert (again["imported"], again["unchanged"]) == (0, 1762)
    listed = await harness.client.get("/api/v1/cameras", params={"bbox": "124,33,132,39", "limit": 5},
                                      headers=harness.auth("centre"))
    assert listed.json()["total"] == 1762


async def test_import_of_garbage_is_a_422(harness: Harness) -> None:
    auth = {**harness.auth("centre"), "content-type": "text/csv"}
    response = await harness.client.post("/api/v1/cameras/import", content=b"\x00\x01\x02garbage", headers=auth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "/body"
    unsupported = await harness.client.post("/api/v1/cameras/import", content=b"x",
                                            headers={**harness.auth("centre"), "content-type": "image/png"})
    assert unsupported.status_code == 415
