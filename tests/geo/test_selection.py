"""Camera selection as an operator sees it: which cameras come first, and why."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from pyproj import Geod
from shapely.geometry import Polygon

from citylink.domain.cameras import Camera, CameraStatus
from citylink.domain.events import Area
from citylink.domain.selection import Tier
from citylink.geo.area import area_polygon
from citylink.geo.camera_index import CameraIndex
from citylink.geo.distance import EARTH_RADIUS_M, haversine_m
from citylink.geo.selection import circle_polygon, select_cameras, select_in_area

WGS84 = Geod(ellps="WGS84")
SPOT = (126.9780, 37.5665)  # Seoul City Hall


def offset(lon: float, lat: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """The point distance_m from (lon, lat) along bearing_deg, on the index's sphere."""
    phi1, lmb1, theta = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    delta = distance_m / EARTH_RADIUS_M
    phi2 = math.asin(math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta))
    lmb2 = lmb1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi1), math.cos(delta) - math.sin(phi1) * math.sin(phi2)
    )
    return (math.degrees(lmb2) + 180.0) % 360.0 - 180.0, math.degrees(phi2)


def camera_at(
    camera_id: str, spot: tuple[float, float], bearing_from_spot: float, distance_m: float, **fields: object
) -> Camera:
    """A camera distance_m from the spot, in direction bearing_from_spot as seen from the spot."""
    lon, lat = offset(*spot, bearing_from_spot, distance_m)
    return Camera.model_validate({"id": camera_id, "lon": lon, "lat": lat, **fields})


def select(
    cameras: list[Camera], spot: tuple[float, float] = SPOT, *, radius_m: float = 500.0, k: int = 5
) -> list[tuple[str, Tier]]:
    selection = select_cameras(CameraIndex.from_cameras(cameras), *spot, radius_m=radius_m, k=k)
    return [(c.id, c.tier) for c in selection.cameras]


# -- tiers -------------------------------------------------------------------------------------


def test_a_camera_that_sees_the_spot_beats_a_closer_one_looking_away() -> None:
    # The spot is north of "far" (it looks north) and south of "near" (it looks north, away).
    far = camera_at("far", SPOT, 180.0, 120.0, direction_deg=0.0)
    near = camera_at("near", SPOT, 0.0, 20.0, direction_deg=0.0)
    assert select([near, far]) == [("far", Tier.SEES), ("near", Tier.NEARBY)]


def test_each_tier_is_ordered_by_distance() -> None:
    cameras = [
        camera_at("sees-80", SPOT, 90.0, 80.0, direction_deg=270.0),
        camera_at("sees-40", SPOT, 90.0, 40.0, direction_deg=270.0),
        camera_at("turn-90", SPOT, 0.0, 90.0),
        camera_at("turn-30", SPOT, 0.0, 30.0, ptz=True, direction_deg=0.0),
        camera_at("away-10", SPOT, 0.0, 10.0, direction_deg=0.0),
        camera_at("away-5", SPOT, 0.0, 5.0, direction_deg=0.0),
    ]
    assert select(cameras, k=10) == [
        ("sees-40", Tier.SEES), ("sees-80", Tier.SEES),
        ("turn-30", Tier.CAN_TURN), ("turn-90", Tier.CAN_TURN),
        ("away-5", Tier.NEARBY), ("away-10", Tier.NEARBY),
    ]


@pytest.mark.parametrize(("off_axis_deg", "tier"), [(44.0, Tier.SEES), (46.0, Tier.NEARBY)])
def test_the_field_of_view_edge(off_axis_deg: float, tier: Tier) -> None:
    # The camera looks north with the default 90° field of view; the spot sits off_axis_deg east of that.
    camera = camera_at("cam", SPOT, 180.0 + off_axis_deg, 60.0, direction_deg=0.0)
    assert select([camera]) == [("cam", tier)]


def test_a_narrow_field_of_view_is_respected() -> None:
    camera = camera_at("cam", SPOT, 180.0 + 20.0, 60.0, direction_deg=0.0, fov_deg=30.0)
    assert select([camera]) == [("cam", Tier.NEARBY)]


