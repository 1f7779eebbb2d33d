"""Reading cameras from Korean CCTV standard-data CSV: the real Seoul file, encodings and broken files."""

from __future__ import annotations

import csv
import logging
import re
from collections import Counter
from pathlib import Path

import pytest

from citylink.adapters.camera_import import CameraImportError, ImportResult, read_cameras
from citylink.adapters.kr_cctv_csv import parse_facing, read_kr_cctv_csv
from citylink.domain.cameras import Camera
from tests.conftest import data_file

FIXTURES = Path(__file__).parent / "fixtures"
REQUIRED = ("관리기관명", "소재지도로명주소", "소재지지번주소", "카메라대수", "WGS84위도", "WGS84경도")
HEADER = (
    "관리기관명,소재지도로명주소,소재지지번주소,카메라대수,보관일수,관리기관전화번호,WGS84위도,WGS84경도\n"
)
A_ROW = (
    "서울특별시 강남구청,서울특별시 강남구 테헤란로 152,서울특별시 강남구 역삼동 737,"
    "4,30,02-000-0000,37.500622,127.036456\n"
)


def _by_id(result: ImportResult) -> dict[str, Camera]:
    return {camera.id: camera for camera in result.cameras}


def _count_in_name(camera: Camera) -> int:
    match = re.search(r" · (\d+) cameras? · ", camera.name)
    assert match, camera.name
    return int(match.group(1))


@pytest.fixture(scope="module")
def seoul() -> ImportResult:
    return read_kr_cctv_csv(data_file("seoul-cctv.csv"))


def test_seoul_imports_all_but_the_exact_duplicate(seoul: ImportResult) -> None:
    assert len(seoul.cameras) == 1762
    assert [(r.row, r.reason) for r in seoul.rejected] == [(483, "exact duplicate of row 482")]
    assert seoul.source == "kr_cctv:seoul-cctv.csv"


def test_seoul_keeps_every_camera_count(seoul: ImportResult) -> None:
    # 4,742 cameras in the file, minus the 1 on the duplicated row.
    assert sum(_count_in_name(camera) for camera in seoul.cameras) == 4741


def test_seoul_cameras_sharing_coordinates_stay_distinct(seoul: ImportResult) -> None:
    ids = [camera.id for camera in seoul.cameras]
    assert len(set(ids)) == len(ids)
    per_position = Counter((camera.lat, camera.lon) for camera in seoul.cameras)
    shared = {position: n for position, n in per_position.items() if n > 1}
    assert (len(shared), sum(shared.values())) == (18, 36)


def test_seoul_ids_are_the_same_on_reimport(seoul: ImportResult) -> None:
    again = read_kr_cctv_csv(data_file("seoul-cctv.csv"))
    assert [camera.id for camera in again.cameras] == [camera.id for camera in seoul.cameras]
    assert all(re.fullmatch(r"kr:[0-9a-f]{16}", camera.id) for camera in seoul.cameras)


def test_seoul_cameras_are_in_gangnam_and_named_by_address(seoul: ImportResult) -> None:
    for camera in seoul.cameras:
        assert 37.46 <= camera.lat <= 37.533 and 127.018 <= camera.lon <= 127.123
        assert camera.agency == "centre"
        assert camera.direction_deg is None and not camera.ptz
    city_hall = next(camera for camera in seoul.cameras if camera.name.endswith("서울특별시 시청"))
    # Its road address is empty, so the lot-number address names it.
    assert city_hall.name == "서울특별시 강남구 율현동 116번지 · 1 camera · 서울특별시 시청"


def test_phone_numbers_appear_neither_in_cameras_nor_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    path = data_file("seoul-cctv.csv")
    with path.open(encoding="utf-8", newline="") as file:
        phones = {record["관리기관전화번호"] for record in csv.DictReader(file)}
    assert phones and all(len(phone) >= 8 for phone in phones)
    with caplog.at_level(logging.DEBUG):
        result = read_kr_cctv_csv(path)
    dumped = " ".join(camera.model_dump_json() for camera in result.cameras) + caplog.text
    assert caplog.text
    assert not any(phone in dumped for phone in phones)


def test_cp949_file_with_optional_columns() -> None:
    result = read_kr_cctv_csv(FIXTURES / "kr_cctv_cp949.csv")
    cameras = _by_id(result)
    tehran = cameras["kr:3220000-CCTV-0001"]
    assert tehran.name == "서울특별시 강남구 테헤란로 152 · 4 cameras · 서울특별시 강남구청"
    assert tehran.purpose == "생활방범 (crime prevention)"
    assert tehran.ptz and tehran.direction_deg is None  # 360도 전방면
    assert cameras["kr:3220000-CCTV-0002"].direction_deg == 90.0  # 동측
    assert cameras["kr:3220000-CCTV-0003"].direction_deg == 315.0  # 북서쪽
    assert cameras["kr:3220000-CCTV-0004"].direction_deg is None  # 동측, 서측: two directions
    assert cameras["kr:3220000-CCTV-0004"].purpose == "재난재해 (disaster monitoring)"
    # No 관리번호 on row 12, and a Korean one on row 13: both get hash ids.
    hashed = [camera for camera_id, camera in cameras.items() if not camera_id.startswith("kr:3220000-")]
    assert len(hashed) == 2 and all(re.fullmatch(r"kr:[0-9a-f]{16}", camera.id) for camera in hashed)
    assert sorted(camera.purpose for camera in hashed) == [
        "시설물관리 (facility management)",
        "쓰레기단속 (illegal dumping enforcement)",
    ]
    assert len(result.cameras) == 6


