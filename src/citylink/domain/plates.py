"""Licence plates as LPR cameras read them, made comparable. Pure.

Korean plates: an optional region (서울, 경기 … on older plates), two or three digits, one Hangul syllable, four
digits: ``12가3456``, ``123가4567``, ``서울12가3456``. The match key is the plate without its region, because
cameras often miss the region on older plates; a region present on both sides must agree (``서울12가3456`` is
not ``부산12가3456``). Latin plates (Finnish ``ABC-123`` and the like): letters and digits without separators,
upper case, and for matching the letters cameras confuse with digits folded (O→0, I→1), so a read of
``ABC-I23`` still hits ``ABC-123``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

REGIONS = ("서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "경기", "강원", "충북", "충남",
           "전북", "전남", "경북", "경남", "제주")
_KOREAN = re.compile(rf"^(?P<region>{'|'.join(REGIONS)})?(?P<core>\d{{2,3}}[가-힣]\d{{4}})$")
_LATIN = re.compile(r"^[A-Z0-9]{2,10}$")
_SEPARATORS = re.compile(r"[\s\-._·]")
_CONFUSED = str.maketrans({"O": "0", "I": "1"})


class UnreadablePlate(ValueError):
    """Not a plate citylink can compare. The message never repeats the plate (it is personal data)."""


@dataclass(frozen=True, slots=True)
class Plate:
    text: str  # as it will be shown: separators removed, upper case, region kept
    key: str  # what matching compares
    region: str | None  # Korean region prefix, when the plate has one

    def same_vehicle(self, other: Plate) -> bool:
        return self.key == other.key and (self.region is None or other.region is None or self.region == other.region)


def parse_plate(raw: str) -> Plate:
    text = _SEPARATORS.sub("", unicodedata.normalize("NFC", raw)).upper()
    if not text:
        raise UnreadablePlate("the plate is empty")
    korean = _KOREAN.match(text)
    if korean is not None:
        return Plate(text, korean["core"], korean["region"])
    if any("가" <= ch <= "힣" for ch in text):
        raise UnreadablePlate("not a Korean plate: [region] 2-3 digits, one Hangul syllable, 4 digits")
    if _LATIN.match(text) is None:
        raise UnreadablePlate("not a plate: 2-10 letters and digits (separators are ignored)")
    return Plate(text, text.translate(_CONFUSED), None)
