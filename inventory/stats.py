"""Counts that let a planner sanity-check an inventory at a glance.

``pubnet inventory stats`` answers "is every province there, and is the mix of sites and
devices what we expect?" before an inventory goes live. The counts are a value
(:class:`InventoryStats`) so tests and reports can use them without parsing the table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from inventory.geography import province_index
from inventory.model import Inventory, Medium, Role, SiteKind

__all__ = ["InventoryStats", "ProvinceCount", "compute_stats", "render_stats"]


@dataclass(frozen=True, slots=True)
class ProvinceCount:
    """Sites in a province and the devices at those sites. Names are empty for a code
    that is not a real province."""

    code: str
    name_th: str
    name_en: str
    sites: int
    devices: int


@dataclass(frozen=True, slots=True)
class InventoryStats:
    """Totals and breakdowns; every kind, role and medium is present, zero or not."""

    sites: int
    devices: int
    links: int
    by_province: tuple[ProvinceCount, ...]
    by_kind: Mapping[SiteKind, int]
    by_role: Mapping[Role, int]
    by_medium: Mapping[Medium, int]
    devices_without_site: int


def compute_stats(inventory: Inventory) -> InventoryStats:
    sites = inventory.sites
    site_province = {site_id: site.province_code for site_id, site in sites.items()}
    sites_per_province = Counter(site_province.values())
    devices_per_province: Counter[str] = Counter()
    without_site = 0
    for device in inventory.devices.values():
        code = site_province.get(device.site_id)
        if code is None:
            without_site += 1
        else:
            devices_per_province[code] += 1
    names = province_index()
    by_province = []
    for code in sorted(sites_per_province.keys() | devices_per_province.keys()):
        province = names.get(code)
        by_province.append(
            ProvinceCount(
                code,
                province.name_th if province else "",
                province.name_en if province else "",
                sites_per_province[code],
                devices_per_province[code],
            )
        )
    kinds = Counter(site.kind for site in sites.values())
    roles = Counter(device.role for device in inventory.devices.values())
    media = Counter(link.medium for link in inventory.links.values())
    return InventoryStats(
        sites=len(sites),
        devices=len(inventory.devices),
        links=len(inventory.links),
        by_province=tuple(by_province),
        by_kind={kind: kinds[kind] for kind in SiteKind},
        by_role={role: roles[role] for role in Role},
        by_medium={medium: media[medium] for medium in Medium},
        devices_without_site=without_site,
    )


def _breakdown(title: str, counts: Mapping[str, int], total: int) -> list[str]:
    width = max(len(name) for name in counts)
    lines = [title]
    for name, count in counts.items():
        share = f"{100 * count / total:5.1f}%" if total else "     -"
        lines.append(f"  {name:<{width}}  {count:>9,}  {share}")
    return lines


def render_stats(stats: InventoryStats) -> str:
    """A plain-text report, ending in a newline. Thai names come last on each line:
    their combining vowels and tone marks would throw off any column after them."""
    lines = [
        f"{stats.sites:,} sites, {stats.devices:,} devices, {stats.links:,} links",
        "",
        "By province",
    ]
    name_width = max([len("province"), *(len(p.name_en or "?") for p in stats.by_province)])
    lines.append(f"  code  {'province':<{name_width}}  {'sites':>9}  {'devices':>9}  ชื่อ")
    for p in stats.by_province:
        lines.append(
            f"  {p.code:<4}  {p.name_en or '?':<{name_width}}  {p.sites:>9,}  {p.devices:>9,}"
            f"  {p.name_th or '(unknown province code)'}"
        )
    missing = len(province_index()) - sum(1 for p in stats.by_province if p.name_en)
    if missing:
        lines.append(f"  ({missing} of {len(province_index())} provinces have no sites)")
    if stats.devices_without_site:
        lines.append(f"  {stats.devices_without_site:,} devices have no site (provincial/core)")
    lines.append("")
    lines += _breakdown("By kind", {k.value: n for k, n in stats.by_kind.items()}, stats.sites)
    lines.append("")
    lines += _breakdown("By role", {r.value: n for r, n in stats.by_role.items()}, stats.devices)
    lines.append("")
    lines += _breakdown(
        "By link medium", {m.value: n for m, n in stats.by_medium.items()}, stats.links
    )
    return "\n".join(lines) + "\n"
