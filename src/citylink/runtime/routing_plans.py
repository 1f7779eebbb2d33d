"""Dispatch plans and cordons for an incident, on the road network of settings.road_network_path.

A dispatch plan ranks the stations of a service (from the PBF) together with its available mobile units (from
the store) by road ETA to the scene, and names the hydrants and hazards near the scene.

The networks (car, foot) and the facilities are read from the PBF on first use, not at start-up: a city
takes about a second to import. Each network is cached as .npz in cache_dir, named after the PBF's mtime and
size, so a server restart loads arrays instead of parsing OSM again, and a changed file is imported afresh.
Facilities and scene features are held in memory (a few hundred to a few thousand per city; re-read in ~0.1 s).

Everything here is CPU work of milliseconds: callers run it off the event loop.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import mapping

from citylink.adapters.osm_facilities import read_facilities, read_scene_features
from citylink.domain.facilities import Facility, FacilityKind, SceneFeature
from citylink.domain.selection import SelectedCamera
from citylink.domain.units import Dispatchable, Unit
from citylink.geo.along_route import CameraOnRoute, SignalOnRoute, cameras_along_route, signals_on_route
from citylink.geo.camera_index import CameraIndex
from citylink.geo.cordon import Cordon, cordon
from citylink.geo.distance import haversine_m
from citylink.geo.road_profiles import Profile
from citylink.geo.roads import RoadNetwork, import_road_network
from citylink.geo.route_results import NoRoute, Route, UnitRanking
from citylink.geo.routing import Router
from citylink.geo.selection import select_cameras
from citylink.geo.snapping import OffNetwork

log = logging.getLogger(__name__)

CAMERA_BUFFER_M = 50.0  # a camera this close to a route sees the vehicle pass
EXIT_CAMERA_RADIUS_M = 60.0  # a camera watching a cordon exit stands about at the exit
NO_UNITS = Dispatchable((), ())
SCENE_RADIUS_M = 200.0  # hydrants and hazards this close to the scene are in the plan


class RoutingUnavailable(RuntimeError):
    """The road network file cannot be read."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where help can come from: a station (always there) or a mobile unit at its last position."""

    id: str
    name: str
    lon: float
    lat: float
    unit_kind: str | None  # None for a station

    @staticmethod
    def of_station(facility: Facility) -> Origin:
        return Origin(facility.id, facility.name, facility.lon, facility.lat, None)

    @staticmethod
    def of_unit(unit: Unit) -> Origin:
        assert unit.lon is not None and unit.lat is not None  # dispatchable() keeps only placed units
        return Origin(f"unit:{unit.id}", unit.name, unit.lon, unit.lat, unit.kind.value)


@dataclass(frozen=True, slots=True)
class NearbyFeature:
    feature: SceneFeature
    distance_m: float


@dataclass(frozen=True, slots=True, eq=False)
class FacilityRoute:
    origin: Origin
    route: Route
    straight_m: float
    cameras: tuple[CameraOnRoute, ...]  # in passing order, eta_s from leaving the facility
    signals: tuple[SignalOnRoute, ...]  # the signal-priority plan: each signal with its expected passing time


@dataclass(frozen=True, slots=True, eq=False)
class DispatchPlan:
    kind: FacilityKind
    ranked: tuple[FacilityRoute, ...]  # fastest first
    unreachable: tuple[Origin, ...]  # proven to have no road path to the incident
    off_network: tuple[Origin, ...]  # too far from any road to place
    stale: tuple[Unit, ...]  # available units whose last position is too old to rank them
    nearby: tuple[NearbyFeature, ...]  # hydrants and hazards within SCENE_RADIUS_M of the scene, nearest first
    note: str | None  # why nothing is ranked, when nothing is


@dataclass(frozen=True, slots=True)
class ExitCamera:
    camera: SelectedCamera  # distance_m and bearing_deg are to the exit
    exit_name: str
    entered_s: float  # how soon a vehicle can be on the exit road


