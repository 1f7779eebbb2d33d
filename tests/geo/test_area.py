"""Local metric frames: a shared frame near a spot measures as the frame centred on it does."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from citylink.geo.area import LocalFrame

HELSINKI = (24.9384, 60.1699)


def _square(lon: float, lat: float, side_deg: float) -> Polygon:
    return Polygon([(lon, lat), (lon + side_deg, lat), (lon + side_deg, lat + side_deg), (lon, lat + side_deg)])


def test_nearby_spots_share_one_frame_and_distant_ones_do_not() -> None:
    lon, lat = HELSINKI
    assert LocalFrame.near(lon, lat) is LocalFrame.near(lon + 0.0004, lat - 0.0004)
    assert LocalFrame.near(lon, lat) is not LocalFrame.near(lon + 0.05, lat)


@pytest.mark.parametrize(("lon", "lat"), [HELSINKI, (-56.1645, -34.9011), (179.996, 0.0)])
def test_a_shared_frame_measures_areas_and_lengths_as_the_centred_one(lon: float, lat: float) -> None:
    area = _square(lon, lat, 0.03)  # ~1.9 × 3.3 km in Helsinki
    centre = area.representative_point()
    exact, shared = LocalFrame.centred_on(centre.x, centre.y), LocalFrame.near(centre.x, centre.y)
    assert (shared.lon, shared.lat) != (centre.x, centre.y)
    assert shapely.area(shared.project(area)) == pytest.approx(shapely.area(exact.project(area)), rel=1e-6)
    lon_s, lat_s = np.array([lon, lon + 0.03]), np.array([lat, lat + 0.02])
    lengths = [float(np.hypot(*np.diff(np.vstack(f.to_xy(lon_s, lat_s)), axis=1).ravel()))
               for f in (exact, shared)]
    assert lengths[1] == pytest.approx(lengths[0], rel=1e-6)
