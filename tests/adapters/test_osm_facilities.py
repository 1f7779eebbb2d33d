"""Fire stations, police stations and hospitals, and hydrants and hazards, read from the real OSM extracts."""

from __future__ import annotations

from collections import Counter

from citylink.adapters.osm_facilities import read_facilities, read_scene_features
from citylink.domain.facilities import FacilityKind, HazardKind
from citylink.geo.distance import haversine_m
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


def test_a_station_mapped_as_a_multipolygon_is_placed_at_its_outer_ring() -> None:
    [station] = read_facilities(data_file("helsinki.osm.pbf"))  # central Helsinki: one fire station, no others
    assert (station.id, station.kind, station.name) == ("osm:r167018", FacilityKind.FIRE, "Erottajan paloasema")
    assert haversine_m(station.lon, station.lat, 24.94516, 60.16515) < 30  # its building's centroid


def test_hydrants_and_hazards_are_read_with_their_kind() -> None:
    features = read_scene_features(data_file("helsinki.osm.pbf"))
    assert Counter(f.kind for f in features) == {HazardKind.FIRE_HYDRANT: 37}
    assert len({f.id for f in features}) == 37 and all(f.id.startswith("osm:n") for f in features)
