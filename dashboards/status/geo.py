"""``/api/v1/sites.geojson``: every site as a GeoJSON point, built from fixed pieces.

Only a site's status changes while pubnet runs, so each feature is encoded once, up to its
status, and a response is a join of 25,000 prepared byte strings with one of three status
endings: ~10 ms, then gzip. The collection also carries, as GeoJSON foreign members, what the
page needs to label the map without another request: the Thai and English names of every
district that has sites (features name areas by code, which keeps the body small), and the
77 province centres of ``inventory/data/province_centres.csv``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence

from dashboards.status.fleet import NAME_OF, FleetStatus
from inventory import geography

GZIP_LEVEL = 6
"""~20 % smaller than level 1 on this body; built only when a site changed, off the loop."""

_ENDINGS = tuple(f'{name}"}}}}'.encode() for name in NAME_OF)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class SiteFeatures:
    """The prepared pieces of the collection (see the module docstring)."""

    def __init__(self, fleet: FleetStatus) -> None:
        prefixes: list[bytes] = []
        for site in fleet.sites:
            props = _dumps({"id": site.site_id, "name": site.name, "village": site.village,
                            "subdistrict": site.subdistrict_name_th,
                            "province": site.province_code, "district": site.district_code})
            prefixes.append(
                ('{"type":"Feature","geometry":{"type":"Point","coordinates":['
                 f'{round(site.lon, 5)},{round(site.lat, 5)}]}},"properties":'
                 f'{props[:-1]},"status":"').encode())
        self._prefixes = prefixes
        districts = {d.code: [d.name_th, d.name_en] for d in fleet.districts}
        centres = []
        for province in geography.provinces():
            try:
                lat, lon = geography.province_centre(province.code)
            except KeyError:
                continue
            centres.append({"code": province.code, "name_th": province.name_th,
                            "name_en": province.name_en, "lat": lat, "lon": lon})
        self._head = ('{"type":"FeatureCollection","districts":' + _dumps(districts)
                      + ',"provinces":' + _dumps(centres) + ',"features":[').encode()

    def render(self, statuses: Sequence[int]) -> bytes:
        """The whole collection for these site statuses (map order). Pure: may run in a
        worker thread with a copy of the statuses."""
        endings = _ENDINGS
        parts = [self._head]
        for index, prefix in enumerate(self._prefixes):
            if index:
                parts.append(b",")
            parts.append(prefix)
            parts.append(endings[statuses[index]])
        parts.append(b"]}")
        return b"".join(parts)


def render_gzipped(features: SiteFeatures, statuses: bytes) -> tuple[bytes, bytes]:
    """(plain, gzipped) bodies; for a worker thread."""
    plain = features.render(statuses)
    return plain, gzip.compress(plain, GZIP_LEVEL, mtime=0)
