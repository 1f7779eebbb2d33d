"""Fire stations, police stations and hospitals from an OpenStreetMap file, read with pyosmium.

``amenity=fire_station`` → fire, ``amenity=police`` → police, ``amenity=hospital`` → hospital. A node is
its location; a way (a building outline or a site) is the mean of its node locations that are in the file
(extracts are clipped; a way with none left is skipped). Ids are ``osm:n<id>`` / ``osm:w<id>``, taken from
the ``@id``/``@type`` tags when the file carries them (files rebuilt from OSM QA tiles have synthetic object
ids). Name: ``name``, else ``official_name``, else ``operator``, else "<kind> <id>".
"""

from __future__ import annotations

from pathlib import Path

import osmium

from citylink.adapters.osm_ways import way_centre
from citylink.domain.facilities import Facility, FacilityKind

_KINDS = {"fire_station": FacilityKind.FIRE, "police": FacilityKind.POLICE, "hospital": FacilityKind.HOSPITAL}
_OSM_TYPES = {"node": "n", "way": "w", "n": "n", "w": "w"}


def read_facilities(path: Path) -> list[Facility]:
    """Every fire station, police station and hospital in the file, in file order."""
    found: list[Facility] = []
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.TagFilter(*(("amenity", value) for value in _KINDS)))
    )
    for obj in processor:
        if isinstance(obj, osmium.osm.Node):
            if obj.location.valid():
                found.append(_facility("n", obj.id, dict(obj.tags), obj.location.lon, obj.location.lat))
        elif isinstance(obj, osmium.osm.Way):
            centre = way_centre(obj)
            if centre is not None:
                found.append(_facility("w", obj.id, dict(obj.tags), *centre))
    return found


def _facility(osm_type: str, osm_id: int, tags: dict[str, str], lon: float, lat: float) -> Facility:
    kind = _KINDS[tags["amenity"]]
    real_id = tags.get("@id", "")
    fid = f"osm:{_OSM_TYPES.get(tags.get('@type', ''), osm_type)}{real_id if real_id.isdigit() else osm_id}"
    name = tags.get("name") or tags.get("official_name") or tags.get("operator") or f"{kind.value} {fid}"
    return Facility(fid, kind, name, lon, lat)
