"""What camera selection answers: ranked cameras, each with why it was chosen."""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel, ConfigDict

DEFAULT_RADIUS_M = 500.0
DEFAULT_K = 5


class Tier(IntEnum):
    SEES = 1  # known direction, the point is inside its field of view and range
    CAN_TURN = 2  # no known direction, or PTZ: can be pointed at the spot
    NEARBY = 3  # fixed and looking elsewhere, but close


class SelectedCamera(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    distance_m: float
    bearing_deg: float  # from the camera to the point, degrees from north
    tier: Tier
    reason: str


class Selection(BaseModel):
    model_config = ConfigDict(frozen=True)

    cameras: tuple[SelectedCamera, ...]
    radius_m: float
    widened: bool  # True when nothing was within the asked radius and it was doubled once
    note: str = ""