@pytest.mark.parametrize(("distance_m", "tier"), [(149.0, Tier.SEES), (151.0, Tier.NEARBY)])
def test_the_view_range_edge(distance_m: float, tier: Tier) -> None:
    camera = camera_at("cam", SPOT, 180.0, distance_m, direction_deg=0.0)  # looks straight at the spot
    assert select([camera]) == [("cam", tier)]


def test_a_longer_view_range_sees_further() -> None:
    camera = camera_at("cam", SPOT, 180.0, 300.0, direction_deg=0.0, view_range_m=400.0)
    assert select([camera]) == [("cam", Tier.SEES)]


def test_ptz_looking_away_can_turn() -> None:
    ptz = camera_at("ptz", SPOT, 0.0, 50.0, direction_deg=0.0, ptz=True)
    fixed = camera_at("fixed", SPOT, 0.0, 10.0, direction_deg=0.0)
    selection = select_cameras(CameraIndex.from_cameras([ptz, fixed]), *SPOT)
    assert [(c.id, c.tier) for c in selection.cameras] == [("ptz", Tier.CAN_TURN), ("fixed", Tier.NEARBY)]
    assert selection.cameras[0].reason == "PTZ, can turn to the spot 50 m away"


def test_unknown_direction_can_turn() -> None:
    camera = camera_at("cam", SPOT, 45.0, 120.0)
    selection = select_cameras(CameraIndex.from_cameras([camera]), *SPOT)
    assert selection.cameras[0].tier is Tier.CAN_TURN
    assert selection.cameras[0].reason == "no known direction; 120 m away, can be turned"


def test_a_camera_standing_on_the_spot_sees_it() -> None:
    camera = Camera(id="here", lon=SPOT[0], lat=SPOT[1], direction_deg=123.0)
    [selected] = select_cameras(CameraIndex.from_cameras([camera]), *SPOT).cameras
    assert (selected.tier, selected.distance_m) == (Tier.SEES, 0.0)


def test_reasons_and_rounding() -> None:
    sees = camera_at("sees", SPOT, 185.0, 42.04, direction_deg=0.0)  # spot at bearing 5°
    away = camera_at("away", SPOT, 90.0, 60.0, direction_deg=90.0)  # spot at bearing 270°
    selection = select_cameras(CameraIndex.from_cameras([sees, away]), *SPOT)
    first, second = selection.cameras
    assert first.distance_m == 42.0
    assert first.bearing_deg == 5.0
    assert first.reason == "sees the spot: 42 m away, looking 0°, spot at 5°"
    assert second.reason == "fixed, looking 90° but the spot is at 270°; 60 m away"
    assert second.bearing_deg == 270.0


# -- candidates --------------------------------------------------------------------------------


def test_offline_cameras_are_never_selected() -> None:
    offline = camera_at("offline", SPOT, 180.0, 10.0, direction_deg=0.0, status=CameraStatus.OFFLINE)
    online = camera_at("online", SPOT, 0.0, 400.0)
    assert select([offline, online]) == [("online", Tier.CAN_TURN)]


def test_only_offline_nearby_means_nothing_found() -> None:
    offline = camera_at("offline", SPOT, 180.0, 10.0, status=CameraStatus.OFFLINE)
    selection = select_cameras(CameraIndex.from_cameras([offline]), *SPOT)
    assert selection.cameras == ()
    assert selection.widened


def test_the_search_widens_once_and_says_so() -> None:
    camera = camera_at("cam", SPOT, 0.0, 700.0)
    selection = select_cameras(CameraIndex.from_cameras([camera]), *SPOT, radius_m=500.0)
    assert [c.id for c in selection.cameras] == ["cam"]
    assert selection.widened
    assert selection.radius_m == 1000.0
    assert selection.note == "nothing within 500 m; widened to 1000 m"


def test_no_widening_when_something_is_in_radius() -> None:
    near = camera_at("near", SPOT, 0.0, 450.0)
    far = camera_at("far", SPOT, 0.0, 700.0)
    selection = select_cameras(CameraIndex.from_cameras([near, far]), *SPOT, radius_m=500.0)
    assert [c.id for c in selection.cameras] == ["near"]
    assert not selection.widened
    assert (selection.radius_m, selection.note) == (500.0, "")


