"""The routing plans' lazy loading: the .npz cache keyed by the PBF's mtime and size, and an unreadable file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from citylink.domain.facilities import FacilityKind
from citylink.geo.camera_index import CameraIndex
from citylink.geo.road_profiles import Profile
from citylink.runtime.routing_plans import RoutingPlans, RoutingUnavailable
from tests.conftest import data_file


def test_the_network_is_cached_once_and_imported_again_when_the_file_changes(tmp_path: Path) -> None:
    pbf = tmp_path / "city.osm.pbf"
    shutil.copy(data_file("helsinki.osm.pbf"), pbf)
    cache = tmp_path / "roads"
    first = RoutingPlans(pbf, cache_dir=cache).router(Profile.FOOT)
    assert [p.name.split("-")[:2] for p in cache.glob("*.npz")] == [["city.osm.pbf", "foot"]]
    again = RoutingPlans(pbf, cache_dir=cache).router(Profile.FOOT)  # from the cache
    assert again.network.n_edges == first.network.n_edges and len(list(cache.glob("*.npz"))) == 1
    os.utime(pbf, ns=(1_000_000_000, 1_000_000_000))
    RoutingPlans(pbf, cache_dir=cache).router(Profile.FOOT)
    assert len(list(cache.glob("*.npz"))) == 2 and not list(cache.glob("*.partial"))


def test_a_missing_file_is_a_routing_error_not_a_crash(tmp_path: Path) -> None:
    plans = RoutingPlans(tmp_path / "gone.osm.pbf", cache_dir=tmp_path / "roads")
    with pytest.raises(RoutingUnavailable, match=r"gone\.osm\.pbf"):
        plans.cordon_plan((24.94, 60.17), minutes=3, profile=Profile.CAR, cameras=CameraIndex())
    with pytest.raises(RoutingUnavailable, match=r"gone\.osm\.pbf"):
        plans.dispatch_plan((24.94, 60.17), FacilityKind.FIRE, k=3, cameras=CameraIndex())
