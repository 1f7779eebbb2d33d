"""Snapping points to the nearest road segment."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from citylink.geo.area import LocalFrame
from citylink.geo.snapping import OffNetwork, Snap, Snapper
from tests.geo.roads_fixtures import RAUTATIENTORI, helsinki, metres_to_lonlat


@pytest.fixture(scope="module")
def snapper() -> Snapper:
    return Snapper(helsinki(), main_component_only=False)


def _brute_force_m(snapper: Snapper, lon: float, lat: float) -> float:
    """Distance to the nearest link polyline, every link measured."""
    net = snapper.network
    frame = LocalFrame.centred_on(lon, lat)
    x, y = frame.to_xy(net.shape_lon, net.shape_lat)
    ptr = net.link_shape_ptr
    lines = shapely.linestrings(np.column_stack((x, y)), indices=np.repeat(np.arange(ptr.shape[0] - 1), np.diff(ptr)))
    return float(shapely.distance(lines, shapely.points(0.0, 0.0)).min())


def test_a_point_on_a_road_snaps_onto_it(snapper: Snapper) -> None:
    net = snapper.network
    start = net.link_shape_ptr[100]
    lon = (net.shape_lon[start] + net.shape_lon[start + 1]) / 2
    lat = (net.shape_lat[start] + net.shape_lat[start + 1]) / 2
    snap = snapper.snap(lon, lat)
    assert isinstance(snap, Snap)
    assert snap.link == 100 and snap.distance_m < 0.01
    assert (snap.lon, snap.lat) == pytest.approx((lon, lat), abs=1e-7)


def test_nearest_segment_not_nearest_node(snapper: Snapper) -> None:
    rng = np.random.default_rng(5)
    for _ in range(25):
        lon, lat = metres_to_lonlat(RAUTATIENTORI, *rng.uniform(-400, 400, 2))
        snap = snapper.snap(lon, lat)
        assert isinstance(snap, Snap)
        assert snap.distance_m == pytest.approx(_brute_force_m(snapper, lon, lat), abs=0.05)


def test_snap_gives_edges_and_offsets_that_add_up(snapper: Snapper) -> None:
    net = snapper.network
    lon, lat = metres_to_lonlat(RAUTATIENTORI, 30.0, -60.0)
    snap = snapper.snap(lon, lat)
    assert isinstance(snap, Snap)
    length = float(net.edge_length_m[snap.edge])
    assert 0.0 <= snap.offset_m <= length
    assert net.edge_link[snap.edge] == snap.link
    if snap.reverse_edge >= 0:
        assert net.edge_link[snap.reverse_edge] == snap.link
        assert snap.offset_m + snap.reverse_offset_m == pytest.approx(length)
        assert len(snap.placements()) == 2
    # The snapped point lies where the offset says along the edge.
    coords, _ = net.edge_coords(np.array([snap.edge]), np.array([snap.offset_m]), np.array([snap.offset_m]))
    assert tuple(coords[0]) == pytest.approx((snap.lon, snap.lat), abs=2e-6)


def test_far_point_is_off_network(snapper: Snapper) -> None:
    far = metres_to_lonlat(RAUTATIENTORI, 0.0, 3000.0)  # the sea / outside the extract
    answer = snapper.snap(*far)
    assert isinstance(answer, OffNetwork)
    assert answer.max_snap_m == 500.0 and (answer.lon, answer.lat) == far
    assert isinstance(snapper.snap(*far, max_snap_m=5000.0), Snap)


def test_threshold_is_configurable(snapper: Snapper) -> None:
    lon, lat = metres_to_lonlat(RAUTATIENTORI, 30.0, -60.0)
    snap = snapper.snap(lon, lat)
    assert isinstance(snap, Snap)
    assert isinstance(snapper.snap(lon, lat, max_snap_m=snap.distance_m * 0.9), OffNetwork)
    with pytest.raises(ValueError, match="max_snap_m"):
        snapper.snap(lon, lat, max_snap_m=0.0)


def test_snap_many_keeps_order() -> None:
    snapper = Snapper(helsinki())
    near = metres_to_lonlat(RAUTATIENTORI, 10.0, 10.0)
    far = metres_to_lonlat(RAUTATIENTORI, 0.0, 5000.0)
    answers = snapper.snap_many([near[0], far[0], near[0]], [near[1], far[1], near[1]])
    assert [type(a) for a in answers] == [Snap, OffNetwork, Snap]
    assert answers[0] == answers[2]
    assert snapper.snap_many([], []) == []
    with pytest.raises(ValueError, match="differ in length"):
        snapper.snap_many([1.0, 2.0], [1.0])


def test_main_component_only_avoids_dead_stubs() -> None:
    # The clipped extract leaves one-way stubs at Senaatintori from which no road leads anywhere.
    stub = (24.9522, 60.1694)
    anywhere = Snapper(helsinki(), main_component_only=False).snap(*stub)
    routable = Snapper(helsinki()).snap(*stub)
    assert isinstance(anywhere, Snap) and isinstance(routable, Snap)
    assert anywhere.link != routable.link and anywhere.distance_m < routable.distance_m
