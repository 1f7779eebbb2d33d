"""Great-circle distance and initial bearing, scalar and vectorised. Inputs in degrees, (lon, lat) order."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius

FloatArray = npt.NDArray[np.float64]


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from north in [0, 360)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlmb = math.radians(lon2 - lon1)
    y = math.sin(dlmb) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlmb)
    return math.degrees(math.atan2(y, x)) % 360.0


def haversine_m_many(lon: FloatArray, lat: FloatArray, lon0: float, lat0: float) -> FloatArray:
    phi, phi0 = np.radians(lat), math.radians(lat0)
    dphi = phi0 - phi
    dlmb = np.radians(lon0 - lon)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi) * math.cos(phi0) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a))), dtype=np.float64)


def bearing_deg_many(lon: FloatArray, lat: FloatArray, lon0: float, lat0: float) -> FloatArray:
    """Bearings from each (lon, lat) to the single point (lon0, lat0)."""
    phi, phi0 = np.radians(lat), math.radians(lat0)
    dlmb = np.radians(lon0 - lon)
    y = np.sin(dlmb) * math.cos(phi0)
    x = np.cos(phi) * math.sin(phi0) - np.sin(phi) * math.cos(phi0) * np.cos(dlmb)
    return np.asarray(np.degrees(np.arctan2(y, x)) % 360.0, dtype=np.float64)


def angle_diff_deg(a: FloatArray | float, b: FloatArray | float) -> FloatArray:
    """Smallest absolute difference between two headings, in [0, 180]."""
    d = np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)
    return np.asarray(d, dtype=np.float64)
