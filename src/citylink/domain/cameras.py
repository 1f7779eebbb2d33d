"""Cameras as the registry knows them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_FOV_DEG = 90.0
DEFAULT_VIEW_RANGE_M = 150.0


class CameraStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class Camera(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$", description="stable camera id")
    name: str = Field(default="", max_length=256)
    lon: float = Field(ge=-180.0, le=180.0)
    lat: float = Field(ge=-90.0, le=90.0)
    direction_deg: float | None = Field(default=None, ge=0.0, lt=360.0, description="where it looks, from north")
    fov_deg: float = Field(default=DEFAULT_FOV_DEG, gt=0.0, le=360.0)
    view_range_m: float = Field(default=DEFAULT_VIEW_RANGE_M, gt=0.0, le=5000.0)
    ptz: bool = False
    purpose: str = Field(default="", max_length=128)
    stream_urls: tuple[str, ...] = ()
    status: CameraStatus = CameraStatus.ONLINE
    agency: str = Field(default="centre", max_length=64, description="owning agency")
    source: str = Field(default="", max_length=128, description="where the record was imported from")


class CameraRejection(BaseModel):
    """One input row that an import refused, and why."""

    model_config = ConfigDict(frozen=True)

    row: int
    reason: str
