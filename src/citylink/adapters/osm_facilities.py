"""Fire stations, police stations and hospitals, and the hydrants and hazards a fire crew needs to know
about, from an OpenStreetMap file, read with pyosmium.

``amenity=fire_station`` → fire, ``amenity=police`` → police, ``amenity=hospital`` → hospital. A node is
its location; a way (a building outline or a site) or a multipolygon relation (a building with courtyards) is
the mean of its (outer) node locations that are in the file (extracts are clipped; one with none left is
skipped). Ids are ``osm:n<id>`` / ``osm:w<id>`` / ``osm:r<id>``, taken from
the ``@id``/``@type`` tags when the file carries them (files rebuilt from OSM QA tiles have synthetic object
ids). Name: ``name``, else ``official_name``, else ``operator``, else "<kind> <id>".

Scene features: ``emergency=fire_hydrant``; ``emergency=suction_point|water_tank|fire_water_pond`` (water
sources); ``amenity=fuel``; ``man_made=storage_tank`` and ``man_made=gasometer``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import osmium

from citylink.adapters.osm_ways import area_centre, way_centre
from citylink.domain.facilities import Facility, FacilityKind, HazardKind, SceneFeature

_KINDS = {"fire_station": FacilityKind.FIRE, "police": FacilityKind.POLICE, "hospital": FacilityKind.HOSPITAL}
_HAZARDS = {
    ("emergency", "fire_hydrant"): HazardKind.FIRE_HYDRANT,
    ("emergency", "suction_point"): HazardKind.WATER_SOURCE,
    ("emergency", "water_tank"): HazardKind.WATER_SOURCE,
    ("emergency", "fire_water_pond"): HazardKind.WATER_SOURCE,
    ("amenity", "fuel"): HazardKind.FUEL_STATION,
    ("man_made", "storage_tank"): HazardKind.STORAGE_TANK,
    ("man_made", "gasometer"): HazardKind.GAS_HOLDER,
}
_OSM_TYPES = {"node": "n", "way": "w", "relation": "r", "n": "n", "w": "w", "r": "r"}


def read_facilities(path: Path) -> list[Facility]:
    """Every fire station, police station and hospital in the file, in file order."""
    return [_facility(t, i, tags, lon, lat)
            for t, i, tags, lon, lat in _placed(path, [("amenity", value) for value in _KINDS])]


def read_scene_features(path: Path) -> list[SceneFeature]:
    """Every hydrant, water source, fuel station, storage tank and gas holder in the file, in file order."""
    found = []
    for osm_type, osm_id, tags, lon, lat in _placed(path, list(_HAZARDS)):
        kind = next(k for (key, value), k in _HAZARDS.items() if tags.get(key) == value)
        fid = _osm_id(osm_type, osm_id, tags)
        found.append(SceneFeature(fid, kind, tags.get("name") or tags.get("ref") or "", lon, lat))
    return found


def _placed(path: Path, tags: list[tuple[str, str]]) -> Iterator[tuple[str, int, dict[str, str], float, float]]:
    """(osm type, id, tags, lon, lat) of the nodes, ways and multipolygons with one of the tags that can be placed."""
    processor = osmium.FileProcessor(str(path)).with_areas().with_filter(osmium.filter.TagFilter(*tags))
    for obj in processor:
        if isinstance(obj, osmium.osm.Node):
            if obj.location.valid():
                yield "n", obj.id, dict(obj.tags), obj.location.lon, obj.location.lat
        elif isinstance(obj, osmium.osm.Way):
            centre = way_centre(obj)
            if centre is not None:
                yield "w", obj.id, dict(obj.tags), *centre
        elif isinstance(obj, osmium.osm.Area) and not obj.from_way():  # a closed way was placed as a way
            centre = area_centre(obj)
            if centre is not None:
                yield "r", obj.orig_id(), dict(obj.tags), *centre


def _osm_id(osm_type: str, osm_id: int, tags: dict[str, str]) -> str:
    real_id = tags.get("@id", "")
    return f"osm:{_OSM_TYPES.get(tags.get('@type', ''), osm_type)}{real_id if real_id.isdigit() else osm_id}"


def _facility(osm_type: str, osm_id: int, tags: dict[str, str], lon: float, lat: float) -> Facility:
    kind = _KINDS[tags["amenity"]]
    fid = _osm_id(osm_type, osm_id, tags)
    name = tags.get("name") or tags.get("official_name") or tags.get("operator") or f"{kind.value} {fid}"
    return Facility(fid, kind, name, lon, lat)
