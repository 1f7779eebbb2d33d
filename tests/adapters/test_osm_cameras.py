"""Reading cameras from OSM files: the real Helsinki and Montevideo extracts and a synthetic XML fixture."""

from __future__ import annotations

from pathlib import Path

import osmium
import pytest

from citylink.adapters.camera_import import CameraImportError, ImportResult, read_cameras
from citylink.adapters.osm_cameras import parse_osm_direction_deg, read_osm_cameras
from citylink.domain.cameras import Camera
from tests.conftest import data_file

FIXTURES = Path(__file__).parent / "fixtures"


def _by_id(result: ImportResult) -> dict[str, Camera]:
    return {camera.id: camera for camera in result.cameras}


@pytest.fixture(scope="module")
def helsinki() -> ImportResult:
    return read_osm_cameras(data_file("helsinki.osm.pbf"))


@pytest.fixture(scope="module")
def fixture_cameras() -> ImportResult:
    return read_osm_cameras(FIXTURES / "cameras.osm")


def test_helsinki_has_221_cameras_and_nothing_rejected(helsinki: ImportResult) -> None:
    assert len(helsinki.cameras) == 221
    assert helsinki.rejected == []
    assert helsinki.source == "osm:helsinki.osm.pbf"
    assert all(camera.agency == "centre" and camera.source == helsinki.source for camera in helsinki.cameras)


def test_helsinki_cameras_lie_in_the_extract(helsinki: ImportResult) -> None:
    for camera in helsinki.cameras:
        assert 60.1641550 <= camera.lat <= 60.1791130
        assert 24.9351762 <= camera.lon <= 24.9534145


def test_helsinki_ids_are_node_ids_and_stable_across_reads(helsinki: ImportResult) -> None:
    again = read_osm_cameras(data_file("helsinki.osm.pbf"))
    ids = [camera.id for camera in helsinki.cameras]
    assert ids == [camera.id for camera in again.cameras]
    assert len(set(ids)) == 221
    assert all(camera_id.startswith("osm:n") for camera_id in ids)
    assert "osm:n256257146" in ids


def test_helsinki_cameras_have_no_direction(helsinki: ImportResult) -> None:
    assert all(camera.direction_deg is None for camera in helsinki.cameras)


def test_helsinki_revolving_and_dome_cameras_are_ptz(helsinki: ImportResult) -> None:
    revolving: set[str] = set()
    dome: set[str] = set()
    for node in osmium.FileProcessor(str(data_file("helsinki.osm.pbf")), osmium.osm.NODE):
        if node.tags.get("man_made") != "surveillance":
            continue
        if node.tags.get("revolving") == "yes":
            revolving.add(f"osm:n{node.id}")
        if node.tags.get("camera:type") == "dome":
            dome.add(f"osm:n{node.id}")
    assert (len(revolving), len(dome)) == (34, 6)
    ptz = {camera.id for camera in helsinki.cameras if camera.ptz}
    assert ptz == revolving | dome


def test_montevideo_has_4_cameras_with_their_original_osm_ids() -> None:
    result = read_osm_cameras(data_file("montevideo-drive.osm.pbf"))
    cameras = _by_id(result)
    assert set(cameras) == {"osm:n5005931725", "osm:n5063024622", "osm:n921910981", "osm:n921911116"}
    assert result.rejected == []
    assert sorted(camera.purpose for camera in cameras.values()) == ["", "", "outdoor", "outdoor"]
    assert all(-34.96 < camera.lat < -34.81 and -56.34 < camera.lon < -55.98 for camera in cameras.values())


