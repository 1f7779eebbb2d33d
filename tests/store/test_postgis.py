"""PostGIS: the geography columns of migration 0003, and camera selection in the database.

Selection in the database must give exactly what the in-memory CameraIndex gives on the same cameras:
same ids, same order, same tiers, distances and reasons.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from citylink.adapters.camera_import import read_cameras
from citylink.api.app import create_app
from citylink.api.schemas import EventIn
from citylink.domain.cameras import Camera, CameraStatus
from citylink.geo.area import circle_polygon
from citylink.geo.camera_index import CameraIndex
from citylink.geo.distance import EARTH_RADIUS_M
from citylink.geo.selection import CandidateSource, select_cameras, select_in_area
from citylink.runtime.platform import Platform
from citylink.settings import SelectionSettings, Settings
from citylink.store import camera_repo, incident_repo
from citylink.store.camera_spatial import PostgisCameras
from citylink.store.database import alembic_config, make_engine, migrate
from tests.conftest import HELSINKI_PBF, SPOT, FakeClock, event_body, offset

pytestmark = pytest.mark.services

_SPHERE = Geod(a=EARTH_RADIUS_M, b=EARTH_RADIUS_M)
_GEOGRAPHY_COLUMNS = {("cameras", "geog"), ("incidents", "geog"), ("incidents", "area_geog")}
_GIST_INDEXES = {"ix_cameras_geog", "ix_incidents_geog", "ix_incidents_area_geog"}
# (radius_m, k): the default, a tight one that widens often, a wide one with many candidates
_POINT_QUERIES = ((500.0, 5), (150.0, 3), (1000.0, 10))


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _save(engine: Engine, cameras: list[Camera]) -> None:
    with Session(engine) as session, session.begin():
        camera_repo.upsert_many(session, cameras, now=FakeClock().now)


def _geography_columns(engine: Engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT table_name, column_name FROM information_schema.columns "
                                 "WHERE udt_name = 'geography' AND is_generated = 'ALWAYS'"))
        return {(table, column) for table, column in rows}


def _gist_indexes(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING gist%'"))
                   .scalars())


def _helsinki_cameras() -> list[Camera]:
    """The real cameras, with every tenth offline so the status filter is part of the comparison."""
    cameras = read_cameras(HELSINKI_PBF).cameras
    assert len(cameras) == 221
    return [c.model_copy(update={"status": CameraStatus.OFFLINE}) if i % 10 == 3 else c
            for i, c in enumerate(cameras)]


def _synthetic_cameras(seed: int) -> list[Camera]:
    """Clusters in Helsinki, across the antimeridian and near the north pole, with shared positions (ties)."""
    rng = random.Random(seed)
    centres = [SPOT, (179.998, -16.8), (-179.999, 65.0), (30.0, 89.99)]
    cameras: list[Camera] = []
    for c, (lon0, lat0) in enumerate(centres):
        for i in range(600):
            if cameras and rng.random() < 0.05:  # another camera on the same mast: the same distance to any spot
                lon, lat = cameras[-1].lon, cameras[-1].lat
            else:
                lon, lat, _ = _SPHERE.fwd(lon0, lat0, rng.uniform(0.0, 360.0), rng.expovariate(1 / 700.0))
            cameras.append(Camera(
                id=f"syn-{c}-{i:04d}", lon=lon, lat=lat,
                direction_deg=rng.uniform(0.0, 359.9) if rng.random() < 0.6 else None,
                fov_deg=rng.choice([60.0, 90.0, 110.0, 360.0]), view_range_m=rng.choice([80.0, 150.0, 200.0]),
                ptz=rng.random() < 0.1,
                status=CameraStatus.OFFLINE if rng.random() < 0.05 else CameraStatus.ONLINE,
            ))
    return cameras


def _query_points(cameras: list[Camera], seed: int, n: int) -> list[tuple[float, float]]:
    """Spots on cameras (distance 0), near them, and up to several km out, where widening or nothing happens."""
    rng = random.Random(seed)
    points = [(c.lon, c.lat) for c in rng.sample(cameras, 20)]
    for _ in range(n):
        base = rng.choice(cameras)
        lon, lat, _ = _SPHERE.fwd(base.lon, base.lat, rng.uniform(0.0, 360.0), rng.expovariate(1 / 900.0))
        points.append((lon, lat))
    return [*points, (0.0, 0.0), (-75.0, -45.0)]


def _assert_same_point_selections(engine: Engine, cameras: list[Camera], points: list[tuple[float, float]]
                                  ) -> dict[str, int]:
    """Every point and query shape gives the same Selection both ways; counts what kind of answers they were."""
    index = CameraIndex.from_cameras(cameras)
    seen = {"direct": 0, "widened": 0, "none": 0}
    with Session(engine) as session:
        for lon, lat in points:
            for radius_m, k in _POINT_QUERIES:
                expected = select_cameras(index, lon, lat, radius_m=radius_m, k=k)
                got = select_cameras(PostgisCameras(session), lon, lat, radius_m=radius_m, k=k)
                assert got == expected, (lon, lat, radius_m, k)
                seen["none" if not expected.cameras else "widened" if expected.widened else "direct"] += 1
    return seen


def _assert_same_area_selections(engine: Engine, cameras: list[Camera],
                                 areas: list[Polygon | MultiPolygon]) -> int:
    index = CameraIndex.from_cameras(cameras)
    cameras_found = 0
    with Session(engine) as session:
        for area in areas:
            for k in (None, 3):
                expected = select_in_area(index, area, k=k)
                assert select_in_area(PostgisCameras(session), area, k=k) == expected, (area.wkt, k)
                cameras_found += len(expected.cameras)
    return cameras_found


def _areas_around(cameras: list[Camera], seed: int) -> list[Polygon | MultiPolygon]:
    rng = random.Random(seed)
    areas: list[Polygon | MultiPolygon] = []
    for camera in rng.sample(cameras, 8):
        for radius_m in (120.0, 600.0):
            areas.append(circle_polygon(camera.lon, camera.lat, radius_m))
        shell = [offset(camera.lon, camera.lat, east_m=e, north_m=n)
                 for e, n in [(-400, -300), (500, -250), (350, 450), (-300, 380)]]
        hole = [offset(camera.lon, camera.lat, east_m=e, north_m=n)
                for e, n in [(-60, -60), (60, -60), (60, 60), (-60, 60)]]
        areas.append(Polygon(shell, [hole]))
    return areas


# -- the migration ------------------------------------------------------------------------------------


def test_migration_adds_generated_geography_columns_and_gist_indexes(pg_engine: Engine) -> None:
    assert _geography_columns(pg_engine) == _GEOGRAPHY_COLUMNS
    assert _gist_indexes(pg_engine) >= _GIST_INDEXES

    command.downgrade(alembic_config(pg_engine), "0002")
    assert _geography_columns(pg_engine) == set()
    assert not _gist_indexes(pg_engine) & _GIST_INDEXES

    migrate(pg_engine)
    assert _geography_columns(pg_engine) == _GEOGRAPHY_COLUMNS
    assert _gist_indexes(pg_engine) >= _GIST_INDEXES


def test_the_database_keeps_the_geography_in_step_with_lon_lat(pg_engine: Engine) -> None:
    lon, lat = SPOT
    _save(pg_engine, [Camera(id="cam", lon=lon, lat=lat)])
    _save(pg_engine, [Camera(id="cam", lon=lon + 0.01, lat=lat)])  # moved: only lon/lat are written
    ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01], [lon, lat]]
    with_area = EventIn.model_validate(event_body("DUCDP110", occurrence="area",
                                                  area={"type": "Polygon", "coordinates": [ring]})).to_event()
    point_only = EventIn.model_validate(event_body(occurrence="point")).to_event()
    with Session(pg_engine) as session, session.begin():
        incident_repo.insert_incidents(session, [incident_repo.new_incident(event, now=FakeClock().now, agencies=[])
                                                 for event in (with_area, point_only)])

    with pg_engine.connect() as conn:
        camera = conn.execute(text("SELECT ST_X(geog::geometry), ST_Y(geog::geometry) FROM cameras")).one()
        incidents = {row.occurrence: row for row in conn.execute(text(
            "SELECT occurrence, ST_X(geog::geometry) AS lon, ST_Y(geog::geometry) AS lat, "
            "ST_Area(area_geog) AS area_m2 FROM incidents"))}
    assert (camera[0], camera[1]) == (lon + 0.01, lat)
    assert (incidents["area"].lon, incidents["area"].lat) == (lon, lat)
    wgs84_area_m2, _ = Geod(ellps="WGS84").geometry_area_perimeter(Polygon(ring))
    assert incidents["area"].area_m2 == pytest.approx(abs(wgs84_area_m2), rel=1e-4)
    assert (incidents["point"].lon, incidents["point"].lat, incidents["point"].area_m2) == (lon, lat, None)


def test_postgis_cameras_refuse_a_database_without_postgis(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'citylink.db'}")
    migrate(engine)  # 0003 is a no-op on SQLite
    with Session(engine) as session, pytest.raises(ValueError, match="needs PostgreSQL, not sqlite"):
        PostgisCameras(session)
    engine.dispose()


# -- selection: the database against the in-memory index ---------------------------------------------


def test_point_selection_equals_the_index_on_the_helsinki_cameras(pg_engine: Engine) -> None:
    cameras = _helsinki_cameras()
    _save(pg_engine, cameras)
    seen = _assert_same_point_selections(pg_engine, cameras, _query_points(cameras, seed=4, n=300))
    assert all(count >= 10 for count in seen.values()), seen


def test_point_selection_equals_the_index_on_synthetic_cameras(pg_engine: Engine) -> None:
    """Antimeridian, pole, cameras sharing a mast, 360° fields of view, offline cameras."""
    cameras = _synthetic_cameras(seed=7)
    _save(pg_engine, cameras)
    seen = _assert_same_point_selections(pg_engine, cameras, _query_points(cameras, seed=8, n=300))
    assert all(count >= 10 for count in seen.values()), seen


def test_area_selection_equals_the_index(pg_engine: Engine) -> None:
    helsinki, synthetic = _helsinki_cameras(), _synthetic_cameras(seed=9)
    _save(pg_engine, [*helsinki, *synthetic])
    everything = [*helsinki, *synthetic]
    empty_sea = [circle_polygon(0.0, 0.0, 1000.0)]
    found = _assert_same_area_selections(pg_engine, everything, [*_areas_around(helsinki, seed=1),
                                                                 *_areas_around(synthetic, seed=2), *empty_sea])
    assert found > 200


def test_a_selection_sees_cameras_saved_earlier_in_its_own_transaction(pg_engine: Engine) -> None:
    """The executor selects inside the writer's transaction: cameras it has just flushed count."""
    with Session(pg_engine) as session, session.begin():
        camera_repo.upsert_many(session, [Camera(id="new", lon=SPOT[0], lat=SPOT[1])], now=FakeClock().now)
        session.flush()
        cameras: CandidateSource = PostgisCameras(session)
        assert [c.id for c in select_cameras(cameras, *SPOT).cameras] == ["new"]


