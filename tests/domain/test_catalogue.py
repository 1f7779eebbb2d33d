"""The event catalogue covers every code of the Korean platform named in DESIGN.md."""

from __future__ import annotations

from citylink.domain.catalogue import CATALOGUE, Grade

DESIGN_CODES = {"112UC001", "112UC120", "119UC001", "DUCDP110", "WPSSF110", "MOJUC110", "LPRUM120", "FMSFT110",
                "POCCP103", "EBSCP110", "SEBSF110", "STLSF110", "TUATR100", "WESEN110", "APLEN110", "MTSUC210",
                "MTSUC220", "MTSUC230", "MTSUC240", "MTSUC250", "BNRCP140"}


def test_every_code_has_korean_and_english_names_and_a_grade() -> None:
    assert set(CATALOGUE) == DESIGN_CODES
    for entry in CATALOGUE.values():
        assert entry.name_ko and entry.name_en
        assert entry.default_grade in (Grade.URGENT, Grade.NORMAL)
