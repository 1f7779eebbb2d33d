"""The event-code catalogue of the Korean Smart City Integration Platform.

Every code here is accepted at intake; only some have a linked service that acts on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Grade(StrEnum):
    URGENT = "10"
    NORMAL = "20"


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    code: str
    name_ko: str
    name_en: str
    default_grade: Grade


_ENTRIES: tuple[CatalogueEntry, ...] = (
    CatalogueEntry("112UC001", "112 긴급영상지원", "112 emergency video", Grade.URGENT),
    CatalogueEntry("112UC120", "112 긴급출동지원", "112 dispatch support", Grade.URGENT),
    CatalogueEntry("119UC001", "119 긴급출동지원", "119 dispatch support", Grade.URGENT),
    CatalogueEntry("DUCDP110", "재난상황 긴급대응지원", "disaster response", Grade.URGENT),
    CatalogueEntry("WPSSF110", "사회적약자 지원", "vulnerable-person SOS", Grade.URGENT),
    CatalogueEntry("POCCP103", "안심귀가", "safe return home", Grade.NORMAL),
    CatalogueEntry("MOJUC110", "전자발찌 위치추적", "electronic-anklet linkage", Grade.URGENT),
    CatalogueEntry("LPRUM120", "수배차량 검색", "wanted-vehicle search (LPR)", Grade.URGENT),
    CatalogueEntry("FMSFT110", "차량번호 인식", "licence-plate recognition", Grade.NORMAL),
    CatalogueEntry("EBSCP110", "비상벨", "emergency bell", Grade.URGENT),
    CatalogueEntry("SEBSF110", "안심비상벨", "safety emergency bell", Grade.URGENT),
    CatalogueEntry("STLSF110", "안심택시", "safe taxi", Grade.URGENT),
    CatalogueEntry("TUATR100", "교통사고", "traffic incident", Grade.NORMAL),
    CatalogueEntry("WESEN110", "기상특보", "weather warning", Grade.NORMAL),
    CatalogueEntry("APLEN110", "대기오염 경보", "air-pollution warning", Grade.NORMAL),
    CatalogueEntry("MTSUC210", "방범시설물", "facility event: crime prevention", Grade.NORMAL),
    CatalogueEntry("MTSUC220", "방재시설물", "facility event: disaster prevention", Grade.NORMAL),
    CatalogueEntry("MTSUC230", "안전시설물", "facility event: safety", Grade.NORMAL),
    CatalogueEntry("MTSUC240", "CCTV 시설물", "facility event: CCTV", Grade.NORMAL),
    CatalogueEntry("MTSUC250", "일반시설물", "facility event: general facilities", Grade.NORMAL),
    CatalogueEntry("BNRCP140", "강도", "robbery", Grade.URGENT),
)

CATALOGUE: dict[str, CatalogueEntry] = {entry.code: entry for entry in _ENTRIES}


def lookup(code: str) -> CatalogueEntry | None:
    return CATALOGUE.get(code)