# -- end to end: the platform with engine = postgis -----------------------------------------------------


async def _select_for_events(settings: Settings, cameras: list[Camera], run: str) -> list[list[dict[str, Any]]]:
    """A robbery at the spot and a disaster over an area around it; the cameras each incident got."""
    corners = [offset(*SPOT, east_m=e, north_m=n) for e, n in [(-500, -400), (600, -350), (450, 550), (-400, 480)]]
    area = {"type": "Polygon", "coordinates": [[list(c) for c in [*corners, corners[0]]]]}
    platform = Platform.open(settings)
    await platform.save_cameras(cameras, actor="test", source="helsinki.osm.pbf")
    app = create_app(settings, platform_factory=lambda _: platform)
    async with app.router.lifespan_context(app):
        keys = json.loads((settings.data_dir / "bootstrap-keys.json").read_text())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            robbery = await client.post("/api/v1/events", json=event_body(occurrence=f"{run}-robbery"),
                                        headers={"Authorization": f"Bearer {keys['police']}"})
            disaster = await client.post("/api/v1/events",
                                         json=event_body("DUCDP110", occurrence=f"{run}-flood", area=area,
                                                         sender={"system": "DRS", "city": "helsinki"}),
                                         headers={"Authorization": f"Bearer {keys['disaster']}"})
            assert (robbery.status_code, disaster.status_code) == (201, 201)
            await platform.wait_idle()
            centre = {"Authorization": f"Bearer {keys['centre']}"}
            return [(await client.get(f"/api/v1/incidents/{r.json()['incident_id']}", headers=centre)
                     ).json()["cameras"] for r in (robbery, disaster)]


