"""Fire stations, police stations and hospitals read from the real OSM extracts."""

from __future__ import annotations

from collections import Counter

from citylink.adapters.osm_facilities import read_facilities
from citylink.domain.facilities import FacilityKind
from tests.conftest import data_file


def test_montevideo_has_its_fire_stations_police_and_hospitals() -> None:
    facilities = read_facilities(data_file("montevideo-drive.osm.pbf"))
    assert Counter(f.kind for f in facilities) == {FacilityKind.POLICE: 36, FacilityKind.HOSPITAL: 35,
                                                   FacilityKind.FIRE: 4}
    by_id = {f.id: f for f in facilities}
    assert len(by_id) == len(facilities)  # ids are unique
    station = by_id["osm:w81799043"]  # a building outline: placed at the mean of its nodes
    assert (station.kind, station.name) == (FacilityKind.FIRE, "Cuartel de Bomberos")
    assert -56.19 < station.lon < -56.17 and -34.91 < station.lat < -34.89


def test_a_facility_without_a_name_is_named_by_kind_and_id() -> None:
    unnamed = [f for f in read_facilities(data_file("montevideo-drive.osm.pbf")) if f.id == "osm:n1818956990"]
    assert [f.name for f in unnamed] == ["fire osm:n1818956990"]


def test_central_helsinki_extract_has_none() -> None:
    assert read_facilities(data_file("helsinki.osm.pbf")) == []
