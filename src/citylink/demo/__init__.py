"""The Helsinki demo: real OSM cameras, a labelled demo configuration, a live scenario and its console.

This module holds the demo configuration (``helsinki.json``) as typed models. The OSM extract has cameras
without directions, no police station and no units; the configuration supplies them, and says so in its
``_comment``. The runner (``runner.py``) applies it, the scenario (``scenario.py``) draws places and units
from it.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citylink.domain.units import UnitKind

CONFIG_RESOURCE = "helsinki.json"
DEMO_LABEL = "DEMO CONFIGURATION, not from OSM"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bbox(_Model):
    min_lon: float = Field(ge=-180.0, le=180.0, description="west edge, degrees")
    min_lat: float = Field(ge=-90.0, le=90.0, description="south edge, degrees")
    max_lon: float = Field(ge=-180.0, le=180.0, description="east edge, degrees")
    max_lat: float = Field(ge=-90.0, le=90.0, description="north edge, degrees")
    note: str = Field(default="", alias="_note", description="where the box comes from")

    def contains(self, lon: float, lat: float) -> bool:
        return self.min_lon <= lon <= self.max_lon and self.min_lat <= lat <= self.max_lat

    def clamp(self, lon: float, lat: float) -> tuple[float, float]:
        """The nearest point inside the box: jittered positions must stay on the map the demo covers."""
        return min(max(lon, self.min_lon), self.max_lon), min(max(lat, self.min_lat), self.max_lat)


class CameraDirection(_Model):
    id: str = Field(min_length=1, description="OSM camera id as imported, e.g. osm:n256257146")
    direction_deg: float = Field(ge=0.0, lt=360.0, description="where it looks, degrees clockwise from north")
    fov_deg: float = Field(gt=0.0, le=360.0, description="horizontal field of view")
    street: str = Field(default="", description="the street it faces along; for reading only")


class CameraConfig(_Model):
    rule: str = Field(alias="_rule", description="how the entries below were chosen")
    directions: tuple[CameraDirection, ...] = Field(description="made-up directions for a subset of cameras")
    ptz: tuple[str, ...] = Field(default=(), description="camera ids made PTZ for the demo")
    offline: tuple[str, ...] = Field(default=(), description="camera ids marked offline for the demo")

    @model_validator(mode="after")
    def _distinct(self) -> CameraConfig:
        directed = [d.id for d in self.directions]
        if len(set(directed)) != len(directed):
            raise ValueError("cameras.directions: a camera id appears twice")
        overlap = set(directed) & set(self.ptz)
        if overlap:
            raise ValueError(f"cameras: {sorted(overlap)} are both directed and PTZ")
        return self


class Station(_Model):
    id: str = Field(min_length=1)
    kind: Literal["police", "fire"]
    name: str = Field(min_length=1)
    lon: float = Field(ge=-180.0, le=180.0)
    lat: float = Field(ge=-90.0, le=90.0)
    made_up: bool = Field(description="True when the station does not exist in the OSM data")
    note: str = Field(default="", description="where the position comes from")


class Unit(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", description="becomes the sub-agency police/<id> on dispatch")
    agency: Literal["police", "fire"]
    station: str = Field(description="id of its home station")
    kind: str = Field(min_length=1, description="patrol car, fire engine …")
    tracked_as: UnitKind | None = Field(default=None, description="registered as a mobile unit of this kind, so that "
                                        "dispatch plans rank it; none for units not routed by road (foot patrols)")
    at: str | None = Field(default=None, description="the place it stands at the start; default its station")
    made_up: bool


class Place(_Model):
    name: str = Field(min_length=1)
    lon: float = Field(ge=-180.0, le=180.0)
    lat: float = Field(ge=-90.0, le=90.0)
    source: str = Field(description="the OSM object the name and position come from")


class DemoConfig(_Model):
    comment: str = Field(alias="_comment", description="must say that this is demo configuration")
    attribution: str = Field(description="ODbL attribution for the OSM-derived parts")
    city: str = Field(min_length=1, description="sender city code of the scenario's events")
    timezone: str = Field(description="IANA zone the senders' occurrence numbers are written in")
    bbox: Bbox
    cameras: CameraConfig
    stations: tuple[Station, ...]
    units: tuple[Unit, ...]
    places: tuple[Place, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> DemoConfig:
        if not self.comment.startswith(DEMO_LABEL):
            raise ValueError(f"_comment must start with {DEMO_LABEL!r}")
        spots: list[Place | Station] = [*self.places, *self.stations]
        for spot in spots:
            if not self.bbox.contains(spot.lon, spot.lat):
                raise ValueError(f"{spot.name} ({spot.lon}, {spot.lat}) is outside the demo bbox")
        stations = {s.id for s in self.stations}
        if {s.kind for s in self.stations} != {"police", "fire"}:
            raise ValueError("stations: the scenario needs one police and one fire station")
        places = {p.name for p in self.places}
        for unit in self.units:
            if unit.station not in stations:
                raise ValueError(f"unit {unit.id}: no station {unit.station}")
            if unit.at is not None and unit.at not in places:
                raise ValueError(f"unit {unit.id}: no place {unit.at}")
        return self

    def start_position(self, unit: Unit) -> tuple[float, float]:
        """(lon, lat) where the unit stands when the demo starts: its place, else its station."""
        spot: Place | Station = (next(p for p in self.places if p.name == unit.at) if unit.at is not None
                                 else next(s for s in self.stations if s.id == unit.station))
        return spot.lon, spot.lat

    def units_of(self, agency: Literal["police", "fire"]) -> tuple[Unit, ...]:
        return tuple(u for u in self.units if u.agency == agency)

    def station_of(self, kind: Literal["police", "fire"]) -> Station:
        return next(s for s in self.stations if s.kind == kind)


def load_config(path: Path | None = None) -> DemoConfig:
    """The demo configuration: the packaged helsinki.json, or the file at path."""
    if path is None:
        text = resources.files("citylink.demo").joinpath(CONFIG_RESOURCE).read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return DemoConfig.model_validate(json.loads(text))
