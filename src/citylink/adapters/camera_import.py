"""Camera registry imports: the shared result type, the import error and a dispatcher on file type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from citylink.domain.cameras import Camera, CameraRejection

OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm")
CSV_SUFFIXES = (".csv",)


class CameraImportError(Exception):
    """The file cannot be imported at all: missing, unreadable, unknown type or no recognisable header."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What one import produced: the cameras to upsert and the input records it refused."""

    cameras: list[Camera]
    rejected: list[CameraRejection]
    source: str


def read_cameras(path: Path) -> ImportResult:
    """Read cameras from an OSM file (``.osm.pbf``, ``.pbf``, ``.osm``) or a Korean CCTV CSV (``.csv``).

    Raises CameraImportError for any other suffix and for files that cannot be read at all.
    """
    # Imported here, not at the top: both readers import ImportResult and CameraImportError from this module.
    from citylink.adapters.kr_cctv_csv import read_kr_cctv_csv
    from citylink.adapters.osm_cameras import read_osm_cameras

    name = path.name.lower()
    if name.endswith(OSM_SUFFIXES):
        return read_osm_cameras(path)
    if name.endswith(CSV_SUFFIXES):
        return read_kr_cctv_csv(path)
    supported = ", ".join((*OSM_SUFFIXES, *CSV_SUFFIXES))
    raise CameraImportError(f"unsupported file type {path.name!r}: expected one of {supported}")
