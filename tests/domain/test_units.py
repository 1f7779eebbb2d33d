"""Which units a dispatch plan may rank: available units of its service whose tracker is still reporting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from citylink.domain.facilities import FacilityKind
from citylink.domain.units import Unit, UnitKind, UnitState, dispatchable

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _unit(unit_id: str, kind: UnitKind, state: UnitState = UnitState.AVAILABLE, *, age_s: float | None = 10) -> Unit:
    placed = age_s is not None
    return Unit(unit_id, kind, unit_id, "fire", state, 24.9 if placed else None, 60.1 if placed else None,
                NOW - timedelta(seconds=age_s) if age_s is not None else None, None)


def test_only_available_units_of_the_service_with_a_fresh_position_are_ranked() -> None:
    units = [_unit("engine", UnitKind.FIRE_ENGINE), _unit("ambulance", UnitKind.AMBULANCE),
             _unit("busy", UnitKind.FIRE_ENGINE, UnitState.BUSY),
             _unit("sent", UnitKind.FIRE_ENGINE, UnitState.DISPATCHED),
             _unit("home", UnitKind.FIRE_ENGINE, UnitState.OFF_DUTY),
             _unit("patrol", UnitKind.PATROL_CAR), _unit("nowhere", UnitKind.FIRE_ENGINE, age_s=None),
             _unit("silent", UnitKind.AMBULANCE, age_s=601)]
    fire = dispatchable(units, FacilityKind.FIRE, now=NOW, max_age_s=600)
    assert [u.id for u in fire.units] == ["engine", "ambulance"]
    assert [u.id for u in fire.stale] == ["silent"]
    police = dispatchable(units, FacilityKind.POLICE, now=NOW, max_age_s=600)
    assert [u.id for u in police.units] == ["patrol"] and police.stale == ()
    assert dispatchable(units, FacilityKind.HOSPITAL, now=NOW, max_age_s=600).units == ()
