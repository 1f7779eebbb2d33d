"""Cameras from the Korean national CCTV standard open data (전국CCTV표준데이터) as CSV.

Decisions:

- Encoding: a UTF-8 or UTF-16 byte-order mark decides; otherwise strict UTF-8, then strict CP949 (a
  superset of EUC-KR). A file with NUL bytes, or that decodes as neither, is not CSV text.
- Rows: ``CameraRejection.row`` is the spreadsheet row number, the 1-based line of the file on which
  the record starts, so the header is row 1 and the first record row 2.
- One site, one camera: a record is one installation site and 카메라대수 cameras on it see the same
  place, so each record becomes one registry camera whose name carries the count.
- Ids: ``kr:<관리번호>`` when that column is filled; otherwise ``kr:`` and a hash of the agency, the
  coordinates rounded to 1e-6° and both addresses, so a re-import updates the same cameras. Records that
  differ but agree on all of those get ``-2``, ``-3`` … in file order. An exact duplicate is rejected.
- Coordinates must lie in South Korea (lat 33–38.7, lon 124.5–132); swapped ones are rejected as
  swapped, not repaired.
- ptz and direction come from 촬영방면정보: "360도", "전방위", "회전" mean PTZ; a single compass word
  (동측, 북서쪽, 남동방향 …) or "<n>도" gives the direction. Several directions give none.

Nothing from a row is logged: the rows hold agency phone numbers.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from citylink.adapters.camera_import import CameraImportError, ImportResult
from citylink.domain.cameras import Camera, CameraRejection

_log = logging.getLogger(__name__)

COL_AGENCY = "관리기관명"
COL_ROAD_ADDRESS = "소재지도로명주소"
COL_LOT_ADDRESS = "소재지지번주소"
COL_CAMERA_COUNT = "카메라대수"
COL_LAT = "WGS84위도"
COL_LON = "WGS84경도"
COL_PURPOSE = "설치목적구분"
COL_FACING = "촬영방면정보"
COL_MANAGEMENT_NO = "관리번호"

REQUIRED_COLUMNS = (COL_AGENCY, COL_ROAD_ADDRESS, COL_LOT_ADDRESS, COL_CAMERA_COUNT, COL_LAT, COL_LON)
_COLUMN_ALIASES = {"위도": COL_LAT, "경도": COL_LON}

# (lat_min, lat_max, lon_min, lon_max): South Korea, from Marado to the DMZ and Baengnyeongdo to Dokdo.
KOREA_BBOX = (33.0, 38.7, 124.5, 132.0)

PURPOSE_EN = {
    "생활방범": "crime prevention",
    "방범": "crime prevention",
    "차량방범": "vehicle crime prevention",
    "교통단속": "traffic enforcement",
    "주정차단속": "parking enforcement",
    "불법주정차단속": "parking enforcement",
    "교통정보수집": "traffic information",
    "어린이보호": "child protection",
    "재난재해": "disaster monitoring",
    "산불감시": "wildfire watch",
    "시설물관리": "facility management",
    "쓰레기단속": "illegal dumping enforcement",
    "다목적": "multi-purpose",
    "기타": "other",
}

_COMPASS_KO_DEG = {
    "북": 0.0, "북동": 45.0, "동북": 45.0, "동": 90.0, "남동": 135.0, "동남": 135.0,
    "남": 180.0, "남서": 225.0, "서남": 225.0, "서": 270.0, "북서": 315.0, "서북": 315.0,
}  # fmt: skip
_FACING_SUFFIX = re.compile(r"(방면|방향|쪽|측|향)$")
_FACING_DEG = re.compile(r"^(\d{1,3}(?:\.\d+)?)\s*(도|°)$")
_FACING_SPLIT = re.compile(r"[,/·;、\s]+")
_PTZ_WORDS = ("360", "전방위", "전방면", "회전")
_COUNT = re.compile(r"^(\d+)\s*대?$")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,120}$")
_MAX_NAME = 256
_MAX_PURPOSE = 128
_MAX_SOURCE = 128


@dataclass(frozen=True, slots=True)
class _Record:
    row: int
    cells: dict[str, str]
    problem: str | None = None


def read_kr_cctv_csv(path: Path) -> ImportResult:
    """Read a Korean CCTV standard-data CSV. Bad rows are rejected one by one; the import goes on.

    Raises CameraImportError when the file is missing, unreadable, not text, or lacks required columns.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CameraImportError(f"no such file: {path}") from exc
    except OSError as exc:
        raise CameraImportError(f"cannot read {path.name!r}: {exc.strerror or exc}") from exc
    source = f"kr_cctv:{path.name}"[:_MAX_SOURCE]
    text = decode_csv_bytes(data, name=path.name)
    cameras, rejected = _map_records(_records(text, name=path.name), source=source)
    _log.info("%s: %d cameras imported, %d rejected", source, len(cameras), len(rejected))
    return ImportResult(cameras=cameras, rejected=rejected, source=source)