@dataclass(frozen=True, slots=True, eq=False)
class CordonPlan:
    profile: Profile
    cordon: Cordon | None  # None when the incident is off the network
    cameras: tuple[ExitCamera, ...]  # the best camera per exit, soonest exit first, each camera once
    note: str | None


TrafficSource = Callable[[], dict[int, float]]  # OSM way id → speed factor (0: closed), from the store


class RoutingPlans:
    """Routers and facilities for one road network file, loaded lazily and thread-safely.

    Live traffic (congestion, closures) applies to the car network, by OSM way; a foot network is not slowed
    by congestion, and a closure for pedestrians is rare enough to leave out."""

    def __init__(self, pbf: Path, *, cache_dir: Path, traffic: TrafficSource | None = None) -> None:
        self.pbf = pbf
        self.cache_dir = cache_dir
        self._traffic = traffic
        self._lock = threading.Lock()
        self._routers: dict[Profile, Router] = {}
        self._facilities: list[Facility] | None = None
        self._scene_features: list[SceneFeature] | None = None

    def warm_up(self) -> None:
        """Read what a 119 or 112 plan needs now, so that the first call does not wait for it; a file that
        cannot be read is left for the plans to report."""
        try:
            self.router(Profile.CAR)
            self.facilities(FacilityKind.FIRE)
            self.scene_features()
        except RoutingUnavailable as exc:
            log.warning("road network not loaded: %s", exc)

    def router(self, profile: Profile) -> Router:
        with self._lock:  # two first requests at once would import the same file twice
            if profile not in self._routers:
                router = Router(self._network(profile))
                if profile is Profile.CAR and self._traffic is not None:
                    _apply(router, self._traffic())
                self._routers[profile] = router
            return self._routers[profile]

    def unknown_ways(self, way_ids: Iterable[int]) -> list[int]:
        """The OSM ways that are not roads of the car network (a traffic report cannot apply to them)."""
        network = self.router(Profile.CAR).network
        return [way for way in way_ids if network.edges_of_way(way).size == 0]

    def apply_traffic(self) -> None:
        """Take the stored traffic again, now, if the car network is loaded (else it is taken when it loads)."""
        with self._lock:
            router = self._routers.get(Profile.CAR)
        if router is not None and self._traffic is not None:
            _apply(router, self._traffic())

    def facilities(self, kind: FacilityKind) -> list[Facility]:
        with self._lock:
            if self._facilities is None:
                try:
                    self._facilities = read_facilities(self.pbf)
                except (OSError, RuntimeError) as exc:
                    raise RoutingUnavailable(f"cannot read facilities from {self.pbf.name}: {exc}") from exc
            return [f for f in self._facilities if f.kind is kind]

    def scene_features(self) -> list[SceneFeature]:
        with self._lock:
            if self._scene_features is None:
                try:
                    self._scene_features = read_scene_features(self.pbf)
                except (OSError, RuntimeError) as exc:
                    raise RoutingUnavailable(f"cannot read hydrants and hazards from {self.pbf.name}: {exc}") from exc
            return self._scene_features

    def nearby(self, lon: float, lat: float, *, within_m: float = SCENE_RADIUS_M) -> tuple[NearbyFeature, ...]:
        found = [NearbyFeature(f, d) for f in self.scene_features()
                 if (d := haversine_m(lon, lat, f.lon, f.lat)) <= within_m]
        return tuple(sorted(found, key=lambda n: n.distance_m))

    def _network(self, profile: Profile) -> RoadNetwork:
        try:
            stat = self.pbf.stat()
        except OSError as exc:
            raise RoutingUnavailable(f"road network file {self.pbf} cannot be read: {exc}") from exc
        cached = self.cache_dir / f"{self.pbf.name}-{profile}-{stat.st_mtime_ns}-{stat.st_size}.npz"
        if cached.is_file():
            return RoadNetwork.load(cached)
        try:
            network = import_road_network(self.pbf, profile)
        except (OSError, RuntimeError) as exc:
            raise RoutingUnavailable(f"road network file {self.pbf.name} cannot be imported: {exc}") from exc
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
        network.save(partial)
        os.replace(partial, cached)  # another process never loads a half-written cache
        log.info("imported the %s road network of %s (%d nodes) into %s", profile, self.pbf.name,
                 network.n_nodes, cached)
        return network

    # -- dispatch ----------------------------------------------------------------------------------------------

    def dispatch_plan(self, incident: tuple[float, float], kind: FacilityKind, *, k: int, cameras: CameraIndex,
                      units: Dispatchable = NO_UNITS) -> DispatchPlan:
        """The k stations or available units of kind that reach the incident (lon, lat) first by car, with what
        each route passes, and the hydrants and hazards near the scene."""
        nearby = self.nearby(*incident)
        # A feature cut across tiles can come twice with one id.
        by_id = {o.id: o for o in [Origin.of_station(f) for f in self.facilities(kind)]
                 + [Origin.of_unit(u) for u in units.units]}
        if not by_id:
            note = f"no {kind.value} stations in {self.pbf.name} and no available {kind.value} units"
            return DispatchPlan(kind, (), (), (), units.stale, nearby, note)
        router = self.router(Profile.CAR)
        origins = list(by_id.values())
        ranking = router.best_units(incident, list(by_id), [o.lon for o in origins], [o.lat for o in origins], k=k)
        if isinstance(ranking, NoRoute):
            return DispatchPlan(kind, (), (), (), units.stale, nearby, ranking.detail)
        ranked = tuple(self._facility_route(router, by_id[unit.unit_id], unit.straight_m, unit.route, cameras)
                       for unit in ranking.ranked)
        return DispatchPlan(kind, ranked, tuple(by_id[u] for u in ranking.unreachable),
                            tuple(by_id[u] for u in ranking.off_network), units.stale, nearby,
                            _ranking_note(ranking, kind))

    def _facility_route(self, router: Router, origin: Origin, straight_m: float, route: Route,
                        cameras: CameraIndex) -> FacilityRoute:
        min_lon, min_lat, max_lon, max_lat = route.geometry.bounds
        centre_lon, centre_lat = (min_lon + max_lon) / 2, (min_lat + max_lat) / 2
        # Every camera within the buffer of the route lies in the route's bounding circle widened by the buffer.
        radius_m = haversine_m(centre_lon, centre_lat, min_lon, min_lat) + CAMERA_BUFFER_M
        near = cameras.candidates_within(centre_lon, centre_lat, radius_m)
        ids = [cameras.id_at(int(slot)) for slot in near.slots]
        passed = cameras_along_route(route, ids, near.lon, near.lat, within_m=CAMERA_BUFFER_M)
        return FacilityRoute(origin, route, straight_m, tuple(passed),
                             tuple(signals_on_route(router.network, route)))

    # -- cordon ------------------------------------------------------------------------------------------------

    def cordon_plan(self, incident: tuple[float, float], *, minutes: float, profile: Profile,
                    cameras: CameraIndex) -> CordonPlan:
        """Where a vehicle (or a person on foot) can be within minutes, and the cameras on the area's exits."""
        reach = cordon(self.router(profile), incident, minutes=minutes)
        if isinstance(reach, OffNetwork):
            return CordonPlan(profile, None, (), "the incident is too far from any road to place on the network")
        node_time_s = dict(zip(reach.nodes.tolist(), reach.node_time_s.tolist(), strict=True))
        edge_from = self.router(profile).network.edge_from
        watch: dict[str, ExitCamera] = {}
        # An exit on the road the incident stands on is entered at once: its from-node may not be reached.
        for entered_s, exit_ in sorted(((node_time_s.get(int(edge_from[e.edge]), 0.0), e) for e in reach.exits),
                                       key=lambda pair: pair[0]):
            best = select_cameras(cameras, exit_.lon, exit_.lat, radius_m=EXIT_CAMERA_RADIUS_M, k=1).cameras
            if best and best[0].id not in watch:
                watch[best[0].id] = ExitCamera(best[0], exit_.name, entered_s)
        return CordonPlan(profile, reach, tuple(watch.values()), None if reach.exits else "the area has no exits")


