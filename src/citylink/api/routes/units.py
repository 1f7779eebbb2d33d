"""Mobile units: fire engines, ambulances and patrol cars with their live positions and states.

A linked agency registers and moves its own units; centre staff see and dispatch all of them. Positions also
arrive over MQTT (device type ``unit``). Registrations, removals and state changes are audited; positions
are not (a unit reports every few seconds) and are never shown to agencies that do not own the unit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from sqlalchemy.orm import Session

from citylink.api.deps import PlatformDep, PrincipalDep, forbid, handles, registering_for
from citylink.api.errors import Problem
from citylink.api.middleware import correlation_id
from citylink.api.schemas import UnitIn, UnitUpdate
from citylink.domain.agencies import Principal
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.domain.units import Unit, UnitKind, UnitState
from citylink.runtime.platform import Platform
from citylink.store import agency_repo, audit_repo, unit_repo
from citylink.store.tables import UnitRow

router = APIRouter(tags=["units"])

UnitId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
                             description="1-64 letters, digits, '_', '.' or '-' (the device id it reports with)")]


def unit_view(unit: Unit) -> dict[str, Any]:
    return {"id": unit.id, "kind": unit.kind.value, "name": unit.name, "agency": unit.agency,
            "state": unit.state.value, "incident_id": unit.incident_id,
            "location": {"lon": unit.lon, "lat": unit.lat} if unit.lon is not None else None,
            "position_at": unit.position_at.isoformat() if unit.position_at else None}



@router.get("/units")
async def list_units(platform: PlatformDep, principal: PrincipalDep,
                     kind: UnitKind | None = None, state: UnitState | None = None) -> dict[str, Any]:
    """The units the caller may see (centre roles: all; an agency: its own), by id."""
    agency = None if principal.role.sees_all_incidents else principal.agency
    units = await platform.db.read(lambda s: unit_repo.all_units(s, agency=agency))
    shown = [u for u in units if (kind is None or u.kind is kind) and (state is None or u.state is state)
             and (agency is None or handles(principal, u.agency))]
    return {"units": [unit_view(u) for u in shown]}


@router.put("/units/{unit_id}")
async def register_unit(unit_id: UnitId, body: UnitIn, platform: PlatformDep, principal: PrincipalDep,
                        response: Response) -> dict[str, Any]:
    agency = registering_for(principal, body.agency, "units")
    now = platform.clock()
    unit = Unit(id=unit_id, kind=body.kind, name=body.name, agency=agency, state=body.state,
                lon=body.location.lon if body.location else None, lat=body.location.lat if body.location else None,
                position_at=(body.time or now) if body.location else None, incident_id=None)

    def register(session: Session) -> tuple[UnitRow, bool]:
        if agency_repo.get_agency(session, agency) is None:
            raise Problem(422, "invalid request", f"no agency {agency}", field="/agency")
        existing = unit_repo.get(session, unit_id)
        if existing is not None and not handles(principal, existing.agency):
            raise Problem(403, "forbidden", f"unit {unit_id} belongs to another agency")
        row, created = unit_repo.register(session, unit, now=now)
        _audit(session, principal, unit_id, {"registered": True, "kind": unit.kind.value, "agency": agency,
                                              "state": unit.state.value}, now)
        return row, created

    row, created = await platform.db.write(register)
    response.status_code = 201 if created else 200
    return _published(platform, row)


@router.patch("/units/{unit_id}")
async def update_unit(unit_id: UnitId, body: UnitUpdate, platform: PlatformDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    """A position (ignored when older than the one known), a state, or both."""
    forbid(principal, principal.role.may_act_on_incidents, "move or dispatch units")
    now = platform.clock()

    def update(session: Session) -> UnitRow:
        row = _owned(session, unit_id, principal)
        if body.location is not None:
            unit_repo.move(row, body.location.lon, body.location.lat, body.time or now, now=now)
        if body.state is not None:
            incident = body.incident_id if body.state in (UnitState.DISPATCHED, UnitState.BUSY) else None
            if (row.state, row.incident_id) != (body.state.value, incident):
                row.state, row.incident_id, row.updated_at = body.state.value, incident, now
                _audit(session, principal, unit_id, {"state": body.state.value, "incident": incident}, now)
        return row

    return _published(platform, await platform.db.write(update))


@router.delete("/units/{unit_id}", status_code=204)
async def remove_unit(unit_id: UnitId, platform: PlatformDep, principal: PrincipalDep) -> Response:
    forbid(principal, principal.role.may_act_on_incidents, "remove units")
    now = platform.clock()

    def remove(session: Session) -> str:
        row = _owned(session, unit_id, principal)
        unit_repo.remove(session, row)
        _audit(session, principal, unit_id, {"removed": True}, now)
        return row.agency

    agency = await platform.db.write(remove)
    platform.feed.publish("unit.removed", {"id": unit_id}, audience=frozenset({agency}))
    return Response(status_code=204)


def _owned(session: Session, unit_id: str, principal: Principal) -> UnitRow:
    row = unit_repo.get(session, unit_id)
    if row is None:
        raise Problem(404, "not found", f"no unit {unit_id}", field="/unit_id")
    if not handles(principal, row.agency):
        raise Problem(403, "forbidden", f"unit {unit_id} belongs to another agency")
    return row


def _audit(session: Session, principal: Principal, unit_id: str, detail: dict[str, object], now: datetime) -> None:
    audit_repo.append(session, AuditEntry(AuditAction.UNIT_CHANGED, principal.agency, f"unit:{unit_id}", detail,
                                          now, correlation_id.get()))


def _published(platform: Platform, row: UnitRow) -> dict[str, Any]:
    view = unit_view(unit_repo.to_unit(row))
    # Centre roles see every stream message; an agency hears only of its own units.
    platform.feed.publish("unit.changed", view, audience=frozenset({row.agency}))
    return view

