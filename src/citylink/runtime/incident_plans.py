"""Routing plans that services ask for (PlanDispatch, PlanCordon), worked out before the services' transaction.

A plan is milliseconds of CPU, and the first one of a process imports the road network (about a second):
neither belongs inside a write transaction, where it would hold up every other writer. So the platform turns
each plan action into a PlannedRoutes, off the event loop, and the executor only stores what it carries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from citylink.domain.actions import Action, PlanCordon, PlanDispatch
from citylink.domain.events import Event
from citylink.domain.facilities import FacilityKind
from citylink.domain.units import dispatchable
from citylink.geo.camera_index import CameraIndex
from citylink.geo.road_profiles import Profile
from citylink.runtime.routing_plans import (
    CordonPlan,
    DispatchPlan,
    RoutingPlans,
    RoutingUnavailable,
    camera_ids,
    cordon_plan_view,
    dispatch_plan_view,
)
from citylink.store import unit_repo
from citylink.store.database import Database

log = logging.getLogger(__name__)

DISPATCH = "dispatch"
CORDON = "cordon"


@dataclass(frozen=True, slots=True, eq=False)
class PlannedRoutes:
    """A plan worked out for an event's position; the executor stores it with the incident."""

    kind: str  # DISPATCH or CORDON
    origin: tuple[float, float]  # (lon, lat) it was worked out from
    plan: DispatchPlan | CordonPlan | None  # None when the road network could not be read
    recipient: str | None  # the agency told of a dispatch plan
    error: str | None = None

    def camera_ids(self) -> set[str]:
        return camera_ids(self.plan) if self.plan is not None else set()

    def view(self, camera_names: dict[str, str]) -> dict[str, Any]:
        """What the incident keeps and the API shows. A cordon's reached roads (up to ~100 KB of GeoJSON) are
        not kept: GET .../cordon works them out again from the incident's position when a board draws them."""
        where = {"from": {"lon": self.origin[0], "lat": self.origin[1]}}
        if isinstance(self.plan, DispatchPlan):
            return {**dispatch_plan_view(self.plan, camera_names), **where}
        if isinstance(self.plan, CordonPlan):
            view = cordon_plan_view(self.plan, camera_names)
            del view["reach"]
            return {**view, **where}
        return {"note": self.error, "ranked": [], "cameras": [], **where}

    def summary(self) -> str:
        """One line: for a dispatch plan the fastest and what is on its way (what the agency is told), for a
        cordon its size and the cameras to watch."""
        if isinstance(self.plan, CordonPlan):
            span = f"{self.plan.cordon.minutes:g}-minute" if self.plan.cordon is not None else "no"
            note = f" ({self.plan.note})" if self.plan.note else ""
            exits = len(self.plan.cordon.exits) if self.plan.cordon is not None else 0
            return (f"{span} escape cordon by {self.plan.profile.value}{note}: {exits} exits, "
                    f"{len(self.plan.cameras)} cameras to watch next")
        if not isinstance(self.plan, DispatchPlan):
            return f"no {self.kind} plan: {self.error}"
        if not self.plan.ranked:
            return f"Dispatch plan: {self.plan.note or 'nothing ranked'}"
        best = self.plan.ranked[0]
        minutes, seconds = divmod(round(best.route.eta_s), 60)
        line = (f"Fastest by road: {best.origin.name}, ETA {minutes}:{seconds:02d} "
                f"({best.route.distance_m / 1000:.1f} km), {len(best.cameras)} cameras and "
                f"{len(best.signals)} signals on the way")
        hydrants = sum(1 for n in self.plan.nearby if n.feature.kind.value == "fire_hydrant")
        return f"{line}; {hydrants} hydrants within 200 m" if hydrants else line


class IncidentPlanner:
    def __init__(self, routing: Callable[[], RoutingPlans | None], *, db: Database, index: CameraIndex,
                 unit_max_age_s: float) -> None:
        self._routing = routing
        self._db = db
        self._index = index
        self._unit_max_age_s = unit_max_age_s

    @staticmethod
    def wanted(actions: Sequence[Action | PlannedRoutes]) -> bool:
        return any(isinstance(a, PlanDispatch | PlanCordon) for a in actions)

    def on_writer(self, actions: Sequence[Action]) -> Sequence[Action] | None:
        """The actions as they can run inside a write transaction, or None when a plan in them must be worked out
        first (resolve, off the writer). Without a road network plan actions are dropped, as resolve drops them."""
        if not self.wanted(actions):
            return actions
        if self._routing() is not None:
            return None
        return [a for a in actions if not isinstance(a, PlanDispatch | PlanCordon)]

    def resolve(self, event: Event, actions: Sequence[Action | PlannedRoutes], *,
                now: datetime) -> list[Action | PlannedRoutes]:
        """The actions with each plan action worked out (blocking: run it in a thread). Without a road network
        configured there is nothing to plan on, and plan actions are dropped."""
        routing = self._routing()
        resolved: list[Action | PlannedRoutes] = []
        for action in actions:
            if not isinstance(action, PlanDispatch | PlanCordon):
                resolved.append(action)
            elif routing is not None:
                resolved.append(self._plan(routing, action, (event.location.lon, event.location.lat), now))
        return resolved

    def _plan(self, routing: RoutingPlans, action: PlanDispatch | PlanCordon, spot: tuple[float, float],
              now: datetime) -> PlannedRoutes:
        kind = DISPATCH if isinstance(action, PlanDispatch) else CORDON
        recipient = action.recipient if isinstance(action, PlanDispatch) else None
        try:
            if isinstance(action, PlanDispatch):
                service = FacilityKind(action.service)
                units = dispatchable(self._db.read_sync(unit_repo.all_units), service, now=now,
                                     max_age_s=self._unit_max_age_s)
                plan: DispatchPlan | CordonPlan = routing.dispatch_plan(spot, service, k=action.k,
                                                                        cameras=self._index, units=units)
            else:
                plan = routing.cordon_plan(spot, minutes=action.minutes, profile=Profile(action.mode),
                                           cameras=self._index)
        except RoutingUnavailable as exc:
            log.warning("no %s plan: %s", kind, exc)
            return PlannedRoutes(kind, spot, None, recipient, error=str(exc))
        return PlannedRoutes(kind, spot, plan, recipient)
