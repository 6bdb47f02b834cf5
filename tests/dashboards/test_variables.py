"""The province → district → site variables: Grafana's query_result lines to options."""

from __future__ import annotations

import pytest

from dashboards.grafana import variables
from tests.dashboards.templating import js_regex, substitute


@pytest.mark.parametrize(("level", "line", "text", "value"), [
    (variables.PROVINCE,
     '{display="50 เชียงใหม่ Chiang Mai",province="50",province_name_en="Chiang Mai",'
     'province_name_th="เชียงใหม่"} 3 1700000000000', "50 เชียงใหม่ Chiang Mai", "50"),
    (variables.PROVINCE,  # the exporter of today: no Thai label yet
     '{display="50  Chiang Mai",province="50",province_name_en="Chiang Mai"} 3 1700000000000',
     "50  Chiang Mai", "50"),
    (variables.DISTRICT,
     '{display="5001 เมืองเชียงใหม่ Mueang Chiang Mai",district="5001",'
     'district_name_en="Mueang Chiang Mai",district_name_th="เมืองเชียงใหม่"} 1 1700000000000',
     "5001 เมืองเชียงใหม่ Mueang Chiang Mai", "5001"),
    (variables.SITE,  # a quote in a name cuts the text shown; the value stays right
     '{display="S-5001-0001 เน็ตประชารัฐ บ้าน \\"ป่า\\"",name="x",site="S-5001-0001"} 1 1',
     "S-5001-0001 เน็ตประชารัฐ บ้าน \\", "S-5001-0001"),
], ids=["province", "province-without-thai", "district", "site-with-a-quote"])
def test_option_regex_takes_the_display_as_text_and_the_code_as_value(
        level: variables.Level, line: str, text: str, value: str) -> None:
    found = js_regex(variables.option_regex(level)).search(line)
    assert found is not None
    assert (found.group("text"), found.group("value")) == (text, value)


def test_option_queries_chain_on_the_levels_above() -> None:
    district = variables.option_query(variables.DISTRICT)
    assert 'pubnet_site_info{province=~"$province"}' in district
    site = variables.option_query(variables.SITE)
    assert 'province=~"$province", district=~"$district"' in site
    assert substitute(site, {"province": "50", "district": ".*"}).count("$") == 0
