"""Power cut, backhaul or equipment: many dark sites under routers that answer are one
``power`` incident; a router cut stays one upstream incident; evidence corrects the cause."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alerting.db import IncidentDB
from alerting.model import Kind, Severity, State
from pubnet.model import PollStatus, Source
from tests.alerting.builders import fail_rounds, poll_round
from tests.alerting.conftest import SECRET, HttpReceiver, StartService, alerting_config
from tests.alerting.wide import gateways, wide_inventory
from tests.support import eventually


def hooks(receiver: HttpReceiver, *names: str) -> dict[str, dict[str, str]]:
    return {n: {"type": "webhook", "url": f"{receiver.base}/{n}", "secret": SECRET}
            for n in names}


def power_desk(tmp_path: Path, receiver: HttpReceiver) -> Any:
    """Power incidents to the power desk, site and equipment ones to the techs; five sites
    dark within three minutes under routers that answer are a power cut."""
    return alerting_config(
        tmp_path,
        routes=[{"match": {"kind": ["power"]}, "channels": ["power-desk"]},
                {"match": {"kind": ["site_down", "device_down", "link_down"]},
                 "channels": ["techs"]}],
        channels=hooks(receiver, "power-desk", "techs"), group_wait="500ms",
        power={"window": "3m", "min_sites": 5},
    )


async def test_power_cut_is_one_incident_with_evidence_and_its_own_route(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    inventory = wide_inventory(sites_per_district=4)
    dark = gateways(inventory, ("5001", "5002", "5003"))  # 12 sites under 3 routers
    config = power_desk(tmp_path, receiver)
    run = await start_service(config, inventory=inventory)
    store = run.store
    ts = fail_rounds(store, dark, 1000.0)
    await eventually(lambda: receiver.on("/power-desk"), what="the power incident")
    await asyncio.sleep(0.8)
    assert receiver.on("/techs") == [], "no site incidents, no truck rolls"
    (message,) = receiver.on("/power-desk")
    body = message.json
    assert body["kind"] == "power" and body["severity"] == Severity.WARNING.value
    assert body["affected_sites"] == 12 and body["province_code"] == "50"
    assert body["root_device"] is None and body["district_code"] == ""
    assert body["message"].startswith("[แจ้งเหตุ] ไฟฟ้าดับ (คาดว่า): จังหวัดเชียงใหม่")
    assert "12 ไซต์ ดับพร้อมกัน ขณะที่เราเตอร์ต้นทาง 3 ตัวยังทำงาน" in body["message"]
    (power,) = [i for i in run.service.open_incidents()]
    assert power.kind is Kind.POWER and len(power.members) == 12

    # a district router cut during the power cut: one upstream incident, as always
    router_cut = ["da-5004", *gateways(inventory, ("5004",))]
    for _ in range(3):
        ts += 1
        poll_round(store, router_cut, False, ts)
        poll_round(store, dark, False, ts)
    await eventually(lambda: receiver.on("/techs"), what="the router incident")
    await asyncio.sleep(0.8)
    (router,) = [r.json for r in receiver.on("/techs")]
    assert router["root_device"] == "da-5004" and router["kind"] == "device_down"
    assert router["affected_sites"] == 4
    assert len(receiver.on("/power-desk")) == 1

    # evidence: gw-5001-1 comes back and forwards telemetry from inside the outage (it had
    # power: backhaul); gw-5002-1 comes back with its uptime restarted (it lost power)
    ts += 1
    poll_round(store, ["gw-5001-1", "gw-5002-1"], True, ts)
    store.set_status("gw-5001-1", PollStatus.OK, 1001.5, Source.MQTT)
    store.set_status("gw-5002-1", PollStatus.OK, ts + 0.5, Source.SNMP,
                     "uptime 86000s -> 4s", rebooted=True)
    await eventually(lambda: "backhaul" in run.service.correlator.incidents[
        power.incident_id].detail and "power confirmed" in run.service.correlator.incidents[
        power.incident_id].detail, what="the evidence recorded")
    detail = run.service.correlator.incidents[power.incident_id].detail
    assert "power confirmed at S-5002-1 (gw-5002-1 restarted (uptime 86000s -> 4s))" in detail
    assert "backhaul, not power, at S-5001-1 (telemetry from gw-5001-1 during the outage)" in (
        detail)
    await asyncio.sleep(0.3)
    with IncidentDB(config.alerting.database) as db:
        row = db.get(power.incident_id)
    assert row is not None and row.incident.detail == detail
    assert row.facts.affected_sites == 10  # two sites answer again

    # the grid is back: one resolved message
    ts += 1
    poll_round(store, dark, True, ts)
    await eventually(lambda: len(receiver.on("/power-desk")) == 2, what="resolved")
    resolved = receiver.on("/power-desk")[1].json
    assert resolved["status"] == "resolved" and resolved["incident_id"] == power.incident_id
    assert run.service.correlator.incidents.get(power.incident_id) is None or (
        run.service.correlator.incidents[power.incident_id].state is State.RESOLVED)


async def test_one_routers_sites_or_too_few_sites_are_not_a_power_cut(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    inventory = wide_inventory(sites_per_district=6)
    config = alerting_config(tmp_path, routes=[{"match": {}, "channels": ["noc"]}],
                             channels=hooks(receiver, "noc"), power={"min_sites": 5})
    run = await start_service(config, inventory=inventory)
    one_router = gateways(inventory, ("5001",))  # 6 sites, one router: its backhaul
    ts = 2000.0
    for _ in range(3):
        ts += 1
        poll_round(run.store, one_router, False, ts)
    await eventually(lambda: len(receiver.accepted) == 6, what="six site incidents")
    ts += 1
    poll_round(run.store, one_router, True, ts)
    await eventually(lambda: len(receiver.accepted) == 12, what="six resolved")
    few = ["gw-5002-1", "gw-5002-2", "gw-5003-1", "gw-5004-1"]  # three routers, 4 sites
    for _ in range(3):
        ts += 1
        poll_round(run.store, few, False, ts)
    await eventually(lambda: len(receiver.accepted) == 16, what="four site incidents")
    await asyncio.sleep(0.5)
    assert {r.json["kind"] for r in receiver.accepted} == {"site_down"}
    assert len(receiver.accepted) == 16


async def test_an_open_power_incident_continues_after_a_restart(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    """Stopped and started on the same database with a power incident open: the same
    incident goes on (members, evidence, routes), later evidence and recoveries update it,
    it resolves once, and no second incident appears for the sites it holds."""
    inventory = wide_inventory(sites_per_district=4)
    dark = gateways(inventory, ("5001", "5002", "5003"))
    config = power_desk(tmp_path, receiver)
    first = await start_service(config, inventory=inventory)
    store = first.store
    ts = fail_rounds(store, dark, 1000.0)
    await eventually(lambda: receiver.on("/power-desk"), what="the power incident")
    (power,) = first.service.open_incidents()
    # evidence before the restart: gw-5002-1 comes back restarted (power confirmed); the
    # other sites stay dark
    ts += 1
    poll_round(store, ["gw-5002-1"], True, ts)
    store.set_status("gw-5002-1", PollStatus.OK, ts + 0.5, Source.SNMP,
                     "uptime 86000s -> 4s", rebooted=True)
    await eventually(lambda: "power confirmed" in first.service.correlator.incidents[
        power.incident_id].detail, what="the evidence recorded")
    before = first.service.correlator.incidents[power.incident_id]
    assert len(before.members) == 11
    await asyncio.sleep(0.3)  # written
    await first.stop()

    second = await start_service(config, inventory=inventory, store=store)
    (restored,) = second.service.open_incidents()
    assert restored.incident_id == power.incident_id and restored.kind is Kind.POWER
    assert restored.members == before.members and restored.detail == before.detail
    # the pollers go on finding the dark sites dark: nothing new opens
    for _ in range(3):
        ts += 1
        poll_round(store, [d for d in dark if d != "gw-5002-1"], False, ts)
    await asyncio.sleep(0.8)
    assert [i.incident_id for i in second.service.open_incidents()] == [power.incident_id]
    # evidence after the restart is added to what was recorded before it: gw-5001-1 comes
    # back and forwards telemetry from inside the outage (it had power: backhaul)
    ts += 1
    poll_round(store, ["gw-5001-1"], True, ts)
    store.set_status("gw-5001-1", PollStatus.OK, 1001.5, Source.MQTT)
    await eventually(lambda: "backhaul" in second.service.correlator.incidents[
        power.incident_id].detail, what="the new evidence recorded")
    after = second.service.correlator.incidents[power.incident_id]
    assert "power confirmed at S-5002-1 (gw-5002-1 restarted (uptime 86000s -> 4s))" in (
        after.detail), "evidence from before the restart is kept"
    assert "backhaul, not power, at S-5001-1" in after.detail
    assert len(after.members) == 10
    await asyncio.sleep(0.3)
    with IncidentDB(config.alerting.database) as db:
        row = db.get(power.incident_id)
        assert row is not None and row.incident.detail == after.detail
        assert row.facts.affected_sites == 10
    # the grid is back: one resolved message for the one incident
    ts += 1
    poll_round(store, dark, True, ts)
    await eventually(lambda: len(receiver.on("/power-desk")) == 2, what="resolved")
    await asyncio.sleep(0.5)
    assert [r.json["status"] for r in receiver.on("/power-desk")] == ["firing", "resolved"]
    assert {r.json["incident_id"] for r in receiver.on("/power-desk")} == {power.incident_id}
    assert receiver.on("/techs") == [], "no site incidents, before or after the restart"
    assert not second.service.open_incidents()
    with IncidentDB(config.alerting.database) as db:
        assert [r.incident.incident_id for r in db.list_incidents()] == [power.incident_id]
