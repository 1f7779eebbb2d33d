"""Dispatch plans and cordons for an incident, on the road network of settings.road_network_path.

The networks (car, foot) and the facilities are read from the PBF on first use, not at start-up: a city
takes about a second to import. Each network is cached as .npz in cache_dir, named after the PBF's mtime and
size, so a server restart loads arrays instead of parsing OSM again, and a changed file is imported afresh.
Facilities are held in memory (a few hundred at most per city; re-read in ~0.1 s).

Everything here is CPU work of milliseconds: callers run it off the event loop.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import mapping

from citylink.adapters.osm_facilities import read_facilities
from citylink.domain.facilities import Facility, FacilityKind
from citylink.domain.selection import SelectedCamera
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


class RoutingUnavailable(RuntimeError):
    """The road network file cannot be read."""


@dataclass(frozen=True, slots=True, eq=False)
class FacilityRoute:
    facility: Facility
    route: Route
    straight_m: float
    cameras: tuple[CameraOnRoute, ...]  # in passing order, eta_s from leaving the facility
    signals: tuple[SignalOnRoute, ...]  # the signal-priority plan: each signal with its expected passing time


@dataclass(frozen=True, slots=True, eq=False)
class DispatchPlan:
    kind: FacilityKind
    ranked: tuple[FacilityRoute, ...]  # fastest first
    unreachable: tuple[Facility, ...]  # proven to have no road path to the incident
    off_network: tuple[Facility, ...]  # too far from any road to place
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


class RoutingPlans:
    """Routers and facilities for one road network file, loaded lazily and thread-safely."""

    def __init__(self, pbf: Path, *, cache_dir: Path) -> None:
        self.pbf = pbf
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._routers: dict[Profile, Router] = {}
        self._facilities: list[Facility] | None = None

    def router(self, profile: Profile) -> Router:
        with self._lock:  # two first requests at once would import the same file twice
            if profile not in self._routers:
                self._routers[profile] = Router(self._network(profile))
            return self._routers[profile]

    def facilities(self, kind: FacilityKind) -> list[Facility]:
        with self._lock:
            if self._facilities is None:
                try:
                    self._facilities = read_facilities(self.pbf)
                except (OSError, RuntimeError) as exc:
                    raise RoutingUnavailable(f"cannot read facilities from {self.pbf.name}: {exc}") from exc
            return [f for f in self._facilities if f.kind is kind]

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

    def dispatch_plan(self, incident: tuple[float, float], kind: FacilityKind, *, k: int,
                      cameras: CameraIndex) -> DispatchPlan:
        """The k facilities of kind that reach the incident (lon, lat) first by car, with what each route passes."""
        facilities = self.facilities(kind)
        if not facilities:
            return DispatchPlan(kind, (), (), (), f"no {kind.value} facilities in {self.pbf.name}")
        router = self.router(Profile.CAR)
        by_id = {f.id: f for f in facilities}  # a feature cut across tiles can come twice with one id
        unique = list(by_id.values())
        ranking = router.best_units(incident, list(by_id), [f.lon for f in unique], [f.lat for f in unique], k=k)
        if isinstance(ranking, NoRoute):
            return DispatchPlan(kind, (), (), (), ranking.detail)
        ranked = tuple(self._facility_route(router, by_id[unit.unit_id], unit.straight_m, unit.route, cameras)
                       for unit in ranking.ranked)
        return DispatchPlan(kind, ranked, tuple(by_id[u] for u in ranking.unreachable),
                            tuple(by_id[u] for u in ranking.off_network), _ranking_note(ranking, kind))

    def _facility_route(self, router: Router, facility: Facility, straight_m: float, route: Route,
                        cameras: CameraIndex) -> FacilityRoute:
        min_lon, min_lat, max_lon, max_lat = route.geometry.bounds
        centre_lon, centre_lat = (min_lon + max_lon) / 2, (min_lat + max_lat) / 2
        # Every camera within the buffer of the route lies in the route's bounding circle widened by the buffer.
        radius_m = haversine_m(centre_lon, centre_lat, min_lon, min_lat) + CAMERA_BUFFER_M
        near = cameras.candidates_within(centre_lon, centre_lat, radius_m)
        ids = [cameras.id_at(int(slot)) for slot in near.slots]
        passed = cameras_along_route(route, ids, near.lon, near.lat, within_m=CAMERA_BUFFER_M)
        return FacilityRoute(facility, route, straight_m, tuple(passed),
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


def _ranking_note(ranking: UnitRanking, kind: FacilityKind) -> str | None:
    if ranking.ranked:
        return None
    return f"no {kind.value} facility can reach the incident by road"


# -- views ------------------------------------------------------------------------------------------------------


def dispatch_plan_view(plan: DispatchPlan, camera_names: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": plan.kind.value,
        "note": plan.note,
        "ranked": [_facility_route_view(item, camera_names) for item in plan.ranked],
        "unreachable": [_facility_view(f) for f in plan.unreachable],
        "off_network": [_facility_view(f) for f in plan.off_network],
    }


def _facility_view(facility: Facility) -> dict[str, Any]:
    return {"id": facility.id, "name": facility.name, "lon": facility.lon, "lat": facility.lat}


def _facility_route_view(item: FacilityRoute, camera_names: dict[str, str]) -> dict[str, Any]:
    return {
        **_facility_view(item.facility),
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
