"""Plausible Thai village and site names for generated inventories.

Thai village names are mostly a landscape word (pond, mound, stream, field) followed by a
plant, a colour or a wish -- บ้านหนองบัว "lotus pond village", บ้านโนนสว่าง "bright hill
village". Each region favours its own landscape words (โนน/โคก in the north-east, แม่/ปาง
in the north, ควน in the south), so names are drawn from a shared list plus the region's.
Realistic names matter because dashboards, alerts and reports are read in Thai, and
demo data should exercise the same text paths (combining vowels and tone marks) as real
data.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from enum import StrEnum

from inventory.model import SiteKind

__all__ = ["Region", "region_of", "site_name", "village_name"]


class Region(StrEnum):
    CENTRAL = "central"
    NORTHEAST = "northeast"
    NORTH = "north"
    SOUTH = "south"


_REGION_BY_FIRST_DIGIT: Mapping[str, Region] = {
    "1": Region.CENTRAL,
    "2": Region.CENTRAL,  # east
    "3": Region.NORTHEAST,
    "4": Region.NORTHEAST,
    "5": Region.NORTH,
    "6": Region.NORTH,  # lower north
    "7": Region.CENTRAL,  # west
    "8": Region.SOUTH,
    "9": Region.SOUTH,
}


def region_of(province_code: str) -> Region:
    """The region a province belongs to; the first digit of the code encodes it."""
    return _REGION_BY_FIRST_DIGIT.get(province_code[:1], Region.CENTRAL)


_COMMON_PREFIXES = (
    "หนอง",
    "นา",
    "ดอน",
    "ห้วย",
    "ท่า",
    "บ่อ",
    "วัง",
    "ทุ่ง",
    "สระ",
    "หัว",
    "ป่า",
    "ดง",
    "เขา",
    "ไร่",
    "สวน",
)
_REGION_PREFIXES: Mapping[Region, tuple[str, ...]] = {
    Region.CENTRAL: ("คลอง", "บาง", "ลาด", "โคก", "หนอง"),
    Region.NORTHEAST: ("โนน", "โคก", "โพน", "เหล่า", "หนอง", "กุด", "ซับ"),
    Region.NORTH: ("แม่", "ปาง", "ห้วย", "ดอย", "เวียง", "ป่า", "สัน"),
    Region.SOUTH: ("ควน", "บาง", "ทุ่ง", "เขา", "คลอง", "ปาก", "ท่า"),
}
_SUFFIXES = (
    "บัว",
    "แก",
    "ยาง",
    "ไผ่",
    "ขาม",
    "โพธิ์",
    "ม่วง",
    "สำราญ",
    "ทอง",
    "คำ",
    "หิน",
    "ทราย",
    "เจริญ",
    "ตะเคียน",
    "มะขาม",
    "แดง",
    "ขาว",
    "จาน",
    "ตาล",
    "ไทร",
    "งาม",
    "ดู่",
    "กระทุ่ม",
    "สว่าง",
    "เตย",
    "หวาย",
    "แก้ว",
    "ใส",
    "ยาว",
    "มะนาว",
    "ขี้เหล็ก",
    "สะแบง",
    "ศรีสุข",
    "สามัคคี",
    "พัฒนา",
    "บุญ",
    "ลำดวน",
    "จิก",
    "เกลี้ยง",
    "กลาง",
)
_QUALIFIERS = ("ใหม่", "เหนือ", "ใต้", "กลาง", "น้อย", "ใหญ่", "พัฒนา", "ออก", "ตก")


def village_name(rng: random.Random, region: Region) -> str:
    """A village name such as ``บ้านหนองบัว`` or ``บ้านโนนสว่างใหม่``."""
    prefixes = _COMMON_PREFIXES + _REGION_PREFIXES[region]
    name = "บ้าน" + rng.choice(prefixes) + rng.choice(_SUFFIXES)
    if rng.random() < 0.15:
        name += rng.choice(_QUALIFIERS)
    return name


def site_name(kind: SiteKind, village: str, subdistrict_th: str) -> str:
    """The name a site goes by locally, from its kind, village and subdistrict.

    Village Wi-Fi is the "Net Pracharat" programme; schools and health-promoting
    hospitals are named for their village; digital centres and subdistrict
    administrative organisations for their subdistrict.
    """
    if kind is SiteKind.VILLAGE_WIFI:
        return f"เน็ตประชารัฐ {village}"
    if kind is SiteKind.SCHOOL:
        return f"โรงเรียน{village}"
    if kind is SiteKind.HEALTH_CENTER:
        return f"รพ.สต.{village}"
    if kind is SiteKind.DIGITAL_CENTER:
        return f"ศูนย์ดิจิทัลชุมชนตำบล{subdistrict_th}"
    if kind is SiteKind.GOVERNMENT_OFFICE:
        return f"อบต.{subdistrict_th}"
    return "วัด" + village.removeprefix("บ้าน")
