"""Routing for an incident: the dispatch plan (facilities by road ETA) and the escape-route cordon."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from citylink.api.deps import PlatformDep, PrincipalDep
from citylink.api.errors import Problem
from citylink.api.routes.incidents import load_visible
from citylink.domain.agencies import Principal
from citylink.domain.facilities import FacilityKind
from citylink.domain.units import dispatchable
from citylink.geo.road_profiles import Profile
from citylink.runtime.platform import Platform
from citylink.runtime.routing_plans import (
    RoutingPlans,
    RoutingUnavailable,
    camera_ids,
    cordon_plan_view,
    dispatch_plan_view,
)
from citylink.store import camera_repo, unit_repo

router = APIRouter(tags=["routing"])

MAX_K = 20
MAX_MINUTES = 30.0


async def _incident_and_plans(platform: Platform, incident_id: str,
                              principal: Principal) -> tuple[tuple[float, float], RoutingPlans]:
    """The incident's (lon, lat) once the caller may read it, and the routing; 409 when none is configured."""
    row = await platform.db.read(lambda s: load_visible(s, incident_id, principal))
    plans = platform.routing()
    if plans is None:
        raise Problem(409, "no road network configured",
                      "routing needs a road network: set road_network_path (an .osm.pbf) in the settings")
    return (row.lon, row.lat), plans


@router.get("/incidents/{incident_id}/dispatch-plan")
async def dispatch_plan(incident_id: str, platform: PlatformDep, principal: PrincipalDep,
                        kind: Annotated[FacilityKind, Query(description="fire, police or hospital")],
                        k: Annotated[int, Query(ge=1, le=MAX_K, description="how many facilities to rank")] = 3,
                        ) -> dict[str, Any]:
    """The k stations and available units of a service that reach the incident first by road, each with its
    route, the cameras within 50 m of it in passing order and the traffic signals on it with their expected
    passing times; and the hydrants and hazards within 200 m of the scene."""
    spot, plans = await _incident_and_plans(platform, incident_id, principal)
    units = dispatchable(await platform.db.read(unit_repo.all_units), kind, now=platform.clock(),
                         max_age_s=platform.settings.unit_position_max_age_s)
    try:
        plan = await platform.run_blocking(lambda: plans.dispatch_plan(spot, kind, k=k, cameras=platform.index,
                                                                       units=units))
    except RoutingUnavailable as exc:
        raise Problem(409, "road network unavailable", str(exc)) from None
    names = await platform.db.read(lambda s: camera_repo.names(s, camera_ids(plan)))
    return {"incident_id": incident_id, **dispatch_plan_view(plan, names)}


@router.get("/incidents/{incident_id}/cordon")
async def incident_cordon(incident_id: str, platform: PlatformDep, principal: PrincipalDep,
                          minutes: Annotated[float, Query(gt=0, le=MAX_MINUTES,
                                                          description="how long the escape has lasted")] = 3.0,
                          mode: Annotated[Profile, Query(description="car or foot")] = Profile.CAR,
                          ) -> dict[str, Any]:
    """The roads reachable from the incident within minutes (GeoJSON), their exits, and the camera to watch at
    each exit, the soonest reached first."""
    spot, plans = await _incident_and_plans(platform, incident_id, principal)
    try:
        plan = await platform.run_blocking(lambda: plans.cordon_plan(spot, minutes=minutes, profile=mode,
                                                                     cameras=platform.index))
    except RoutingUnavailable as exc:
        raise Problem(409, "road network unavailable", str(exc)) from None
    names = await platform.db.read(lambda s: camera_repo.names(s, camera_ids(plan)))
    return {"incident_id": incident_id, **cordon_plan_view(plan, names)}
