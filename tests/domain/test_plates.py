"""Plates as cameras read them, made comparable: Korean plates with and without their region, Latin plates with
the letters cameras confuse, and unreadable ones refused without repeating them."""

from __future__ import annotations

import pytest

from citylink.domain.plates import UnreadablePlate, parse_plate


@pytest.mark.parametrize(("raw", "text", "key", "region"), [
    ("12가3456", "12가3456", "12가3456", None),
    ("123가4567", "123가4567", "123가4567", None),
    ("서울12가3456", "서울12가3456", "12가3456", "서울"),
    (" 서울 12가-3456 ", "서울12가3456", "12가3456", "서울"),
    ("abc-123", "ABC123", "ABC123", None),
    ("ABC·I23", "ABCI23", "ABC123", None),
    ("FO0-100", "FO0100", "F00100", None),
])
def test_plates_are_normalised(raw: str, text: str, key: str, region: str | None) -> None:
    plate = parse_plate(raw)
    assert (plate.text, plate.key, plate.region) == (text, key, region)


def test_regions_must_agree_when_both_are_read() -> None:
    seoul, busan, bare = parse_plate("서울12가3456"), parse_plate("부산12가3456"), parse_plate("12가3456")
    assert seoul.same_vehicle(bare) and bare.same_vehicle(busan)
    assert not seoul.same_vehicle(busan)
    assert not parse_plate("12가3456").same_vehicle(parse_plate("12나3456"))


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "the plate is empty"),
    (" - ", "the plate is empty"),
    ("12가345", "not a Korean plate"),
    ("뉴욕12가3456", "not a Korean plate"),
    ("京A12345", "not a plate"),
    ("A", "not a plate"),
    ("ABCDEFGHIJK", "not a plate"),
])
def test_unreadable_plates_are_refused_without_repeating_them(raw: str, reason: str) -> None:
    with pytest.raises(UnreadablePlate) as refused:
        parse_plate(raw)
    assert str(refused.value).startswith(reason)
    assert raw.strip() == "" or raw not in str(refused.value)
