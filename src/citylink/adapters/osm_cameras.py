"""Cameras from OpenStreetMap files: ``man_made=surveillance`` nodes and ways, read with pyosmium.

Tag mapping (https://wiki.openstreetmap.org/wiki/Tag:man_made=surveillance):

- id: ``osm:n<id>`` for nodes, ``osm:w<id>`` for ways. Files rebuilt from OSM QA tiles carry synthetic
  object ids and the real ones in ``@id``/``@type`` tags; those tags win when present, so ids stay stable.
- position: the node, or for a way the mean of its node locations that are in the file. Extracts are
  clipped, so some referenced nodes are missing; they are skipped, and a way with none left is skipped.
- name: ``name``, else ``ref``, else ``operator``, else "OSM camera <id>".
- direction_deg: ``camera:direction``, else ``direction``. Degrees (``90``, ``-45``, ``90°``), compass
  points (``N``, ``NE``, ``ENE`` …, 22.5° steps) or a range ``90-180`` / ``NW-NE`` (its clockwise
  midpoint). Anything else, such as ``forward`` or ``90;270``, gives no direction.
- ptz: true when ``camera:type`` is ``dome`` or ``panning``, ``revolving=yes``, or ``surveillance:zoom``
  is set to anything but ``no``. A dome housing usually hides a pan/tilt/zoom head, so it counts as PTZ.
- kind: ``surveillance:type`` missing or ``camera`` is a camera; ``ALPR`` is a camera with purpose
  ``lpr``; anything else (``guard``, ``microphone`` …) is not a camera and is rejected with the reason.
- purpose: ``lpr`` for ALPR, else ``surveillance`` (public, outdoor, indoor …), else ``surveillance:zone``.
- agency: ``centre``; source: ``osm:<file name>``.

Rejections carry the OSM id (the one used in the camera id) as their ``row``.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import osmium
from pydantic import ValidationError

from citylink.adapters.camera_import import CameraImportError, ImportResult
from citylink.adapters.osm_ways import way_centre
from citylink.domain.cameras import Camera, CameraRejection

_log = logging.getLogger(__name__)

_COMPASS_POINTS = (
    "N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW",
)  # fmt: skip
_COMPASS_DEG: dict[str, float] = {point: i * 22.5 for i, point in enumerate(_COMPASS_POINTS)}
_RANGE = re.compile(r"^(-?[^-]+)-(-?[^-]+)$")
_DEGREE_SUFFIX = re.compile(r"\s*(°|deg|degrees?)$", re.IGNORECASE)
_PTZ_CAMERA_TYPES = frozenset({"dome", "panning"})
_FALSEY = frozenset({"no", "0", "false", "none"})
_MAX_NAME = 256
_MAX_PURPOSE = 128
_MAX_SOURCE = 128


@dataclass(frozen=True, slots=True)
class OsmFeature:
    """A surveillance object as read from the file, detached from pyosmium's short-lived buffers."""

    kind: str  # "n" (node) or "w" (way)
    osm_id: int
    tags: dict[str, str]
    lon: float
    lat: float


def read_osm_cameras(path: Path) -> ImportResult:
    """Read the cameras in an OSM file (PBF or XML). Never fails on dangling references.

    Raises CameraImportError when the file is missing or is not a readable OSM file.
    """
    if not path.exists():
        raise CameraImportError(f"no such file: {path}")
    if not path.is_file():
        raise CameraImportError(f"not a file: {path}")
    source = f"osm:{path.name}"[:_MAX_SOURCE]
    try:
        read = _read_features(path)
    except (RuntimeError, OSError, ValueError) as exc:
        raise CameraImportError(f"cannot read OSM file {path.name!r}: {exc}") from exc

    cameras: list[Camera] = []
    rejected: list[CameraRejection] = []
    for item in read:
        mapped = map_osm_feature(item, source=source) if isinstance(item, OsmFeature) else item
        if isinstance(mapped, Camera):
            cameras.append(mapped)
        else:
            rejected.append(mapped)
    _log.info("%s: %d cameras imported, %d rejected", source, len(cameras), len(rejected))
    return ImportResult(cameras=cameras, rejected=rejected, source=source)


