"""The board's base map, drawn from the city's own OSM extract: no tile server on a closed network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import osmium

_ROAD_CLASSES = frozenset({
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential", "living_street",
    "service", "road", "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link",
    "pedestrian", "footway", "cycleway", "path", "steps",
})
_WATER = frozenset({"water", "bay", "wetland"})
_PARKS = frozenset({"park", "garden", "playground", "pitch"})
_GREEN_LANDUSE = frozenset({"grass", "forest", "meadow", "cemetery", "recreation_ground", "village_green"})


@dataclass(frozen=True, slots=True)
class Basemap:
    geojson: dict[str, Any]
    bbox: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat


def _kind(tags: osmium.osm.TagList) -> tuple[str, str] | None:
    highway = tags.get("highway")
    if highway in _ROAD_CLASSES and tags.get("area") != "yes":
        return "road", str(highway)
    railway = tags.get("railway")
    if railway in ("rail", "tram", "subway", "light_rail"):
        return "rail", str(railway)
    if "building" in tags:
        return "building", ""
    if tags.get("natural") in _WATER or tags.get("waterway") == "riverbank" or tags.get("landuse") == "basin":
        return "water", ""
    if tags.get("leisure") in _PARKS or tags.get("landuse") in _GREEN_LANDUSE:
        return "park", ""
    return None


def _coords(way: osmium.osm.Way) -> list[list[float]]:
    # The extract is clipped: a way may reference nodes outside it; those positions are simply skipped.
    return [[round(n.lon, 6), round(n.lat, 6)] for n in way.nodes if n.location.valid()]


def load_basemap(path: Path) -> Basemap:
    """Roads and rail as lines; buildings, water and parks as polygons (closed ways and multipolygons)."""
    features: list[dict[str, Any]] = []
    lons: list[float] = []
    lats: list[float] = []
    for obj in osmium.FileProcessor(str(path)).with_locations().with_areas():
        if isinstance(obj, osmium.osm.Node):
            if obj.location.valid():
                lons.append(obj.location.lon)
                lats.append(obj.location.lat)
            continue
        kind = _kind(obj.tags)
        if kind is None:
            continue
        props = {"kind": kind[0], "class": kind[1], "name": obj.tags.get("name", "")}
        if isinstance(obj, osmium.osm.Way) and kind[0] in ("road", "rail"):
            line = _coords(obj)
            if len(line) >= 2:
                features.append({"type": "Feature", "properties": props,
                                 "geometry": {"type": "LineString", "coordinates": line}})
        elif isinstance(obj, osmium.osm.Area) and kind[0] not in ("road", "rail"):
            for outer in obj.outer_rings():
                ring = [[round(n.lon, 6), round(n.lat, 6)] for n in outer if n.location.valid()]
                if len(ring) >= 4:
                    features.append({"type": "Feature", "properties": props,
                                     "geometry": {"type": "Polygon", "coordinates": [ring]}})
    if not lons:
        raise ValueError(f"{path} has no nodes with a location")
    bbox = (min(lons), min(lats), max(lons), max(lats))
    return Basemap({"type": "FeatureCollection", "features": features}, bbox)
