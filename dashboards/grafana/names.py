"""Which ``pubnet_site_info`` labels name a province, a district and a site.

Dashboards show the Thai name beside each code, English after it. The exporter labels
``pubnet_site_info`` with ``name``, ``village``, ``subdistrict``, ``district``, ``province``
and ``province_name_en`` today; the ``*_name_th`` / ``district_name_*`` /
``subdistrict_name_*`` labels are being added. PromQL treats a label a series lacks as
empty, so queries that group by or copy these names work either way: the Thai columns stay
blank until the exporter fills them. If the exporter settles on other label names, this
module is the one place to change.
"""

from __future__ import annotations

from typing import Final

PROVINCE_NAMES: Final = ("province_name_th", "province_name_en")
DISTRICT_NAMES: Final = ("district_name_th", "district_name_en")
SUBDISTRICT_NAMES: Final = ("subdistrict_name_th", "subdistrict_name_en")
SITE_NAME: Final = "name"
VILLAGE: Final = "village"

SITE_NAMES: Final = (SITE_NAME, VILLAGE, *PROVINCE_NAMES, *DISTRICT_NAMES)
"""Labels copied from ``pubnet_site_info`` onto a per-site row."""
