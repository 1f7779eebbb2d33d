"""Distance from a point to a path, for the safe-return corridor (test points placed by the flat-earth offset
helper, hence 1 %)."""

from __future__ import annotations

import pytest

from citylink.geo.corridor import distance_from_path_m
from tests.conftest import SPOT, offset


def test_distance_to_the_nearest_point_of_the_path() -> None:
    path = [SPOT, offset(*SPOT, east_m=1000)]
    assert distance_from_path_m(path, *offset(*SPOT, east_m=500, north_m=120)) == pytest.approx(120, rel=0.01)
    assert distance_from_path_m(path, *offset(*SPOT, east_m=1300)) == pytest.approx(300, rel=0.01)  # past the end
    assert distance_from_path_m(path, *offset(*SPOT, east_m=400)) == pytest.approx(0, abs=0.5)
    assert distance_from_path_m([SPOT], *offset(*SPOT, north_m=75)) == pytest.approx(75, rel=0.01)
