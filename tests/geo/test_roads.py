"""Importing road networks from OSM: the real Helsinki and Montevideo files, and small constructed maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citylink.geo.road_profiles import Profile
from citylink.geo.roads import LINK_GAP_M, RoadNetwork, import_road_network
from tests.geo.roads_fixtures import MONTEVIDEO_PBF, SIMONKATU_WAY, helsinki, metres_to_lonlat, write_osm

ORIGIN = (25.0, 60.0)


def test_helsinki_is_imported_despite_clipping() -> None:
    net = helsinki()
    # The extract is clipped: ways keep references to nodes outside it, and those segments are dropped.
    assert net.stats.missing_refs > 0
    assert 800 <= net.stats.ways <= 927  # drivable ways the car profile keeps (data/README: 927 public)
    assert net.n_nodes > 900 and net.n_edges > 1400
    assert net.stats.signals == 135 and net.stats.signals_on_network >= 130
    assert int(net.node_signal.sum()) == net.stats.signals_on_network
    assert net.edge_from.dtype == np.int32 and net.edge_length_m.dtype == np.float32
    assert np.all(np.diff(net.edge_from) >= 0)  # CSR order
    assert np.array_equal(np.diff(net.edge_ptr), np.bincount(net.edge_from, minlength=net.n_nodes))
    assert np.all(net.edge_time_s > 0) and np.all(net.edge_length_m >= 0)
    assert "Mannerheimintie" in set(net.names.tolist())


def test_one_way_street_has_only_its_direction() -> None:
    net = helsinki()
    simonkatu = net.edges_of_way(SIMONKATU_WAY)
    assert simonkatu.shape[0] > 0
    assert net.edge_forward[simonkatu].all()
    assert net.edge_name(int(simonkatu[0])) == "Simonkatu"
    assert float(net.edge_length_m[simonkatu].sum()) == pytest.approx(143, abs=2)


def test_two_way_street_has_both_directions() -> None:
    net = helsinki()
    both = 0
    for way in np.flatnonzero(net.names[net.way_name] == "Bulevardi"):
        edges = net.edges_of_way(int(net.way_osm_id[way]))
        both += int(net.edge_forward[edges].any() and (~net.edge_forward[edges]).any())
    assert both > 0


def test_foot_network_is_larger_and_two_way() -> None:
    car, foot = helsinki(), helsinki(Profile.FOOT)
    assert foot.profile is Profile.FOOT
    assert foot.n_edges > 3 * car.n_edges
    simonkatu = foot.edges_of_way(SIMONKATU_WAY)
    assert (~foot.edge_forward[simonkatu]).any()  # pedestrians walk a one-way street both ways
    assert {"footway", "steps", "pedestrian"} <= set(foot.class_names.tolist())


def test_npz_round_trip(tmp_path: Path) -> None:
    net = helsinki()
    path = tmp_path / "helsinki-car.npz"
    net.save(path)
    loaded = RoadNetwork.load(path)
    assert loaded.profile is net.profile and loaded.stats == net.stats and loaded.source == "helsinki.osm.pbf"
    for name in ("node_lon", "edge_from", "edge_ptr", "edge_time_s", "shape_chain_m", "names", "way_osm_id"):
        assert np.array_equal(getattr(loaded, name), getattr(net, name)), name
    assert loaded.edge_name(0) == net.edge_name(0)


def test_load_refuses_another_format(tmp_path: Path) -> None:
    path = tmp_path / "old.npz"
    np.savez(path, meta=np.array('{"format": 0}'))
    with pytest.raises(ValueError, match="format 0"):
        RoadNetwork.load(path)


def test_montevideo_uses_original_way_ids() -> None:
    net = import_road_network(MONTEVIDEO_PBF)
    # The file was rebuilt from vector tiles: synthetic negative ids, the real OSM id in "@id".
    assert np.all(net.way_osm_id > 0)
    assert net.stats.missing_refs == 0 and net.stats.signals == 1077
    assert net.n_nodes > 15_000 and net.n_edges > 45_000


def _line(n: int, spacing_m: float) -> dict[int, tuple[float, float]]:
    return {i + 1: metres_to_lonlat(ORIGIN, i * spacing_m, 0.0) for i in range(n)}


def test_nodes_are_junctions_signals_and_ends(tmp_path: Path) -> None:
    nodes = _line(5, 100.0) | {10: metres_to_lonlat(ORIGIN, 200.0, 100.0)}
    path = write_osm(tmp_path / "t.osm", nodes,
                     [(1, [1, 2, 3, 4, 5], {"highway": "residential", "name": "Main"}),
                      (2, [3, 10], {"highway": "residential", "oneway": "yes"})],
                     node_tags={4: {"highway": "traffic_signals"}})
    net = import_road_network(path)
    # 1 and 5 end Main, 3 is a junction, 4 a signal, 10 ends the side road; 2 is just a bend.
    assert sorted(net.node_osm_id.tolist()) == [1, 3, 4, 5, 10]
    assert net.node_signal.sum() == 1 and net.node_osm_id[net.node_signal][0] == 4
    assert net.n_edges == 2 * 3 + 1  # three two-way links on Main, one one-way side road
    first = np.flatnonzero(net.node_osm_id == 1)[0]
    out = net.edge_ptr[first], net.edge_ptr[first + 1]
    assert float(net.edge_length_m[out[0]]) == pytest.approx(200.0, rel=1e-3)  # through the bend at node 2
    assert np.diff(net.shape_chain_m)[np.diff(net.shape_chain_m) > 0].min() > 0
    assert LINK_GAP_M in np.round(np.diff(net.shape_chain_m), 6)


def test_missing_node_splits_the_way(tmp_path: Path) -> None:
    nodes = _line(5, 100.0)
    del nodes[3]
    path = write_osm(tmp_path / "t.osm", nodes, [(1, [1, 2, 3, 4, 5], {"highway": "residential"})])
    net = import_road_network(path)
    assert net.stats.missing_refs == 1
    assert net.n_edges == 4  # 1–2 and 4–5, both ways; nothing spans the gap
    assert float(net.edge_length_m.max()) == pytest.approx(100.0, rel=1e-3)


def test_no_roads_for_the_profile(tmp_path: Path) -> None:
    path = write_osm(tmp_path / "t.osm", _line(2, 50.0), [(1, [1, 2], {"highway": "footway"})])
    with pytest.raises(ValueError, match="no ways for the car profile"):
        import_road_network(path)
