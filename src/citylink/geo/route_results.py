"""What routing answers: a route, the reason there is none, units ranked by ETA. Plain frozen values.

Coordinates are (lon, lat); a route's pieces are directed edges of the network it was computed on, the first
and last usually partial.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from shapely.geometry import LineString

from citylink.geo.distance import FloatArray
from citylink.geo.roads import IntArray
from citylink.geo.snapping import Snap


class NoRouteReason(StrEnum):
    ORIGIN_OFF_NETWORK = "origin_off_network"
    DESTINATION_OFF_NETWORK = "destination_off_network"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class NoRoute:
    reason: NoRouteReason
    detail: str


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """A path in travel order: one piece per edge, the first and last usually partial."""

    origin: Snap
    destination: Snap
    edges: IntArray
    start_m: FloatArray  # where the route enters each edge, metres from its from-node
    end_m: FloatArray  # where it leaves it
    time_s: FloatArray  # spent on each piece, with the traffic of the moment of the query
    nodes: IntArray  # the graph nodes passed, between consecutive pieces
    geometry: LineString  # lon/lat, from the origin's snapped point to the destination's

    @property
    def distance_m(self) -> float:
        return float((self.end_m - self.start_m).sum())

    @property
    def eta_s(self) -> float:
        return float(self.time_s.sum())

    @property
    def node_eta_s(self) -> FloatArray:
        """Time from the start to each of nodes."""
        return np.cumsum(self.time_s)[:-1]

    @property
    def node_along_m(self) -> FloatArray:
        """Distance from the start to each of nodes."""
        return np.cumsum(self.end_m - self.start_m)[:-1]

    def eta_at_m(self, along_m: FloatArray) -> FloatArray:
        """Expected time from the start to points along_m metres along the route (linear within a piece)."""
        along = np.concatenate(([0.0], np.cumsum(self.end_m - self.start_m)))
        eta = np.concatenate(([0.0], np.cumsum(self.time_s)))
        return np.asarray(np.interp(along_m, along, eta), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class RankedUnit:
    unit_id: str
    eta_s: float
    distance_m: float  # by road
    straight_m: float  # great-circle, from the unit to the incident
    route: Route


@dataclass(frozen=True, slots=True, eq=False)
class UnitRanking:
    incident: Snap
    ranked: tuple[RankedUnit, ...]  # at most k, fastest first
    # Units proven to have no road path to the incident. A unit neither ranked nor listed here is slower
    # than the k-th (the search stopped once k units had arrived).
    unreachable: tuple[str, ...]
    off_network: tuple[str, ...]  # units too far from any road to place
