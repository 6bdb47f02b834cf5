"""Every dashboard query is real PromQL over real data.

A generated fleet (the simulator's SNMP agents, ICMP on loopback, MQTT telemetry, an
Influx writer) is watched by ``pubnet run`` and scraped by a real Prometheus. Each
dashboard's variables are resolved as Grafana resolves them (their own queries, their
regex), every target's ``expr`` gets the variables substituted (each province → district →
site chain of the inventory, and "All") and goes through Prometheus' query API: it must be
accepted, and return at least one series for some choice of the variables, except the few
listed in ``EMPTY_ON_THIS_FLEET`` with the reason.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dashboards.grafana import build_all, ids, render
from tests.dashboards.stack import Stack, running_stack
from tests.dashboards.templating import BUILTINS, options, substitute
from tests.support import require_binary

EMPTY_ON_THIS_FLEET: dict[tuple[str, str, str], str] = {
    (ids.HEALTH, "SNMP ที่ทิ้ง · SNMP packets dropped", "A"):
        "a healthy fleet sends no malformed or stale SNMP answers: no drop reason exists "
        "until the first drop",
    (ids.HEALTH, "InfluxDB เขียน · Influx points written and dropped", "B"):
        "VictoriaMetrics accepts every point: no drop reason has been counted",
}
"""Targets that legitimately return nothing here: (dashboard uid, panel title, refId)."""

CHAIN = ("province", "district", "site")


@dataclass
class Outcome:
    errors: list[str] = field(default_factory=list)
    most_series: int = 0


def targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target


async def assignments(http: aiohttp.ClientSession, prom: str,
                      dashboard: dict[str, Any]) -> list[dict[str, str]]:
    """"All" everywhere, then one assignment per leaf of the province → district → site
    chain (other variables: their first option)."""
    variables = [v for v in dashboard["templating"]["list"] if v["type"] != "datasource"]
    first: dict[str, str] = {}
    for var in variables:
        if var["type"] == "constant":
            first[var["name"]] = str(var["query"])
        elif var.get("includeAll"):
            first[var["name"]] = var.get("allValue") or ".*"
        else:
            found = await options(http, prom, var, first)
            assert found, f"{dashboard['uid']}: variable {var['name']} offers nothing"
            first[var["name"]] = found[0].value
    out = [first]

    async def walk(index: int, values: dict[str, str]) -> None:
        if index == len(variables):
            out.append(values)
            return
        var = variables[index]
        if var["type"] == "constant":
            await walk(index + 1, {**values, var["name"]: str(var["query"])})
            return
        found = await options(http, prom, var, values)
        assert found, f"{dashboard['uid']}: variable {var['name']} offers nothing for {values}"
        for option in found if var["name"] in CHAIN else found[:1]:
            await walk(index + 1, {**values, var["name"]: option.value})

    await walk(0, {})
    return out


async def run(http: aiohttp.ClientSession, stack: Stack, target: dict[str, Any],
              values: dict[str, str], limit: asyncio.Semaphore) -> tuple[str | None, int]:
    """(error, series) of one target as Grafana would send it."""
    expr = substitute(target["expr"], {**BUILTINS, **values})
    if target.get("instant"):
        url, params = "/api/v1/query", {"query": expr}
    else:
        now = time.time()
        url, params = "/api/v1/query_range", {
            "query": expr, "start": f"{max(stack.started, now - 300):.3f}",
            "end": f"{now:.3f}", "step": "2"}
    async with limit, http.get(stack.prometheus + url, params=params) as resp:
        data = await resp.json()
    if resp.status != 200 or data.get("status") != "success":
        return f"HTTP {resp.status}: {data.get('error')} in {expr!r}", 0
    return None, len(data["data"]["result"])


async def check_variables(http: aiohttp.ClientSession, stack: Stack,
                          dashboard: dict[str, Any]) -> None:
    """The chain offers exactly the inventory's codes, each shown with its names (the Thai
    ones once the exporter puts them on ``pubnet_site_info``)."""
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    inv = stack.inventory
    async with http.get(stack.prometheus + "/api/v1/labels",
                        params={"match[]": "pubnet_site_info"}) as resp:
        emitted = set((await resp.json())["data"])
    provinces = await options(http, stack.prometheus, variables["province"], {})
    assert {o.value for o in provinces} == {s.province_code for s in inv.sites.values()}
    for option in provinces:
        site = next(s for s in inv.sites.values() if s.province_code == option.value)
        assert option.text.startswith(option.value + " "), option
        assert site.province_name_en in option.text, option
        if "province_name_th" in emitted:
            assert option.text.startswith(f"{option.value} {site.province_name_th}"), option
    province = provinces[0].value
    districts = await options(http, stack.prometheus, variables["district"],
                              {"province": province})
    assert {o.value for o in districts} == {
        s.district_code for s in inv.sites.values() if s.province_code == province}
    for option in districts:
        site = next(s for s in inv.sites.values() if s.district_code == option.value)
        assert option.text.startswith(option.value), option
        if "district_name_th" in emitted:
            assert option.text.startswith(f"{option.value} {site.district_name_th}"), option
    if "site" in variables:
        sites = await options(http, stack.prometheus, variables["site"],
                              {"province": province, "district": districts[0].value})
        expected = {s.site_id: s.name for s in inv.sites.values()
                    if s.district_code == districts[0].value}
        assert {o.value for o in sites} == set(expected)
        assert all(o.text == f"{o.value} {expected[o.value]}" for o in sites), sites


async def stat_value(http: aiohttp.ClientSession, stack: Stack, dashboard: dict[str, Any],
                     title: str, values: dict[str, str]) -> float:
    panel = next(p for p in dashboard["panels"] if p["title"] == title)
    expr = substitute(panel["targets"][0]["expr"], {**BUILTINS, **values})
    async with http.get(stack.prometheus + "/api/v1/query", params={"query": expr}) as resp:
        data = await resp.json()
    return float(data["data"]["result"][0]["value"][1])


@pytest.mark.integration
@pytest.mark.timeout(180)
async def test_every_panel_query_runs_on_real_prometheus(tmp_path: Path) -> None:
    for binary in ("prometheus", "victoria-metrics"):
        require_binary(binary)
    dashboards = [render.to_dict(d) for d in build_all()]
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as http:
        limit = asyncio.Semaphore(8)
        outcomes: dict[tuple[str, str, str], Outcome] = defaultdict(Outcome)
        jobs = []
        for dashboard in dashboards:
            for values in await assignments(http, stack.prometheus, dashboard):
                for title, target in targets(dashboard):
                    key = (dashboard["uid"], title, target["refId"])
                    jobs.append((key, run(http, stack, target, values, limit)))
        results = await asyncio.gather(*(job for _, job in jobs))
        for (key, _), (error, series) in zip(jobs, results, strict=True):
            if error:
                outcomes[key].errors.append(error)
            outcomes[key].most_series = max(outcomes[key].most_series, series)

        rejected = [f"{k}: {o.errors[0]}" for k, o in outcomes.items() if o.errors]
        assert not rejected, "Prometheus rejected:\n" + "\n".join(rejected)
        empty = [k for k, o in outcomes.items()
                 if o.most_series == 0 and k not in EMPTY_ON_THIS_FLEET]
        assert not empty, "no series for any choice of the variables:\n" + "\n".join(
            map(str, empty))
        assert set(EMPTY_ON_THIS_FLEET) <= set(outcomes), "a listed panel no longer exists"
        every = [(d["uid"], title, t["refId"]) for d in dashboards for title, t in targets(d)]
        assert len(set(every)) == len(every) == len(outcomes), "a target ran under no name"

        by_uid = {d["uid"]: d for d in dashboards}
        for uid in (ids.NOC, ids.SITE, ids.COVERAGE):
            await check_variables(http, stack, by_uid[uid])

        # the numbers an operator reads on the NOC overview match the injected faults
        noc = by_uid[ids.NOC]
        everywhere = {"province": ".*", "district": ".*"}
        expected = {
            "ไซต์ที่ใช้งานได้ · Sites up": len(stack.inventory.sites) - 1,
            "ไซต์ที่ล่ม · Sites down": 1,
            "หมู่บ้านที่ไม่มีบริการ · Villages without service": 1,
            "ยืนยันตัวตนไม่ผ่าน · Credential failures": 1,
            # the silent AP and the router asked for a user it does not have
            "ไม่เคยตอบ · Devices never seen": 2,
        }
        for title, value in expected.items():
            assert await stat_value(http, stack, noc, title, everywhere) == value, title
        assert await stat_value(http, stack, noc, "ลิงก์ที่ล่ม · Links down", everywhere) >= 1
