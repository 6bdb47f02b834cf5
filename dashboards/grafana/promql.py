"""PromQL fragments the dashboards share: variable scopes and joins onto the inventory.

Only ``pubnet_device_up`` and ``pubnet_device_info`` carry a device's site (interface, AP
and probe series carry just ``device``, docs/metrics.md), and only ``pubnet_site_info``
carries names; these helpers spell those joins once.
"""

from __future__ import annotations

from collections.abc import Iterable

from dashboards.grafana import names

RATE = "$__rate_interval"
RANGE = "$__range"

SITE_SCOPE = 'province=~"$province", district=~"$district"'
"""Matchers of the province and district variables (``pubnet_site_up``/``_info`` labels)."""
ONE_SITE = 'site="$site"'
"""The site dashboard's single site."""


def sel(metric: str, matchers: str = "") -> str:
    """``metric{matchers}``."""
    return f"{metric}{{{matchers}}}" if matchers else metric


def labels(items: Iterable[str]) -> str:
    return ", ".join(items)


def with_site_names(expr: str, extra: Iterable[str] = names.SITE_NAMES) -> str:
    """Copy the site's names from ``pubnet_site_info`` onto each per-site series of
    ``expr`` (which must carry ``site``)."""
    return f"(\n{expr}\n)\n* on (site) group_left ({labels(extra)}) pubnet_site_info"


def of_devices(expr: str, matchers: str, keep: Iterable[str] = ()) -> str:
    """Keep the series of ``expr`` whose ``device`` matches ``pubnet_device_up{matchers}``
    (which knows every device's site, role and province), copying the ``keep`` labels."""
    kept = labels(("device", *keep))
    return (f"(\n{expr}\n)\n* on (device) group_left ({labels(keep)}) "
            f"group by ({kept}) (pubnet_device_up{{{matchers}}})")


def or_zero(expr: str) -> str:
    """A count that reads 0, not "No data", when nothing matches."""
    return f"{expr} or vector(0)"


def villages(sites: str, op: str) -> str:
    """Count villages whose best site satisfies ``op`` (``== 1``: served now, ``== 0``: no
    site up). A village is (subdistrict, village name): village names repeat across the
    country, and a village with a school and a hotspot counts once."""
    return (f"count(\n  max by (subdistrict, village) (\n    {sites}\n"
            f"    * on (site) group_left (subdistrict, village) pubnet_site_info\n  ) {op}\n)")
