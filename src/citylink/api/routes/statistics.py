"""Service usage statistics: how much each linked service is used, and how fast it acts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.api.errors import Problem
from citylink.store import statistics_repo

router = APIRouter(tags=["statistics"])


@router.get("/statistics/services")
async def service_usage(platform: PlatformDep, principal: PrincipalDep,
                        since: Annotated[AwareDatetime | None, Query(description="default: 24 hours ago")] = None,
                        until: Annotated[AwareDatetime | None, Query(description="default: now")] = None,
                        ) -> dict[str, Any]:
    """Per service: events handled (received in the window) and the time from an event's receipt to the
    service's effects (grant, alert, plan) being committed, p50/p90/p99/max in milliseconds."""
    forbid(principal, principal.role.sees_all_incidents, "read service statistics")
    end: datetime = until or platform.clock()
    start: datetime = since or end - timedelta(hours=24)
    if start >= end:
        raise Problem(422, "invalid request", "since must be before until", field="/query/since")
    rows = await platform.db.read(lambda s: statistics_repo.usage(s, since=start, until=end))
    return {"since": start.isoformat(), "until": end.isoformat(),
            "services": [{"service": u.service, "events": u.events, "p50_ms": round(u.p50_ms, 2),
                          "p90_ms": round(u.p90_ms, 2), "p99_ms": round(u.p99_ms, 2), "max_ms": round(u.max_ms, 2)}
                         for u in rows]}
