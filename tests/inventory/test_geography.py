"""Reference data: every province has a centre inside Thailand; names come from geothai."""

from __future__ import annotations

import geothai

from inventory.geography import (
    THAILAND_BBOX,
    area_names,
    district,
    districts_of,
    province,
    province_centre,
    provinces,
    subdistrict,
)


def test_every_province_has_a_centre_inside_the_box() -> None:
    codes = [p.code for p in geothai.provinces()]
    assert len(codes) == 77
    for code in codes:
        lat, lon = province_centre(code)
        assert THAILAND_BBOX.contains(lat, lon), code


def test_centres_table_names_match_geothai() -> None:
    from importlib.resources import files

    text = files("inventory.data").joinpath("province_centres.csv").read_text(encoding="utf-8")
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert {code: name for code, name, _, _ in rows} == {
        p.code: p.name_en for p in geothai.provinces()
    }


def test_lookups() -> None:
    assert [p.code for p in provinces()][:2] == ["10", "11"]
    assert province("50") is not None and province("50").name_th == "เชียงใหม่"  # type: ignore[union-attr]
    assert province("99") is None
    assert district("5001") is not None and subdistrict("500101") is not None
    assert districts_of("99") == ()
    assert area_names("subdistrict")["500101"] == ("ศรีภูมิ", "Si Phum")
    assert area_names("province").get("5001") is None  # levels never mix
    assert not THAILAND_BBOX.contains(13.7, 120.0)
