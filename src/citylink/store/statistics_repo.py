"""How much each linked service is used, and how fast: from the marks services leave on the events they handle."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.store.tables import EventRow, ProcessedRow


@dataclass(frozen=True, slots=True)
class ServiceUsage:
    service: str
    events: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


def usage(session: Session, *, since: datetime, until: datetime) -> list[ServiceUsage]:
    """Per service, the events it handled that were received in [since, until), and the time from receipt to
    its effects being committed (the grant, the alert, the plan: whatever the service does)."""
    query = (select(ProcessedRow.service, ProcessedRow.at, EventRow.received_at)
             .join(EventRow, EventRow.id == ProcessedRow.event_id)
             .where(EventRow.received_at >= since, EventRow.received_at < until))
    delays: dict[str, list[float]] = defaultdict(list)
    for service, at, received_at in session.execute(query):
        delays[service].append(max((at - received_at).total_seconds() * 1000.0, 0.0))
    out = []
    for service, values in sorted(delays.items()):
        ms = np.array(values)
        p50, p90, p99 = (float(v) for v in np.percentile(ms, [50, 90, 99]))
        out.append(ServiceUsage(service, len(values), p50, p90, p99, float(ms.max())))
    return out