def test_widening_happens_only_once() -> None:
    camera = camera_at("cam", SPOT, 0.0, 1500.0)
    selection = select_cameras(CameraIndex.from_cameras([camera]), *SPOT, radius_m=500.0)
    assert selection.cameras == ()
    assert selection.widened
    assert selection.note == "no online camera within 1000 m (widened from 500 m)"


def test_an_empty_index_finds_nothing() -> None:
    selection = select_cameras(CameraIndex(), *SPOT)
    assert selection.cameras == ()


def test_k_limits_the_answer_to_the_best() -> None:
    cameras = [camera_at(f"cam-{i}", SPOT, 0.0, 10.0 * (i + 1)) for i in range(8)]
    assert [c for c, _ in select(cameras, k=3)] == ["cam-0", "cam-1", "cam-2"]
    assert len(select(cameras)) == 5


def test_equal_distances_are_broken_by_id() -> None:
    cameras = [Camera(id=i, lon=SPOT[0] + 0.001, lat=SPOT[1]) for i in ("c", "a", "d", "b")]
    assert [c for c, _ in select(cameras, k=2)] == ["a", "b"]
    assert [c for c, _ in select(cameras, k=10)] == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    "call",
    [
        lambda index: select_cameras(index, 200.0, 0.0),
        lambda index: select_cameras(index, 0.0, 91.0),
        lambda index: select_cameras(index, 0.0, 0.0, radius_m=0.0),
        lambda index: select_cameras(index, 0.0, 0.0, k=0),
    ],
)
def test_bad_queries_are_refused(call: Callable[[CameraIndex], object]) -> None:
    with pytest.raises(ValueError):
        call(CameraIndex())


# -- great-circle correctness ------------------------------------------------------------------


def _geodesic_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(WGS84.inv(lon1, lat1, lon2, lat2)[2])


def test_helsinki_cathedral_to_central_station() -> None:
    cathedral = (24.952222, 60.170278)
    station = Camera(id="station", lon=24.941389, lat=60.171667)
    [selected] = select_cameras(CameraIndex.from_cameras([station]), *cathedral, radius_m=1000.0).cameras
    expected_m = _geodesic_m(station.lon, station.lat, *cathedral)  # ≈ 619 m on the WGS84 ellipsoid
    assert 600.0 < expected_m < 640.0
    assert selected.distance_m == pytest.approx(expected_m, rel=0.01)
    assert selected.bearing_deg == pytest.approx(float(WGS84.inv(station.lon, station.lat, *cathedral)[0]) % 360,
                                                 abs=1.0)


def test_across_the_antimeridian() -> None:
    spot = (-179.9995, -16.5)  # Fiji, just east of the antimeridian
    camera = Camera(id="west", lon=179.9995, lat=-16.5, direction_deg=90.0)
    [selected] = select_cameras(CameraIndex.from_cameras([camera]), *spot).cameras
    assert selected.distance_m == pytest.approx(_geodesic_m(camera.lon, camera.lat, *spot), rel=0.01)
    assert selected.bearing_deg == pytest.approx(90.0, abs=0.1)
    assert selected.tier is Tier.SEES


def test_at_high_latitude_and_across_the_pole() -> None:
    spot = (180.0, 89.999)
    across = Camera(id="across", lon=0.0, lat=89.999, direction_deg=0.0)  # ~222 m away over the pole
    svalbard = (15.65, 78.22)
    north = camera_at("north", svalbard, 0.0, 300.0)
    assert select([across], spot, radius_m=500.0) == [("across", Tier.NEARBY)]  # beyond its 150 m range
    [selected] = select_cameras(CameraIndex.from_cameras([across]), *spot).cameras
    assert selected.distance_m == pytest.approx(_geodesic_m(across.lon, across.lat, *spot), rel=0.01)
    assert selected.bearing_deg == pytest.approx(0.0, abs=0.1)
    [selected] = select_cameras(CameraIndex.from_cameras([north]), *svalbard).cameras
    assert selected.distance_m == pytest.approx(_geodesic_m(north.lon, north.lat, *svalbard), rel=0.01)


# -- areas -------------------------------------------------------------------------------------


