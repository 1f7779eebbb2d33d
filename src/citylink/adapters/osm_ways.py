"""Shared by the OSM readers: where to put a point for something mapped as a way or a multipolygon (a building,
an area)."""

from __future__ import annotations

import osmium


def way_centre(way: osmium.osm.Way) -> tuple[float, float] | None:
    """The mean of the way's located nodes; None when the clipped extract has none of them."""
    refs = list(way.nodes)
    if len(refs) > 1 and refs[0].ref == refs[-1].ref:
        refs = refs[:-1]  # a closed ring repeats its first node
    points = [(ref.lon, ref.lat) for ref in refs if ref.location.valid()]
    if not points:
        return None
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def area_centre(area: osmium.osm.Area) -> tuple[float, float] | None:
    """The mean of the located nodes of a multipolygon's outer rings; None when the extract has none of them."""
    points = []
    for ring in area.outer_rings():
        refs = list(ring)
        if len(refs) > 1 and refs[0].ref == refs[-1].ref:
            refs = refs[:-1]
        points += [(ref.lon, ref.lat) for ref in refs if ref.location.valid()]
    if not points:
        return None
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)