def test_cp949_file_rejections_name_the_row_and_the_reason() -> None:
    result = read_kr_cctv_csv(FIXTURES / "kr_cctv_cp949.csv")
    assert {r.row: r.reason for r in result.rejected} == {
        6: "latitude and longitude look swapped (latitude 127.0473, longitude 37.5172)",
        7: "missing latitude (WGS84위도 is empty)",
        8: "unparseable latitude '37.5x' (WGS84위도 is not a number)",
        9: "coordinates (35.6762, 139.6503) lie outside South Korea (lat 33–38.7, lon 124.5–132)",
        10: "exact duplicate of row 3",
        11: "관리번호 repeats row 3 with other values",
        14: "카메라대수 is 0: no camera at this site",
        15: "coordinates (0.0, 0.0) hold a zero placeholder, not a position",
        16: "coordinates out of range: latitude 91.5 is not within ±90; longitude 200.1 is not within ±180",
    }


def test_utf8_bom_file_rows_are_spreadsheet_rows() -> None:
    result = read_kr_cctv_csv(FIXTURES / "kr_cctv_bom.csv")
    # Row 3 holds a line break inside a quoted address, so the next record starts on line 5.
    assert {r.row: r.reason for r in result.rejected} == {
        5: "unparseable latitude 'abc' (WGS84위도 is not a number)",
        6: "has 5 fields, the header has 8",
    }
    names = [camera.name for camera in result.cameras]
    assert names[0] == "서울특별시 강남구 테헤란로 152 · 4 cameras · 서울특별시 강남구청"
    assert names[1] == "서울특별시 강남구 학동로 426 (강남구청 정문) · 2 cameras · 서울특별시 강남구청"
    assert len(result.cameras) == 6


def test_records_at_one_spot_that_differ_get_distinct_stable_ids() -> None:
    result = read_kr_cctv_csv(FIXTURES / "kr_cctv_bom.csv")
    at_spot = [camera for camera in result.cameras if (camera.lat, camera.lon) == (37.5125, 127.0587)]
    assert [_count_in_name(camera) for camera in at_spot] == [1, 3, 5]
    assert len({camera.id for camera in at_spot}) == 3
    # Rows 8 and 10 agree on agency, position and addresses, so the later one gets a suffix.
    assert at_spot[2].id == f"{at_spot[0].id}-2"
    again = read_kr_cctv_csv(FIXTURES / "kr_cctv_bom.csv")
    assert [camera.id for camera in again.cameras] == [camera.id for camera in result.cameras]


def test_same_rows_give_same_ids_in_any_encoding(tmp_path: Path) -> None:
    text = HEADER + A_ROW
    ids = set()
    for encoding in ("utf-8", "utf-8-sig", "cp949", "euc-kr", "utf-16"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        (camera,) = read_kr_cctv_csv(path).cameras
        ids.add(camera.id)
        assert camera.name.startswith("서울특별시 강남구 테헤란로 152")
    assert len(ids) == 1


def test_header_only_file_imports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text(HEADER, encoding="utf-8")
    result = read_kr_cctv_csv(path)
    assert (result.cameras, result.rejected) == ([], [])


def test_short_column_names_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    header = HEADER.replace("WGS84위도", "위도").replace("WGS84경도", "경도")
    path.write_text(header + A_ROW, encoding="utf-8")
    assert len(read_kr_cctv_csv(path).cameras) == 1


@pytest.mark.parametrize(
    ("facing", "expected"),
    [
        ("360도 전방면", (True, None)),
        ("회전형", (True, None)),
        ("동측", (False, 90.0)),
        ("북서", (False, 315.0)),
        ("남동방향", (False, 135.0)),
        ("45도", (False, 45.0)),
        ("동측 / 서측", (False, None)),
        ("정문", (False, None)),
        ("", (False, None)),
    ],
)
def test_facing_text(facing: str, expected: tuple[bool, float | None]) -> None:
    assert parse_facing(facing) == expected


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("name,lat,lon\ncam,37.5,127.0\n", encoding="utf-8")
    with pytest.raises(CameraImportError, match="missing required column") as caught:
        read_kr_cctv_csv(path)
    assert all(column in str(caught.value) for column in REQUIRED)


def test_one_missing_column_is_named_alone(tmp_path: Path) -> None:
    path = tmp_path / "no-lon.csv"
    path.write_text(HEADER.replace(",WGS84경도", "") + A_ROW, encoding="utf-8")
    with pytest.raises(CameraImportError, match=r"missing required column\(s\) WGS84경도;"):
        read_kr_cctv_csv(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n  \r\n", "is empty"),
        (bytes(range(256)) * 16, "binary file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"\xfd\x80\x81\xfe\xff\xc0" * 50, "not CSV text"),
        (b"\xff\xfe\xfd\x80\x81\xfe\xff" * 50, "not CSV text"),
        (b"\x1b[31m\x07\x08,\x01\x02\n", "not CSV text"),
        (b",,,\n,,\n", "no header row"),
    ],
)
def test_files_that_cannot_be_read_raise_camera_import_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CameraImportError, match=message):
        read_kr_cctv_csv(path)


def test_missing_file_raises_camera_import_error(tmp_path: Path) -> None:
    with pytest.raises(CameraImportError, match="no such file"):
        read_kr_cctv_csv(tmp_path / "nowhere.csv")


def test_read_cameras_dispatches_csv() -> None:
    result = read_cameras(FIXTURES / "kr_cctv_bom.csv")
    assert result.source == "kr_cctv:kr_cctv_bom.csv"
    assert len(result.cameras) == 6
