"""Synthetic national camera sets for benchmarks: cities of lognormal size, dense cores, realistic mixes.

Deterministic for a given seed. The default box is South Korea's (lon 126–129.5, lat 34.5–38.3).
Each city has a dense core and a wider sprawl (gaussian), with a spread that grows slower than its camera
count, so big cities have denser cores: the largest have several hundred cameras within 500 m of their
centre. About 60% of cameras have a known direction, 10% are PTZ and 3% are offline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

KOREA_BBOX = (126.0, 34.5, 129.5, 38.3)  # (lon_min, lat_min, lon_max, lat_max)
_M_PER_DEG_LAT = 111_195.0
_CORE_SHARE = 0.4  # of a city's cameras in its core; the rest sprawl over 4× the spread
_SPRAWL_FACTOR = 4.0


@dataclass(frozen=True, slots=True)
class SyntheticCameras:
    """Parallel columns, one row per camera, in the shape CameraIndex.from_arrays takes."""

    ids: list[str]
    lon: FloatArray
    lat: FloatArray
    direction_deg: FloatArray  # NaN when unknown
    fov_deg: FloatArray
    view_range_m: FloatArray
    ptz: BoolArray
    online: BoolArray

    def __len__(self) -> int:
        return len(self.ids)


def make_cameras(
    n_cameras: int,
    *,
    seed: int,
    bbox: tuple[float, float, float, float] = KOREA_BBOX,
    n_cities: int = 250,
    direction_share: float = 0.6,
    ptz_share: float = 0.1,
    offline_share: float = 0.03,
) -> SyntheticCameras:
    """n_cameras spread over n_cities inside bbox (lon_min, lat_min, lon_max, lat_max)."""
    rng = np.random.default_rng(seed)
    lon_min, lat_min, lon_max, lat_max = bbox
    inset_lon, inset_lat = 0.05 * (lon_max - lon_min), 0.05 * (lat_max - lat_min)
    city_lon = rng.uniform(lon_min + inset_lon, lon_max - inset_lon, n_cities)
    city_lat = rng.uniform(lat_min + inset_lat, lat_max - inset_lat, n_cities)
    weights = rng.lognormal(mean=0.0, sigma=1.3, size=n_cities)
    counts = rng.multinomial(n_cameras, weights / weights.sum())
    # spread ~ count^0.45: a 100k-camera city has a ~3.3 km core, a 2k-camera town a ~500 m one
    spread_m = np.maximum(200.0, 18.0 * np.maximum(counts, 1) ** 0.45)

    city = np.repeat(np.arange(n_cities), counts)
    sprawl = rng.random(n_cameras) >= _CORE_SHARE
    sigma_m = spread_m[city] * np.where(sprawl, _SPRAWL_FACTOR, 1.0)
    north_m = rng.normal(0.0, 1.0, n_cameras) * sigma_m
    east_m = rng.normal(0.0, 1.0, n_cameras) * sigma_m
    lat = np.clip(city_lat[city] + north_m / _M_PER_DEG_LAT, -89.9, 89.9)
    lon = city_lon[city] + east_m / (_M_PER_DEG_LAT * np.cos(np.radians(lat)))
    lon = (lon + 180.0) % 360.0 - 180.0

    has_direction = rng.random(n_cameras) < direction_share
    direction_deg = np.where(has_direction, rng.uniform(0.0, 360.0, n_cameras), np.nan)
    fov_deg = rng.choice(np.array([60.0, 90.0, 90.0, 110.0]), n_cameras)
    view_range_m = rng.choice(np.array([80.0, 100.0, 150.0, 150.0, 200.0]), n_cameras)
    ptz = rng.random(n_cameras) < ptz_share
    online = rng.random(n_cameras) >= offline_share

    shuffle = rng.permutation(n_cameras)  # so slot order says nothing about the city
    width = max(7, math.ceil(math.log10(max(n_cameras, 1) + 1)))
    return SyntheticCameras(
        ids=[f"cam-{i:0{width}d}" for i in range(n_cameras)],
        lon=np.ascontiguousarray(lon[shuffle]),
        lat=np.ascontiguousarray(lat[shuffle]),
        direction_deg=np.ascontiguousarray(direction_deg[shuffle]),
        fov_deg=np.ascontiguousarray(fov_deg[shuffle]),
        view_range_m=np.ascontiguousarray(view_range_m[shuffle]),
        ptz=np.ascontiguousarray(ptz[shuffle]),
        online=np.ascontiguousarray(online[shuffle]),
    )


def query_points(
    cameras: SyntheticCameras, n_queries: int, *, seed: int, jitter_m: float = 100.0
) -> tuple[FloatArray, FloatArray]:
    """(lon, lat) of incidents: near a random camera (where people are), gaussian jitter_m around it."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(cameras), n_queries)
    lat = np.clip(cameras.lat[pick] + rng.normal(0.0, jitter_m, n_queries) / _M_PER_DEG_LAT, -89.9, 89.9)
    east_deg = rng.normal(0.0, jitter_m, n_queries) / (_M_PER_DEG_LAT * np.cos(np.radians(lat)))
    lon = (cameras.lon[pick] + east_deg + 180.0) % 360.0 - 180.0
    return lon, lat