def _apply(router: Router, factors: dict[int, float]) -> None:
    network = router.network
    pieces = [(network.edges_of_way(way), factor) for way, factor in factors.items()]
    edges = np.concatenate([e for e, _ in pieces]) if pieces else np.empty(0, dtype=np.int32)
    values = np.concatenate([np.full(e.shape[0], f) for e, f in pieces]) if pieces else np.empty(0)
    router.replace_traffic(edges, values)


def _ranking_note(ranking: UnitRanking, kind: FacilityKind) -> str | None:
    if ranking.ranked:
        return None
    return f"no {kind.value} station or unit can reach the incident by road"


# -- views ------------------------------------------------------------------------------------------------------


def dispatch_plan_view(plan: DispatchPlan, camera_names: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": plan.kind.value,
        "note": plan.note,
        "ranked": [_facility_route_view(item, camera_names) for item in plan.ranked],
        "unreachable": [_origin_view(o) for o in plan.unreachable],
        "off_network": [_origin_view(o) for o in plan.off_network],
        "stale_units": [{"id": f"unit:{u.id}", "name": u.name, "kind": u.kind.value,
                         "position_at": u.position_at.isoformat() if u.position_at else None} for u in plan.stale],
        "nearby": [{"id": n.feature.id, "kind": n.feature.kind.value, "name": n.feature.name, "lon": n.feature.lon,
                    "lat": n.feature.lat, "distance_m": round(n.distance_m, 1)} for n in plan.nearby],
    }


