"""The camera index: bulk loads, live updates after the tree is built, and answers equal to a full scan."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from citylink.domain.cameras import Camera, CameraStatus
from citylink.domain.selection import SelectedCamera, Tier
from citylink.geo.camera_index import CameraIndex
from citylink.geo.selection import select_cameras

SEOUL = (126.9780, 37.5665)
BOX_DEG = 0.02  # about 1.8 km × 2.2 km around SEOUL
R_M = 6_371_008.8


# -- an independent reference: every camera, scalar haversine, the ranking written out plainly ----


def _haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * R_M * math.asin(min(1.0, math.sqrt(h)))


def _bearing_deg(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def _tier(camera: Camera, distance_m: float, bearing_deg: float) -> Tier:
    if camera.direction_deg is not None:
        off = abs((camera.direction_deg - bearing_deg + 180.0) % 360.0 - 180.0)
        if (off <= camera.fov_deg / 2 or distance_m == 0.0) and distance_m <= camera.view_range_m:
            return Tier.SEES
    if camera.direction_deg is None or camera.ptz:
        return Tier.CAN_TURN
    return Tier.NEARBY


def reference(cameras: dict[str, Camera], lon: float, lat: float, radius_m: float, k: int) -> list[tuple[str, Tier]]:
    for radius in (radius_m, 2 * radius_m):
        ranked = []
        for camera in cameras.values():
            d = _haversine_m(camera.lon, camera.lat, lon, lat)
            if camera.status is CameraStatus.ONLINE and d <= radius:
                tier = _tier(camera, d, _bearing_deg(camera.lon, camera.lat, lon, lat))
                ranked.append((tier, d, camera.id))
        if ranked:
            return [(camera_id, tier) for tier, _, camera_id in sorted(ranked)[:k]]
    return []


def _picked(cameras: tuple[SelectedCamera, ...]) -> list[tuple[str, Tier]]:
    return [(c.id, c.tier) for c in cameras]


# -- random cameras and operations --------------------------------------------------------------


def _random_camera(rng: random.Random, camera_id: str) -> Camera:
    return Camera(
        id=camera_id,
        lon=SEOUL[0] + rng.uniform(-BOX_DEG, BOX_DEG) / 2,
        lat=SEOUL[1] + rng.uniform(-BOX_DEG, BOX_DEG) / 2,
        direction_deg=rng.choice([None, rng.uniform(0.0, 359.9)]),
        fov_deg=rng.choice([60.0, 90.0, 120.0, 360.0]),
        view_range_m=rng.choice([80.0, 150.0, 250.0]),
        ptz=rng.random() < 0.15,
        status=CameraStatus.OFFLINE if rng.random() < 0.1 else CameraStatus.ONLINE,
    )


def _random_spot(rng: random.Random) -> tuple[float, float]:
    # a quarter of the spots fall well outside the box, to exercise widening and empty answers
    spread = BOX_DEG * (2.0 if rng.random() < 0.25 else 0.6)
    return SEOUL[0] + rng.uniform(-spread, spread), SEOUL[1] + rng.uniform(-spread, spread)


def _mutate(rng: random.Random, index: CameraIndex, cameras: dict[str, Camera], next_id: int) -> int:
    op = rng.random()
    ids = sorted(cameras)
    if op < 0.35 or not ids:  # a new camera
        camera = _random_camera(rng, f"new-{next_id}")
        next_id += 1
        index.upsert(camera)
        cameras[camera.id] = camera
    elif op < 0.55:  # a camera moves
        moved = _random_camera(rng, rng.choice(ids))
        index.upsert(moved)
        cameras[moved.id] = moved
    elif op < 0.7:  # attributes change in place
        old = cameras[rng.choice(ids)]
        changed = old.model_copy(update={"direction_deg": rng.choice([None, rng.uniform(0.0, 359.9)]),
                                         "ptz": not old.ptz})
        index.upsert(changed)
        cameras[changed.id] = changed
    elif op < 0.85:
        camera_id = rng.choice(ids)
        assert index.remove(camera_id)
        del cameras[camera_id]
    else:
        camera_id = rng.choice(ids)
        online = rng.random() < 0.5
        index.set_online(camera_id, online)
        status = CameraStatus.ONLINE if online else CameraStatus.OFFLINE
        cameras[camera_id] = cameras[camera_id].model_copy(update={"status": status})
    return next_id


@pytest.mark.parametrize("seed", range(6))
def test_random_updates_answer_like_a_full_scan_and_a_fresh_build(seed: int) -> None:
    rng = random.Random(seed)
    cameras = {c.id: c for c in (_random_camera(rng, f"cam-{i}") for i in range(400))}
    index = CameraIndex.from_cameras(cameras.values(), rebuild_threshold=rng.choice([8, 32, 10_000]))
    next_id = 0
    for round_ in range(10):
        for _ in range(60):
            next_id = _mutate(rng, index, cameras, next_id)
        fresh = CameraIndex.from_cameras(cameras.values())
        assert len(index) == len(cameras)
        for _ in range(25):
            lon, lat = _random_spot(rng)
            radius_m = rng.choice([100.0, 250.0, 500.0])
            k = rng.choice([1, 5, 20])
            got = select_cameras(index, lon, lat, radius_m=radius_m, k=k)
            assert _picked(got.cameras) == reference(cameras, lon, lat, radius_m, k), (round_, lon, lat)
            assert got == select_cameras(fresh, lon, lat, radius_m=radius_m, k=k)


# -- the index itself ---------------------------------------------------------------------------


def _camera(camera_id: str, lon: float = SEOUL[0], lat: float = SEOUL[1], **fields: object) -> Camera:
    return Camera.model_validate({"id": camera_id, "lon": lon, "lat": lat, **fields})


def _ids_near(index: CameraIndex, lon: float = SEOUL[0], lat: float = SEOUL[1], radius_m: float = 100.0) -> set[str]:
    return {index.id_at(int(slot)) for slot in index.candidates_within(lon, lat, radius_m).slots}


def test_membership_and_length() -> None:
    index = CameraIndex.from_cameras([_camera("a"), _camera("b"), _camera("a", lat=SEOUL[1] + 0.01)])
    assert len(index) == 2
    assert "a" in index and "b" in index and "c" not in index
    assert _ids_near(index) == {"b"}  # the later "a" replaced the earlier one


def test_a_new_camera_is_found_before_the_tree_is_rebuilt() -> None:
    index = CameraIndex.from_cameras([_camera("old")])
    index.upsert(_camera("new", lon=SEOUL[0] + 0.0005))
    assert index.pending == 1
    assert _ids_near(index) == {"old", "new"}


def test_a_moved_camera_is_only_found_where_it_is_now() -> None:
    index = CameraIndex.from_cameras([_camera("cam"), _camera("other")])
    index.upsert(_camera("cam", lat=SEOUL[1] + 0.05))
    assert _ids_near(index) == {"other"}
    assert _ids_near(index, lat=SEOUL[1] + 0.05) == {"cam"}
    assert len(index) == 2


def test_attribute_changes_are_written_in_place() -> None:
    index = CameraIndex.from_cameras([_camera("cam", direction_deg=0.0)])
    index.upsert(_camera("cam", direction_deg=180.0, ptz=True))
    assert index.pending == 0
    candidates = index.candidates_within(*SEOUL, 10.0)
    assert candidates.direction_deg.tolist() == [180.0]
    assert candidates.ptz.tolist() == [True]


def test_remove_forgets_a_camera() -> None:
    index = CameraIndex.from_cameras([_camera("a"), _camera("b")])
    assert index.remove("a")
    assert not index.remove("a")
    assert "a" not in index
    assert _ids_near(index) == {"b"}


def test_set_online_hides_and_shows_a_camera() -> None:
    index = CameraIndex.from_cameras([_camera("cam")])
    index.set_online("cam", False)
    assert _ids_near(index) == set()
    index.set_online("cam", True)
    assert _ids_near(index) == {"cam"}
    with pytest.raises(KeyError):
        index.set_online("missing", True)


def test_the_tree_is_rebuilt_once_pending_passes_the_threshold() -> None:
    index = CameraIndex(rebuild_threshold=4)
    for i in range(4):
        index.upsert(_camera(f"cam-{i}", lon=SEOUL[0] + i * 1e-5))
        assert index.pending == i + 1
    index.upsert(_camera("cam-4"))
    assert index.pending == 0
    assert _ids_near(index) == {f"cam-{i}" for i in range(5)}


def test_many_removals_compact_the_index() -> None:
    index = CameraIndex.from_cameras([_camera(f"cam-{i}", lon=SEOUL[0] + i * 1e-6) for i in range(100)],
                                     rebuild_threshold=10)
    for i in range(60):
        index.remove(f"cam-{i}")
    assert len(index) == 40
    assert _ids_near(index) == {f"cam-{i}" for i in range(60, 100)}
    index.upsert(_camera("cam-99", lat=SEOUL[1] + 0.001))
    assert "cam-99" in _ids_near(index, lat=SEOUL[1] + 0.001, radius_m=1.0)


def test_the_radius_is_a_great_circle_distance() -> None:
    # 0.0045° of latitude is 500.4 m on the index's sphere: just outside 500 m, inside 501 m.
    index = CameraIndex.from_cameras([_camera("cam", lat=SEOUL[1] + 0.0045)])
    assert _ids_near(index, radius_m=500.0) == set()
    assert _ids_near(index, radius_m=501.0) == {"cam"}
    [distance_m] = index.candidates_within(*SEOUL, 501.0).distance_m.tolist()
    assert distance_m == pytest.approx(math.radians(0.0045) * R_M)


def test_from_arrays_loads_columns() -> None:
    index = CameraIndex.from_arrays(
        ids=["a", "b"],
        lon=np.array([SEOUL[0], SEOUL[0] + 1.0]),
        lat=np.array([SEOUL[1], SEOUL[1]]),
        direction_deg=np.array([np.nan, 90.0]),
        fov_deg=np.array([90.0, 90.0]),
        view_range_m=np.array([150.0, 150.0]),
        ptz=np.array([False, True]),
        online=np.array([True, True]),
    )
    assert len(index) == 2
    assert _ids_near(index) == {"a"}


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("ids", ["a", "a"], "not unique"),
        ("lon", [181.0, 0.0], "lon"),
        ("lat", [0.0, -91.0], "lat"),
        ("direction_deg", [360.0, np.nan], "direction_deg"),
        ("fov_deg", [0.0, 90.0], "fov_deg"),
        ("view_range_m", [150.0, -1.0], "view_range_m"),
        ("online", [True], "shape"),
    ],
)
def test_from_arrays_refuses_bad_columns(column: str, values: list[object], message: str) -> None:
    columns: dict[str, object] = {
        "ids": ["a", "b"], "lon": [0.0, 0.0], "lat": [0.0, 0.0], "direction_deg": [0.0, 0.0],
        "fov_deg": [90.0, 90.0], "view_range_m": [150.0, 150.0], "ptz": [False, False], "online": [True, True],
    }
    columns[column] = values
    with pytest.raises(ValueError, match=message):
        CameraIndex.from_arrays(**columns)  # type: ignore[arg-type]
