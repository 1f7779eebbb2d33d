"""The live traffic hook: congestion and closures by OSM way, applied to routing without rebuilding the network.

A traffic centre's feed (or an operator) reports a way as slowed (a speed factor: 0.5 doubles its travel
time) or closed (0); dispatch plans and cordons use it at once, in every process. Overrides stay until
cleared: a feed re-sends what it still sees and clears what ended.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from sqlalchemy.orm import Session

from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.api.errors import Problem
from citylink.api.middleware import correlation_id
from citylink.api.schemas import TrafficIn
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.runtime.platform import Platform
from citylink.runtime.routing_plans import RoutingPlans, RoutingUnavailable
from citylink.store import audit_repo, traffic_repo
from citylink.store.tables import TrafficRow

router = APIRouter(tags=["routing"])

WayId = Annotated[int, Path(ge=1, le=2**62, description="the OSM id of the road (way)")]


def _view(row: TrafficRow) -> dict[str, Any]:
    return {"way_osm_id": row.way_osm_id, "speed_factor": row.speed_factor, "closed": row.speed_factor == 0.0,
            "reason": row.reason, "updated_by": row.updated_by, "updated_at": row.updated_at.isoformat()}


def _plans(platform: Platform) -> RoutingPlans:
    plans = platform.routing()
    if plans is None:
        raise Problem(409, "no road network configured",
                      "traffic applies to routing, which needs road_network_path (an .osm.pbf) in the settings")
    return plans


@router.get("/traffic")
async def list_traffic(platform: PlatformDep, _: PrincipalDep) -> dict[str, Any]:
    rows = await platform.db.read(traffic_repo.all_overrides)
    return {"overrides": [_view(row) for row in rows]}


@router.put("/traffic/ways/{way_osm_id}")
async def report_traffic(way_osm_id: WayId, body: TrafficIn, platform: PlatformDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    forbid(principal, principal.role.may_manage_cameras, "report traffic")
    plans = _plans(platform)
    try:
        unknown = await platform.run_blocking(plans.unknown_ways, [way_osm_id])
    except RoutingUnavailable as exc:
        raise Problem(409, "road network unavailable", str(exc)) from None
    if unknown:
        raise Problem(404, "not found", f"OSM way {way_osm_id} is not a road of the car network of "
                      f"{plans.pbf.name}", field="/way_osm_id")
    now = platform.clock()

    def put(session: Session) -> TrafficRow:
        row = traffic_repo.put(session, way_osm_id, body.speed_factor, reason=body.reason,
                               actor=principal.agency, now=now)
        _audit(session, principal.agency, way_osm_id, {"speed_factor": body.speed_factor, "reason": body.reason},
               now)
        return row

    row = await platform.db.write(put)
    await _changed(platform, plans)
    return _view(row)


@router.delete("/traffic/ways/{way_osm_id}", status_code=204)
async def clear_traffic(way_osm_id: WayId, platform: PlatformDep, principal: PrincipalDep) -> Response:
    forbid(principal, principal.role.may_manage_cameras, "clear traffic")
    plans = _plans(platform)
    now = platform.clock()

    def clear(session: Session) -> bool:
        cleared = traffic_repo.clear(session, way_osm_id)
        if cleared:
            _audit(session, principal.agency, way_osm_id, {"cleared": True}, now)
        return cleared

    if not await platform.db.write(clear):
        raise Problem(404, "not found", f"no traffic reported on OSM way {way_osm_id}", field="/way_osm_id")
    await _changed(platform, plans)
    return Response(status_code=204)


async def _changed(platform: Platform, plans: RoutingPlans) -> None:
    await platform.run_blocking(plans.apply_traffic)
    platform.feed.publish("traffic.changed", {})  # the other processes' routers take it from the store


def _audit(session: Session, actor: str, way_osm_id: int, detail: dict[str, object], now: datetime) -> None:
    audit_repo.append(session, AuditEntry(AuditAction.TRAFFIC_CHANGED, actor, f"way:{way_osm_id}", detail, now,
                                          correlation_id.get()))
