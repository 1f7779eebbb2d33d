"""How incidents, grants and notifications look to API and stream clients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from citylink.domain.catalogue import lookup
from citylink.domain.events import Status
from citylink.store.tables import EventRow, GrantRow, IncidentRow, NotificationRow


def incident_summary(row: IncidentRow) -> dict[str, Any]:
    entry = lookup(row.code)
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "name_en": entry.name_en if entry else row.code,
        "grade": row.grade,
        "status": row.status,
        "status_label": Status(row.status).label,
        "location": {"lon": row.lon, "lat": row.lat},
        "place": row.place,
        "sender": {"system": row.sender_system, "city": row.sender_city},
        "occurrence": row.occurrence,
        "agencies": list(row.agencies),
        "opened_at": row.opened_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": row.acknowledged_at.isoformat() if row.acknowledged_at else None,
    }


def mask_items(items: Iterable[dict[str, Any]], personal: frozenset[str]) -> list[dict[str, Any]]:
    return [{"key": i["key"], "val": "***" if i["key"] in personal else i["val"]} for i in items]


def event_view(row: EventRow, *, personal: frozenset[str], reveal: bool) -> dict[str, Any]:
    payload = dict(row.payload)
    if not reveal:
        payload["items"] = mask_items(payload.get("items", []), personal)
    return {"id": row.id, "status": row.status, "time": row.time.isoformat(),
            "received_at": row.received_at.isoformat(), "received_by": row.received_by, "effect": row.effect,
            "event": payload}


def grant_view(row: GrantRow, *, token: str | None) -> dict[str, Any]:
    return {"id": row.id, "incident_id": row.incident_id, "agency": row.agency, "cameras": list(row.cameras),
            "purpose": row.purpose, "issued_at": row.issued_at.isoformat(), "expires_at": row.expires_at.isoformat(),
            "revoked": row.revoked_at is not None,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
            "revoke_reason": row.revoke_reason, "token": token}


def notification_view(row: NotificationRow) -> dict[str, Any]:
    # The contact (a guardian's phone) is never shown back: it is only for delivery.
    return {"id": row.id, "recipient": row.recipient, "channel": row.channel, "message": row.message,
            "status": row.status, "attempts": row.attempts, "last_error": row.last_error,
            "created_at": row.created_at.isoformat(),
            "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None}


def incident_detail(row: IncidentRow, *, events: list[dict[str, Any]], grants: list[dict[str, Any]],
                    notifications: list[dict[str, Any]], plans: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """plans: the incident's routing plans by kind (dispatch, cordon), each with when it was computed."""
    return {**incident_summary(row), "content": row.content, "area": row.area, "radius_m": row.radius_m,
            "cameras": list(row.cameras), "selection_note": row.selection_note, "media": list(row.media),
            "grants": grants, "events": events, "notifications": notifications,
            "plans": {"dispatch": plans.get("dispatch"), "cordon": plans.get("cordon")}}