def _origin_view(origin: Origin) -> dict[str, Any]:
    return {"id": origin.id, "name": origin.name, "source": "station" if origin.unit_kind is None else "unit",
            "unit_kind": origin.unit_kind, "lon": origin.lon, "lat": origin.lat}


def _facility_route_view(item: FacilityRoute, camera_names: dict[str, str]) -> dict[str, Any]:
    return {
        **_origin_view(item.origin),
        "eta_s": round(item.route.eta_s, 1),
        "distance_m": round(item.route.distance_m, 1),
        "straight_m": round(item.straight_m, 1),
        "route": mapping(item.route.geometry),
        "cameras": [{"id": c.camera_id, "name": camera_names.get(c.camera_id, c.camera_id),
                     "distance_m": round(c.distance_m, 1), "along_m": round(c.along_m, 1), "eta_s": round(c.eta_s, 1)}
                    for c in item.cameras],
        "signals": [{"osm_id": s.osm_id, "lon": s.lon, "lat": s.lat, "along_m": round(s.along_m, 1),
                     "eta_s": round(s.eta_s, 1)} for s in item.signals],
    }


def cordon_plan_view(plan: CordonPlan, camera_names: dict[str, str]) -> dict[str, Any]:
    reach = plan.cordon
    return {
        "mode": plan.profile.value,
        "minutes": reach.minutes if reach is not None else None,
        "note": plan.note,
        "length_m": round(reach.length_m, 1) if reach is not None else 0.0,
        "reach": reach.to_geojson() if reach is not None else {"type": "FeatureCollection", "features": []},
        "exits": [{"name": e.name, "road_class": e.road_class, "lon": e.lon, "lat": e.lat}
                  for e in (reach.exits if reach is not None else ())],
        "cameras": [{"id": w.camera.id, "name": camera_names.get(w.camera.id, w.camera.id),
                     "distance_m": w.camera.distance_m, "tier": w.camera.tier.value, "exit": w.exit_name,
                     "entered_s": round(w.entered_s, 1)} for w in plan.cameras],
    }


def camera_ids(plan: DispatchPlan | CordonPlan) -> set[str]:
    """The cameras a plan names, for one lookup of their names."""
    if isinstance(plan, DispatchPlan):
        return {c.camera_id for item in plan.ranked for c in item.cameras}
    return {w.camera.id for w in plan.cameras}