def _square(centre: tuple[float, float], half_side_m: float) -> Polygon:
    lon, lat = centre
    dlat = math.degrees(half_side_m / EARTH_RADIUS_M)
    dlon = dlat / math.cos(math.radians(lat))
    return Polygon([(lon - dlon, lat - dlat), (lon + dlon, lat - dlat), (lon + dlon, lat + dlat),
                    (lon - dlon, lat + dlat)])


def test_area_selection_ranks_by_coverage_and_excludes_outsiders() -> None:
    area = _square(SPOT, 200.0)
    ptz = camera_at("ptz", SPOT, 270.0, 10.0, ptz=True, direction_deg=0.0)  # whole 150 m disc inside
    inward = camera_at("inward", SPOT, 90.0, 10.0, direction_deg=0.0)  # a quarter disc, all inside
    outward = camera_at("outward", SPOT, 0.0, 180.0, direction_deg=0.0)  # looks out through the edge
    outside = camera_at("outside", SPOT, 0.0, 260.0)
    offline = camera_at("offline", SPOT, 180.0, 10.0, status=CameraStatus.OFFLINE)
    index = CameraIndex.from_cameras([outward, outside, inward, offline, ptz])
    selection = select_in_area(index, area)
    assert [(c.id, c.tier) for c in selection.cameras] == [
        ("ptz", Tier.CAN_TURN), ("inward", Tier.SEES), ("outward", Tier.SEES)
    ]
    assert selection.cameras[0].reason == "inside the area; PTZ, can cover 70,600 m² of it by turning"
    assert selection.cameras[1].reason == "inside the area; view covers 17,700 m² of it"  # π·150²/4 ≈ 17,671
    assert selection.radius_m == pytest.approx(200.0 * math.sqrt(2.0), rel=0.01)
    assert selection.note == "3 online cameras inside the area"
    assert not selection.widened


def test_area_selection_breaks_coverage_ties_by_distance_to_the_area() -> None:
    area = _square(SPOT, 400.0)
    centre = area.representative_point()
    cameras = [camera_at(f"cam-{d:.0f}", (centre.x, centre.y), 45.0, d) for d in (120.0, 30.0, 60.0)]
    selection = select_in_area(CameraIndex.from_cameras(cameras), area, k=2)
    assert [c.id for c in selection.cameras] == ["cam-30", "cam-60"]
    assert selection.note == "best 2 of 3 online cameras inside the area"


def test_area_with_no_camera_says_so() -> None:
    far = camera_at("far", SPOT, 0.0, 5000.0)
    selection = select_in_area(CameraIndex.from_cameras([far]), _square(SPOT, 200.0))
    assert selection.cameras == ()
    assert selection.note == "no online camera inside the area"


def test_a_point_and_radius_disaster_uses_a_circle() -> None:
    circle = circle_polygon(*SPOT, 300.0)
    inside = camera_at("inside", SPOT, 10.0, 280.0)
    outside = camera_at("outside", SPOT, 10.0, 320.0)
    selection = select_in_area(CameraIndex.from_cameras([inside, outside]), circle)
    assert [c.id for c in selection.cameras] == ["inside"]
    assert selection.radius_m == pytest.approx(300.0, rel=0.01)


def test_circle_polygon_is_a_geodesic_circle() -> None:
    circle = circle_polygon(*SPOT, 1000.0, segments=90)
    ring = list(circle.exterior.coords)
    assert len(ring) == 91
    assert all(haversine_m(lon, lat, *SPOT) == pytest.approx(1000.0, rel=1e-6) for lon, lat in ring)


def test_circle_polygon_across_the_antimeridian_stays_whole() -> None:
    circle = circle_polygon(179.999, 0.0, 1000.0)
    assert circle.is_valid
    lon_min, _, lon_max, _ = circle.bounds
    assert lon_max - lon_min < 0.1
    camera = Camera(id="east", lon=-179.9995, lat=0.0)  # 167 m east, across ±180°
    assert [c.id for c in select_in_area(CameraIndex.from_cameras([camera]), circle).cameras] == ["east"]


def test_area_polygon_reads_an_event_area() -> None:
    square = _square(SPOT, 100.0)
    area = Area(type="Polygon", coordinates=[[(x, y) for x, y in square.exterior.coords]])
    assert area_polygon(area).equals(square)
