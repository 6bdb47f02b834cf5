"""Counts by province, kind, role and medium, and their plain-text rendering."""

from __future__ import annotations

from inventory import Medium, Role, SiteKind, compute_stats, load_inventory, render_stats
from inventory.stats import ProvinceCount

from .conftest import WriteFolder


def test_stats_of_the_small_inventory(write_folder: WriteFolder) -> None:
    stats = compute_stats(load_inventory(write_folder()).inventory)
    assert (stats.sites, stats.devices, stats.links) == (2, 9, 5)
    assert stats.by_province == (ProvinceCount("50", "เชียงใหม่", "Chiang Mai", 2, 6),)
    assert stats.devices_without_site == 3
    assert stats.by_kind[SiteKind.VILLAGE_WIFI] == 1
    assert stats.by_kind[SiteKind.SCHOOL] == 1
    assert stats.by_kind[SiteKind.OTHER] == 0
    assert stats.by_role == {
        Role.ACCESS_POINT: 3,
        Role.SITE_GATEWAY: 2,
        Role.DISTRICT_AGGREGATION: 1,
        Role.PROVINCIAL_NODE: 1,
        Role.CORE: 2,
    }
    assert stats.by_medium[Medium.FIBER] == 2 and stats.by_medium[Medium.OTHER] == 0


def test_rendered_table(write_folder: WriteFolder) -> None:
    text = render_stats(compute_stats(load_inventory(write_folder()).inventory))
    lines = text.splitlines()
    assert lines[0] == "2 sites, 9 devices, 5 links"
    row = next(line for line in lines if line.lstrip().startswith("50 "))
    assert row.split() == ["50", "Chiang", "Mai", "2", "6", "เชียงใหม่"]
    assert "(76 of 77 provinces have no sites)" in text
    assert any(line.split()[:2] == ["village_wifi", "1"] for line in lines if line.strip())
    assert any(line.split()[:2] == ["access_point", "3"] for line in lines if line.strip())
    assert text.endswith("\n")