def decode_csv_bytes(data: bytes, *, name: str = "file") -> str:
    """Decode a CSV file's bytes: BOM first, then strict UTF-8, then strict CP949 (EUC-KR)."""
    if not data.strip():
        raise CameraImportError(f"{name!r} is empty")
    if data.startswith(codecs.BOM_UTF8):
        candidates: Sequence[str] = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)
    elif b"\x00" in data:
        raise CameraImportError(f"{name!r} is a binary file, not CSV text")
    else:
        candidates = ("utf-8", "cp949")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _CONTROL_CHARS.search(text.rstrip("\x1a")):  # a trailing Ctrl-Z is an old DOS end-of-file mark
            raise CameraImportError(f"{name!r} is not CSV text: it holds control characters")
        return text
    raise CameraImportError(f"{name!r} is not CSV text in UTF-8 or CP949/EUC-KR")


def _records(text: str, *, name: str) -> Iterator[_Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    next_line = 1
    header: list[str] | None = None
    try:
        for cells in reader:
            row, next_line = next_line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = _check_header(cells, name=name)
                continue
            if len(cells) > len(header) and not any(c.strip() for c in cells[len(header) :]):
                cells = cells[: len(header)]  # trailing empty fields, e.g. from a trailing comma
            if len(cells) != len(header):
                yield _Record(row, {}, problem=f"has {len(cells)} fields, the header has {len(header)}")
                continue
            yield _Record(row, {column: cell.strip() for column, cell in zip(header, cells, strict=True)})
    except csv.Error as exc:
        raise CameraImportError(f"{name!r} is not valid CSV near line {next_line}: {exc}") from exc
    if header is None:
        raise CameraImportError(f"{name!r} has no header row")


def _check_header(cells: list[str], *, name: str) -> list[str]:
    header = [_COLUMN_ALIASES.get(c, c) for c in (cell.strip().strip("\ufeff").strip() for cell in cells)]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        found = ", ".join(c[:30] for c in header[:12]) + (" …" if len(header) > 12 else "")
        raise CameraImportError(
            f"{name!r} is missing required column(s) {', '.join(missing)}; its header has: {found}"
        )
    repeated = sorted({c for c in header if c and header.count(c) > 1})
    if repeated:
        raise CameraImportError(f"{name!r} has repeated column(s) {', '.join(repeated)}")
    return header


def _map_records(records: Iterator[_Record], *, source: str) -> tuple[list[Camera], list[CameraRejection]]:
    cameras: list[Camera] = []
    rejected: list[CameraRejection] = []
    first_row_of: dict[tuple[str, ...], int] = {}
    row_of_management_no: dict[str, int] = {}
    base_id_uses: dict[str, int] = {}
    for record in records:
        if record.problem is not None:
            rejected.append(CameraRejection(row=record.row, reason=record.problem))
            continue
        content = tuple(record.cells.values())
        if content in first_row_of:
            reason = f"exact duplicate of row {first_row_of[content]}"
            rejected.append(CameraRejection(row=record.row, reason=reason))
            continue
        first_row_of[content] = record.row

        outcome = map_record(record.cells, source=source)
        if isinstance(outcome, str):
            rejected.append(CameraRejection(row=record.row, reason=outcome))
            continue
        management_no = record.cells.get(COL_MANAGEMENT_NO, "")
        if management_no:
            if management_no in row_of_management_no:
                first_row = row_of_management_no[management_no]
                reason = f"{COL_MANAGEMENT_NO} repeats row {first_row} with other values"
                rejected.append(CameraRejection(row=record.row, reason=reason))
                continue
            row_of_management_no[management_no] = record.row
        else:
            uses = base_id_uses.get(outcome.id, 0) + 1
            base_id_uses[outcome.id] = uses
            if uses > 1:
                outcome = outcome.model_copy(update={"id": f"{outcome.id}-{uses}"})
        cameras.append(outcome)
    return cameras, rejected


def map_record(cells: dict[str, str], *, source: str) -> Camera | str:
    """Map one record (column name to stripped value) to a Camera, or to the reason it is rejected."""
    lat_or_reason = _parse_coordinate(cells[COL_LAT], "latitude", COL_LAT)
    if isinstance(lat_or_reason, str):
        return lat_or_reason
    lon_or_reason = _parse_coordinate(cells[COL_LON], "longitude", COL_LON)
    if isinstance(lon_or_reason, str):
        return lon_or_reason
    lat, lon = lat_or_reason, lon_or_reason
    position_problem = _position_problem(lat, lon)
    if position_problem:
        return position_problem

    count = _parse_count(cells[COL_CAMERA_COUNT])
    if count == 0:
        return f"{COL_CAMERA_COUNT} is 0: no camera at this site"
    ptz, direction_deg = parse_facing(cells.get(COL_FACING, ""))
    try:
        return Camera(
            id=_camera_id(cells, lat=lat, lon=lon),
            name=_name(cells, count),
            lon=lon,
            lat=lat,
            direction_deg=direction_deg,
            ptz=ptz,
            purpose=purpose_label(cells.get(COL_PURPOSE, "")),
            agency="centre",
            source=source,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return f"invalid camera ({problems})"


def parse_facing(text: str) -> tuple[bool, float | None]:
    """(ptz, direction_deg) from 촬영방면정보 such as "360도 전방면", "동측" or "북서"."""
    compact = text.strip()
    if not compact:
        return False, None
    if any(word in compact for word in _PTZ_WORDS):
        return True, None
    directions: set[float] = set()
    for token in _FACING_SPLIT.split(compact):
        if not token:
            continue
        degrees = _FACING_DEG.match(token)
        if degrees:
            directions.add(float(degrees.group(1)) % 360.0)
            continue
        word = _FACING_SUFFIX.sub("", token)
        if word in _COMPASS_KO_DEG:
            directions.add(_COMPASS_KO_DEG[word])
        else:
            return False, None
    return False, directions.pop() if len(directions) == 1 else None


def purpose_label(korean: str) -> str:
    """The Korean purpose text with its English meaning where known: "생활방범 (crime prevention)"."""
    text = korean.strip()
    english = PURPOSE_EN.get(text.replace(" ", ""))
    return (f"{text} ({english})" if english else text)[:_MAX_PURPOSE]


def _parse_coordinate(text: str, axis: str, column: str) -> float | str:
    if not text:
        return f"missing {axis} ({column} is empty)"
    try:
        value = float(text)
    except ValueError:
        return f"unparseable {axis} {text[:20]!r} ({column} is not a number)"
    if not math.isfinite(value):
        return f"unparseable {axis} {text[:20]!r} ({column} is not a finite number)"
    return value


def _position_problem(lat: float, lon: float) -> str | None:
    lat_min, lat_max, lon_min, lon_max = KOREA_BBOX
    if lat_min <= lat <= lat_max and lon_min <= lon <= lon_max:
        return None
    if lat == 0.0 or lon == 0.0:
        return f"coordinates ({lat}, {lon}) hold a zero placeholder, not a position"
    if lat_min <= lon <= lat_max and lon_min <= lat <= lon_max:
        return f"latitude and longitude look swapped (latitude {lat}, longitude {lon})"
    out_of_range = [
        *([f"latitude {lat} is not within ±90"] if not -90.0 <= lat <= 90.0 else []),
        *([f"longitude {lon} is not within ±180"] if not -180.0 <= lon <= 180.0 else []),
    ]
    if out_of_range:
        return f"coordinates out of range: {'; '.join(out_of_range)}"
    return f"coordinates ({lat}, {lon}) lie outside South Korea (lat 33–38.7, lon 124.5–132)"


def _parse_count(text: str) -> int | None:
    """The number of cameras at the site, or None when the field is empty or unreadable."""
    match = _COUNT.match(text.replace(",", ""))
    return int(match.group(1)) if match else None


def _camera_id(cells: dict[str, str], *, lat: float, lon: float) -> str:
    management_no = cells.get(COL_MANAGEMENT_NO, "")
    if management_no and _SAFE_ID.match(management_no):
        return f"kr:{management_no}"
    if management_no:
        key = ["관리번호", management_no]
    else:
        key = [
            _squash(cells[COL_AGENCY]),
            f"{lat:.6f}",
            f"{lon:.6f}",
            _squash(cells[COL_ROAD_ADDRESS]),
            _squash(cells[COL_LOT_ADDRESS]),
        ]
    digest = hashlib.sha256("\x1f".join(key).encode("utf-8")).hexdigest()
    return f"kr:{digest[:16]}"


def _name(cells: dict[str, str], count: int | None) -> str:
    place = _squash(cells[COL_ROAD_ADDRESS]) or _squash(cells[COL_LOT_ADDRESS]) or "address unknown"
    parts = [place]
    if count is not None:
        parts.append(f"{count} camera{'s' if count != 1 else ''}")
    agency = _squash(cells[COL_AGENCY])
    if agency:
        parts.append(agency)
    return " · ".join(parts)[:_MAX_NAME]


def _squash(text: str) -> str:
    return " ".join(text.split())
