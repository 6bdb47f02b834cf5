"""Thailand's administrative divisions, indexed once for the loader, validator and generator.

``geothai`` has every province, district and subdistrict with Thai and English names but
no coordinates, so the approximate centre of each province capital ships alongside in
``data/province_centres.csv`` (used by the generator to place sites plausibly).

Everything here is immutable reference data, so it is indexed lazily and cached for the
life of the process: the loader looks up three codes per site and must not pay for a
geothai call (which copies a list) each time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Literal

import geothai
from geothai.types import District, Province, Subdistrict

__all__ = [
    "THAILAND_BBOX",
    "AreaLevel",
    "BoundingBox",
    "District",
    "Province",
    "Subdistrict",
    "area_names",
    "district",
    "district_index",
    "districts_of",
    "province",
    "province_centre",
    "province_index",
    "provinces",
    "subdistrict",
    "subdistrict_index",
    "subdistricts_of",
]


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A latitude/longitude box, inclusive on every side."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


THAILAND_BBOX = BoundingBox(min_lat=5.6, max_lat=20.5, min_lon=97.3, max_lon=105.7)
"""Generous box around Thailand: a coordinate outside it is a typo (swapped lat/lon, a
missing decimal point), not a remote village."""


@cache
def provinces() -> tuple[Province, ...]:
    """All 77 provinces, sorted by code."""
    return tuple(geothai.provinces())


@cache
def province_index() -> Mapping[str, Province]:
    """Province by 2-digit code."""
    return MappingProxyType({p.code: p for p in provinces()})


@cache
def district_index() -> Mapping[str, District]:
    """District by 4-digit code, over the whole country."""
    return MappingProxyType({d.code: d for p in provinces() for d in districts_of(p.code)})


@cache
def subdistrict_index() -> Mapping[str, Subdistrict]:
    """Subdistrict by 6-digit code, over the whole country."""
    return MappingProxyType(
        {
            s.code: s
            for p in provinces()
            for d in districts_of(p.code)
            for s in subdistricts_of(d.code)
        }
    )


@cache
def districts_of(province_code: str) -> tuple[District, ...]:
    """Districts of a province, sorted by code; empty for an unknown code."""
    return tuple(geothai.districts(province_code))


@cache
def subdistricts_of(district_code: str) -> tuple[Subdistrict, ...]:
    """Subdistricts of a district, sorted by code; empty for an unknown code."""
    return tuple(geothai.subdistricts(district_code))


AreaLevel = Literal["province", "district", "subdistrict"]


@cache
def area_names(level: AreaLevel) -> Mapping[str, tuple[str, str]]:
    """``code -> (name_th, name_en)`` for one level, so the loader can fill a site's names
    with a single lookup per code (and a C-level ``map`` over a whole column)."""
    index: Mapping[str, Province | District | Subdistrict]
    if level == "province":
        index = province_index()
    elif level == "district":
        index = district_index()
    else:
        index = subdistrict_index()
    return MappingProxyType({code: (a.name_th, a.name_en) for code, a in index.items()})


def province(code: str) -> Province | None:
    return province_index().get(code)


def district(code: str) -> District | None:
    return district_index().get(code)


def subdistrict(code: str) -> Subdistrict | None:
    return subdistrict_index().get(code)


@cache
def _province_centres() -> Mapping[str, tuple[float, float]]:
    text = files("inventory.data").joinpath("province_centres.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return MappingProxyType(
        {row["province_code"]: (float(row["lat"]), float(row["lon"])) for row in rows}
    )


def province_centre(code: str) -> tuple[float, float]:
    """Approximate ``(lat, lon)`` of the province capital.

    Raises:
        KeyError: ``code`` is not one of the 77 province codes.
    """
    return _province_centres()[code]