@pytest.mark.parametrize(
    ("camera_id", "direction_deg"),
    [
        ("osm:n1", 90.0),  # camera:direction=90
        ("osm:n2", 45.0),  # direction=NE
        ("osm:n3", 67.5),  # camera:direction=ene wins over direction=180
        ("osm:n4", 135.0),  # range 90-180
        ("osm:n5", 0.0),  # range 350-10 wraps through north
        ("osm:n6", None),  # direction=forward
        ("osm:n7", 315.0),  # -45
        ("osm:n9", 270.0),  # 270°
        ("osm:n12", None),  # 90;270 is two directions
        ("osm:n13", None),  # "somewhere"
        ("osm:w101", 180.0),  # S
    ],
)
def test_direction_tags_in_several_forms(
    fixture_cameras: ImportResult, camera_id: str, direction_deg: float | None
) -> None:
    assert _by_id(fixture_cameras)[camera_id].direction_deg == direction_deg


def test_ptz_purpose_and_name_from_tags(fixture_cameras: ImportResult) -> None:
    cameras = _by_id(fixture_cameras)
    assert {camera_id for camera_id, camera in cameras.items() if camera.ptz} == {
        "osm:n10",
        "osm:n11",
        "osm:n13",
    }
    assert cameras["osm:n9"].purpose == "lpr"
    assert cameras["osm:n10"].purpose == "public"
    assert cameras["osm:n12"].purpose == "indoor"
    assert cameras["osm:n10"].name == "Kauppatori dome"
    assert cameras["osm:n11"].name == "CAM-11"
    assert cameras["osm:n12"].name == "HSL"
    assert cameras["osm:n1"].name == "OSM camera 1"


def test_way_cameras_sit_at_the_centre_of_the_nodes_in_the_file(fixture_cameras: ImportResult) -> None:
    cameras = _by_id(fixture_cameras)
    yard = cameras["osm:w100"]
    assert (yard.lon, yard.lat) == pytest.approx((24.9405, 60.1605))
    clipped = cameras["osm:w101"]  # two of its four nodes are missing from the file
    assert (clipped.lon, clipped.lat) == pytest.approx((24.9460, 60.1655))
    assert "osm:w102" not in cameras  # none of its nodes is in the file: skipped quietly
    assert not any(reason.row == 102 for reason in fixture_cameras.rejected)


def test_guards_and_other_non_cameras_are_rejected_with_a_reason(fixture_cameras: ImportResult) -> None:
    reasons = {rejection.row: rejection.reason for rejection in fixture_cameras.rejected}
    assert set(reasons) == {8, 14, 200}
    assert "guard" in reasons[8] and "not a camera" in reasons[8]
    assert "microphone" in reasons[14]
    assert "relation" in reasons[200]
    assert len(fixture_cameras.cameras) == 14


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("360", 0.0),
        ("N", 0.0),
        ("nnw", 337.5),
        ("SW-W", 247.5),
        ("90 °", 90.0),
        ("", None),
        ("nan", None),
    ],
)
def test_parse_osm_direction_deg(value: str, expected: float | None) -> None:
    assert parse_osm_direction_deg(value) == expected


def test_read_cameras_dispatches_osm_suffixes(tmp_path: Path) -> None:
    assert len(read_cameras(FIXTURES / "cameras.osm").cameras) == 14
    assert len(read_cameras(data_file("helsinki.osm.pbf")).cameras) == 221


def test_unreadable_osm_files_raise_camera_import_error(tmp_path: Path) -> None:
    with pytest.raises(CameraImportError, match="no such file"):
        read_cameras(tmp_path / "missing.osm.pbf")
    garbage = tmp_path / "garbage.osm.pbf"
    garbage.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CameraImportError, match="cannot read OSM file"):
        read_cameras(garbage)
    broken_xml = tmp_path / "broken.osm"
    broken_xml.write_text("<osm><node id='1' lat='60.1' lon=", encoding="utf-8")
    with pytest.raises(CameraImportError, match="cannot read OSM file"):
        read_cameras(broken_xml)
    empty = tmp_path / "empty.osm"
    empty.write_bytes(b"")
    with pytest.raises(CameraImportError):
        read_cameras(empty)


def test_unsupported_suffix_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cameras.geojson"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(CameraImportError, match="unsupported file type"):
        read_cameras(path)