def map_osm_feature(feature: OsmFeature, *, source: str) -> Camera | CameraRejection:
    """Turn one surveillance object into a Camera, or into a rejection saying why it is not one."""
    kind, osm_id = _stable_ref(feature)
    camera_id = f"osm:{kind}{osm_id}"
    tags = feature.tags

    surveillance_type = tags.get("surveillance:type", "camera").strip().lower()
    if surveillance_type == "guard":
        reason = f"{camera_id}: surveillance:type=guard is a guard, not a camera"
        return CameraRejection(row=osm_id, reason=reason)
    if surveillance_type not in ("camera", "alpr"):
        return CameraRejection(
            row=osm_id, reason=f"{camera_id}: surveillance:type={surveillance_type[:40]} is not a camera"
        )

    if surveillance_type == "alpr":
        purpose = "lpr"
    else:
        purpose = (tags.get("surveillance") or tags.get("surveillance:zone") or "").strip().lower()

    name = next((tags[k].strip() for k in ("name", "ref", "operator") if tags.get(k, "").strip()), "")
    direction_tag = tags.get("camera:direction") or tags.get("direction")
    try:
        return Camera(
            id=camera_id,
            name=(name or f"OSM camera {osm_id}")[:_MAX_NAME],
            lon=feature.lon,
            lat=feature.lat,
            direction_deg=parse_osm_direction_deg(direction_tag) if direction_tag else None,
            ptz=_is_ptz(tags),
            purpose=purpose[:_MAX_PURPOSE],
            agency="centre",
            source=source,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return CameraRejection(row=osm_id, reason=f"{camera_id}: invalid camera ({problems})")


def parse_osm_direction_deg(value: str) -> float | None:
    """Degrees clockwise from north in [0, 360) for an OSM direction value, or None if it has no clear one."""
    text = value.strip()
    single = _single_direction_deg(text)
    if single is not None:
        return single
    match = _RANGE.match(text)
    if match is None:
        return None
    start = _single_direction_deg(match.group(1).strip())
    end = _single_direction_deg(match.group(2).strip())
    if start is None or end is None:
        return None
    return _normalise_deg(start + ((end - start) % 360.0) / 2.0)


def _single_direction_deg(text: str) -> float | None:
    compass = _COMPASS_DEG.get(text.upper())
    if compass is not None:
        return compass
    try:
        deg = float(_DEGREE_SUFFIX.sub("", text))
    except ValueError:
        return None
    return _normalise_deg(deg) if math.isfinite(deg) else None


def _normalise_deg(deg: float) -> float:
    wrapped = deg % 360.0
    # A tiny negative number wraps to exactly 360.0, which is north.
    return 0.0 if wrapped >= 360.0 else wrapped + 0.0


def _is_ptz(tags: dict[str, str]) -> bool:
    if tags.get("camera:type", "").strip().lower() in _PTZ_CAMERA_TYPES:
        return True
    if tags.get("revolving", "").strip().lower() == "yes":
        return True
    zoom = tags.get("surveillance:zoom", "").strip().lower()
    return bool(zoom) and zoom not in _FALSEY


def _stable_ref(feature: OsmFeature) -> tuple[str, int]:
    original_id = feature.tags.get("@id", "").strip()
    original_kind = {"node": "n", "way": "w"}.get(feature.tags.get("@type", "").strip())
    if original_kind and original_id.isdigit():
        return original_kind, int(original_id)
    return feature.kind, feature.osm_id


def _read_features(path: Path) -> list[OsmFeature | CameraRejection]:
    """The surveillance objects in file order; the ones that cannot be placed at all come as rejections."""
    read: list[OsmFeature | CameraRejection] = []
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION)
        .with_locations()
        .with_filter(osmium.filter.TagFilter(("man_made", "surveillance")))
    )
    for obj in processor:
        if isinstance(obj, osmium.osm.Node):
            if obj.location.valid():
                tags = {tag.k: tag.v for tag in obj.tags}
                read.append(OsmFeature("n", obj.id, tags, obj.location.lon, obj.location.lat))
            else:
                reason = f"osm:n{obj.id}: node has no valid location"
                read.append(CameraRejection(row=obj.id, reason=reason))
        elif isinstance(obj, osmium.osm.Way):
            centre = way_centre(obj)
            if centre is None:
                _log.debug("way %d has no node location in the file; skipped", obj.id)
            else:
                tags = {tag.k: tag.v for tag in obj.tags}
                read.append(OsmFeature("w", obj.id, tags, *centre))
        elif isinstance(obj, osmium.osm.Relation):
            reason = f"osm:r{obj.id}: a relation is not supported as a camera; tag a node instead"
            read.append(CameraRejection(row=obj.id, reason=reason))
    return read
