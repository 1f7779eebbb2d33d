"""Video grants: the only way a responder sees a camera."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict


class Grant(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    incident_id: str
    agency: str
    cameras: tuple[str, ...]
    purpose: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str = ""

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def denial(self, *, camera_id: str, now: datetime) -> str | None:
        """Why this grant does not let its holder see camera_id now, or None when it does."""
        if self.revoked_at is not None:
            return f"grant revoked: {self.revoke_reason or 'revoked'}"
        if now >= self.expires_at:
            return "grant expired"
        if camera_id not in self.cameras:
            return f"camera {camera_id} is not covered by this grant"
        return None


def grant_expiry(*, now: datetime, max_duration: timedelta, incident_ends_at: datetime | None = None) -> datetime:
    """A grant lives until the incident ends, never longer than max_duration."""
    cap = now + max_duration
    return min(cap, incident_ends_at) if incident_ends_at is not None else cap