async def test_events_on_postgresql_select_the_same_cameras_with_postgis_as_in_memory(
        tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cameras = _helsinki_cameras()
    memory = Settings(data_dir=tmp_path, database_url=pg_url)
    postgis = Settings(data_dir=tmp_path, database_url=pg_url, selection=SelectionSettings(engine="postgis"))
    searches: list[tuple[float, float, float]] = []
    search = PostgisCameras.candidates_within

    def counted(self: PostgisCameras, lon: float, lat: float, radius_m: float) -> Any:
        searches.append((lon, lat, radius_m))
        return search(self, lon, lat, radius_m)

    monkeypatch.setattr(PostgisCameras, "candidates_within", counted)

    in_memory = await _select_for_events(memory, cameras, "memory")
    assert searches == []
    in_database = await _select_for_events(postgis, cameras, "postgis")
    assert len(searches) == 2  # one search per event: the robbery's radius and the area's bounding circle
    robbery, flood = in_database
    assert len(robbery) == 5 and len(flood) > 10
    assert in_database == in_memory


def test_the_postgis_engine_refuses_sqlite() -> None:
    with pytest.raises(ValueError, match=r"selection\.engine 'postgis' needs a PostgreSQL database_url"):
        Settings(selection=SelectionSettings(engine="postgis"))
