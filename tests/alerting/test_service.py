"""The whole chain: state store -> detection -> root cause -> outbox -> signed webhooks."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from alerting.db import IncidentDB
from alerting.model import State
from alerting.service import AlertingService
from collectors.mqtt.ingest import Ingestor
from collectors.mqtt.topics import status_topic
from inventory.topology import Topology
from pubnet.config import MqttConfig
from pubnet.model import Observation, PollStatus, Source
from pubnet.state import StateStore
from tests.alerting.builders import (
    ROUTER_AND_GATEWAYS,
    district_inventory,
    fail_rounds,
    poll_round,
)
from tests.alerting.conftest import (
    SECRET,
    HttpReceiver,
    Running,
    StartService,
    alerting_config,
)
from tests.support import eventually


def hooks(rec: HttpReceiver, *names: str) -> dict[str, dict[str, object]]:
    return {n: {"type": "webhook", "url": f"{rec.base}/{n}", "secret": SECRET} for n in names}


def noc_config(tmp_path: Path, receiver: HttpReceiver, **extra: Any) -> Any:
    """Every incident to one webhook channel, ``noc``."""
    return alerting_config(tmp_path, routes=[{"match": {}, "channels": ["noc"]}],
                           channels=hooks(receiver, "noc"), **extra)


async def test_router_and_gateways_one_incident_then_resolved_then_child(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    config = alerting_config(
        tmp_path,
        routes=[
            {"match": {}, "channels": ["noc"], "language": "en"},
            {"match": {"province": ["50"], "severity": ["critical", "major"]},
             "channels": ["chiangmai", "noc"], "language": "th"},
            {"match": {"district": ["5002"]}, "channels": ["other-district"]},
        ],
        channels=hooks(receiver, "noc", "chiangmai", "other-district"),
    )
    run = await start_service(config)
    store = run.store
    ts = fail_rounds(store, ROUTER_AND_GATEWAYS, 1000.0)
    await eventually(lambda: len(receiver.on("/noc")) == 1 and len(receiver.on("/chiangmai")) == 1,
                     what="one firing message per matching channel")
    await asyncio.sleep(0.8)  # more than group_wait: no per-site messages follow
    assert len(receiver.accepted) == 2
    assert receiver.on("/other-district") == []
    assert receiver.bad_signatures == 0
    noc = receiver.on("/noc")[0]
    body = noc.json
    assert body["status"] == "firing"
    assert body["root_device"] == "da-5001"
    assert body["root_link"] is None
    assert body["kind"] == "device_down"
    assert body["severity"] == "major"
    assert body["affected_sites"] == 3
    assert body["affected_devices"] == 6
    assert body["sites_total"] == 3
    assert {s["id"] for s in body["sites"]} == {"S-1", "S-2", "S-3"}
    assert body["sites"][0]["id"] == "S-1"  # the root's own site first
    assert body["resolved_at"] is None and body["acknowledged_by"] is None
    assert "district router da-5001" in body["message"]
    assert "Mueang Chiang Mai" in body["message"]
    incident_id = body["incident_id"]
    assert noc.headers["X-Pubnet-Delivery"] == f"{incident_id}:firing:1"
    thai = receiver.on("/chiangmai")[0].json
    assert thai["incident_id"] == incident_id
    assert "เราเตอร์ระดับอำเภอ" in thai["message"] and "เชียงใหม่" in thai["message"]

    # everything answers again: one resolved message per channel, same incident id
    ts += 1.0
    poll_round(store, ROUTER_AND_GATEWAYS, True, ts)
    await eventually(lambda: len(receiver.accepted) == 4, what="resolved messages")
    resolved = receiver.on("/noc")[1].json
    assert resolved["status"] == "resolved" and resolved["incident_id"] == incident_id
    assert resolved["resolved_at"] is not None
    assert receiver.on("/noc")[1].headers["X-Pubnet-Delivery"] == f"{incident_id}:resolved:2"

    # all four fail again, then only the router (and the sites that answer) come back
    ts = fail_rounds(store, ROUTER_AND_GATEWAYS, ts)
    await eventually(lambda: len(receiver.accepted) == 6, what="second outage")
    second = receiver.on("/noc")[2].json
    assert second["incident_id"] != incident_id and second["root_device"] == "da-5001"
    ts += 1.0
    poll_round(store, ("da-5001", "S-1-gw", "S-3-gw"), True, ts)
    poll_round(store, ("S-2-gw",), False, ts)
    await eventually(lambda: len(receiver.on("/noc")) == 5, what="child incident on noc")
    await asyncio.sleep(0.5)
    noc_bodies = [r.json for r in receiver.on("/noc")]
    assert [b["status"] for b in noc_bodies] == ["firing", "resolved", "firing", "resolved",
                                                 "firing"]
    child = noc_bodies[4]
    assert child["root_device"] == "S-2-gw" and child["kind"] == "site_down"
    assert child["affected_sites"] == 1
    assert child["severity"] == "minor"
    # a minor site incident does not match the critical/major route
    assert len(receiver.on("/chiangmai")) == 4
    with IncidentDB(config.alerting.database) as db:
        listed = db.list_incidents()
    assert [r.incident.state for r in listed] == [State.FIRING, State.RESOLVED, State.RESOLVED]


async def test_channel_failing_then_accepting_gets_everything_once_in_order(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    config = noc_config(tmp_path, receiver)
    receiver.fail["/noc"] = [500] * 6
    run = await start_service(config)
    ts = 2000.0
    for gateway in ("S-4-gw", "S-1-gw", "S-3-gw"):
        ts = fail_rounds(run.store, (gateway,), ts)
        await asyncio.sleep(0.05)
    await eventually(lambda: run.service.stats.messages_queued == 3, what="three firing")
    ts += 1
    poll_round(run.store, ("S-4-gw",), True, ts)
    await eventually(lambda: len(receiver.accepted) == 4, what="all four messages")
    await asyncio.sleep(0.5)
    keys = [r.headers["X-Pubnet-Delivery"] for r in receiver.accepted]
    assert len(keys) == len(set(keys)) == 4
    assert len(receiver.attempts) >= 10  # the six 500s were retried
    # per-channel order is the order the messages were decided in
    with IncidentDB(config.alerting.database) as db:
        outbox = db.outbox()
    assert [f"{o[2]}:{o[3]}:{o[4]}" for o in outbox] == keys
    assert all(o[5] is not None for o in outbox)
    roots = [r.json["root_device"] for r in receiver.accepted]
    assert roots[-1] == "S-4-gw" and receiver.accepted[-1].json["status"] == "resolved"


async def test_restart_delivers_what_was_queued_and_resends_nothing_delivered(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    config = noc_config(tmp_path, receiver)
    first = await start_service(config)
    ts = fail_rounds(first.store, ("S-4-gw",), 3000.0)
    await eventually(lambda: len(receiver.accepted) == 1, what="first incident delivered")
    # the receiver now hangs: the next message is in flight when pubnet is killed
    receiver.hold = asyncio.Event()
    ts = fail_rounds(first.store, ("S-1-gw",), ts)
    await eventually(lambda: len(receiver.attempts) == 2, what="second message in flight")
    await first.stop()
    receiver.hold.set()
    receiver.hold = None
    await asyncio.sleep(0.1)
    in_flight_accepted = len(receiver.accepted)  # the cut-off request may have landed

    second = await start_service(config, store=first.store)
    await eventually(lambda: len(receiver.accepted) >= 2, what="redelivery after restart")
    await asyncio.sleep(0.6)
    keys = [r.headers["X-Pubnet-Delivery"] for r in receiver.accepted]
    first_key = keys[0]
    assert keys.count(first_key) == 1, "a delivered message was sent again"
    distinct = set(keys)
    assert len(distinct) == 2
    assert len(keys) == 2 + (in_flight_accepted - 1)  # at most the one cut-off duplicate
    # open incidents survived: the restarted service resolves them, no new firing
    assert {i.root for i in second.service.open_incidents()} == {"device:S-4-gw",
                                                                 "device:S-1-gw"}
    ts += 1
    poll_round(second.store, ("S-4-gw", "S-1-gw"), True, ts)
    await eventually(lambda: sum(r.json["status"] == "resolved" for r in receiver.accepted) == 2,
                     what="resolved after restart")
    assert sum(r.json["status"] == "firing" for r in receiver.accepted) == len(keys)


async def test_flapping_makes_one_incident(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    config = noc_config(tmp_path, receiver, down_after=1, group_wait="1s",
                        flapping={"changes": 4, "window": "3s"})
    run = await start_service(config)
    ts = time.time()
    for n in range(12):
        ts += 0.01
        poll_round(run.store, ("S-4-gw",), n % 2 == 1, ts)
        await asyncio.sleep(0.03)
    await eventually(lambda: len(receiver.accepted) >= 1, what="flapping incident")
    await asyncio.sleep(0.5)
    firing = [r.json for r in receiver.accepted if r.json["status"] == "firing"]
    assert [f["kind"] for f in firing] == ["flapping"]
    # quiet for a window (device stays up): the flapping incident resolves
    await eventually(lambda: any(r.json["status"] == "resolved" for r in receiver.accepted),
                     within=20, what="flapping resolved")
    kinds = [(r.json["kind"], r.json["status"]) for r in receiver.accepted]
    assert kinds == [("flapping", "firing"), ("flapping", "resolved")]


async def test_maintenance_window_records_but_sends_nothing(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    config = noc_config(tmp_path, receiver)
    now = time.time()
    with IncidentDB(config.alerting.database) as db:
        db.add_maintenance("district:5002", now - 60, now + 3600, "fibre work", "test", now)
    run = await start_service(config)
    ts = fail_rounds(run.store, ("S-4-gw",), 5000.0)
    await eventually(lambda: any(i.maintenance for i in run.service.incidents()),
                     what="incident marked as in maintenance")
    ts = fail_rounds(run.store, ("S-1-gw",), ts)  # district 5001: not covered
    await eventually(lambda: len(receiver.accepted) == 1, what="message outside the window")
    await asyncio.sleep(0.5)
    assert [r.json["root_device"] for r in receiver.accepted] == ["S-1-gw"]
    with IncidentDB(config.alerting.database) as db:
        rows = {r.incident.root: r for r in db.list_incidents()}
    assert rows["device:S-4-gw"].incident.maintenance
    assert rows["device:S-4-gw"].incident.state is State.FIRING
    assert rows["device:S-4-gw"].incident.announced_at is None


async def test_repeat_until_acknowledged_and_escalation(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    config = alerting_config(
        tmp_path,
        routes=[{"match": {}, "channels": ["techs"], "repeat": "300ms",
                 "escalate_after": "1s", "escalate_to": ["manager"]}],
        channels=hooks(receiver, "techs", "manager"),
    )
    run = await start_service(config)
    fail_rounds(run.store, ("S-4-gw",), 6000.0)
    await eventually(lambda: len(receiver.on("/manager")) == 1, within=20, what="escalation")
    techs = [r.json for r in receiver.on("/techs")]
    assert len(techs) >= 3, "repeats while unacknowledged"
    assert {t["incident_id"] for t in techs} == {receiver.on("/manager")[0].json["incident_id"]}
    assert [t["reason"] for t in techs][:2] == ["first", "repeat"]
    assert receiver.on("/manager")[0].json["reason"] == "escalate"
    incident_id = techs[0]["incident_id"]
    with IncidentDB(config.alerting.database) as db:
        assert db.acknowledge(incident_id, "somchai", "on my way", time.time()) == "ok"
    await eventually(lambda: any(i.acked_by == "somchai" for i in run.service.incidents()),
                     what="acknowledgement picked up")
    delivery = run.service.delivery
    assert delivery is not None
    await eventually(lambda: delivery.pending() == 0, what="queue drained")
    count = len(receiver.accepted)
    await asyncio.sleep(1.0)
    assert len(receiver.accepted) == count, "no repeats after acknowledgement"


async def test_link_down_trap_and_reboot(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    config = noc_config(tmp_path, receiver)
    run = await start_service(config)
    store = run.store
    store.publish([Observation("pn-50", "pubnet_interface_oper_up", 0.0, 7000.0, Source.TRAP,
                               (("ifname", "ge-0/0/2"),))])
    await eventually(lambda: len(receiver.accepted) == 1, what="link down message")
    body = receiver.accepted[0].json
    assert body["root_link"] == "ln-da-5002" and body["kind"] == "link_down"
    assert body["affected_sites"] == 1 and body["sites"][0]["id"] == "S-4"
    store.publish([Observation("pn-50", "pubnet_interface_oper_up", 1.0, 7010.0, Source.SNMP,
                               (("ifname", "ge-0/0/2"),))])
    await eventually(lambda: len(receiver.accepted) == 2, what="link up message")
    assert receiver.accepted[1].json["status"] == "resolved"
    for rebooted, at in ((False, 7100.0), (False, 7160.0), (True, 7220.0)):
        store.set_status("S-3-gw", PollStatus.OK, at, Source.SNMP,
                         "uptime 86460s -> 30s" if rebooted else "", rebooted=rebooted)
    await eventually(lambda: len(receiver.accepted) == 3, what="reboot message")
    assert receiver.accepted[2].json["kind"] == "device_rebooted"
    assert receiver.accepted[2].json["root_device"] == "S-3-gw"


async def test_database_write_failure_is_retried_without_losing_messages(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = noc_config(tmp_path, receiver)
    original = IncidentDB.save
    failures = {"left": 3}

    def flaky_save(self: IncidentDB, *args: Any) -> list[int]:
        if failures["left"] > 0 and args[2]:  # fail while there are messages to write
            failures["left"] -= 1
            raise sqlite3.OperationalError("database is locked")
        return original(self, *args)

    monkeypatch.setattr(IncidentDB, "save", flaky_save)
    run = await start_service(config)
    fail_rounds(run.store, ("S-4-gw",), time.time())
    await eventually(lambda: len(receiver.accepted) == 1, what="message after retries")
    assert failures["left"] == 0
    await asyncio.sleep(0.3)
    assert len(receiver.accepted) == 1
    with IncidentDB(config.alerting.database) as db:
        assert [o[5] is not None for o in db.outbox()] == [True]


async def test_mqtt_last_will_is_down_at_once(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    config = noc_config(tmp_path, receiver, down_after=5)
    run = await start_service(config)
    now = time.time()
    # what the MQTT collector reports: online, then the broker's last will
    ingestor = Ingestor(run.store, district_inventory(), MqttConfig())
    ingestor.handle(status_topic("S-4", "S-4-gw"), b"online", now=now)
    ingestor.handle(status_topic("S-4", "S-4-gw"), b"offline", now=now + 1)
    await eventually(lambda: len(receiver.accepted) == 1, what="firing after one last will")
    assert receiver.accepted[0].json["root_device"] == "S-4-gw"
    # an SNMP timeout, by contrast, needs down_after attempts
    run.store.set_status("S-1-gw", PollStatus.TIMEOUT, now + 1, Source.SNMP)
    await asyncio.sleep(0.8)
    assert len(receiver.accepted) == 1


async def test_a_last_will_that_arrives_while_the_database_opens_still_opens_an_incident(
    tmp_path: Path, receiver: HttpReceiver,
) -> None:
    """A gateway that lost power before pubnet started: the broker hands pubnet its retained
    last will milliseconds after connecting, while alerting is still opening its database
    (seen in the docker-compose demo). The will is published once; if alerting is not
    listening yet, that site is never alerted."""
    config = noc_config(tmp_path, receiver, down_after=5)
    inventory = district_inventory()
    store = StateStore()
    service = AlertingService(config.alerting, inventory, Topology.build(inventory), store,
                              broker=config.mqtt)
    run = Running(service, store, asyncio.create_task(service.run()))
    try:
        await asyncio.sleep(0)  # the component is running; its database is not open yet
        assert not service.ready.is_set()
        ingestor = Ingestor(store, inventory, MqttConfig())
        ingestor.handle(status_topic("S-4", "S-4-gw"), b"offline", now=time.time())
        await eventually(lambda: len(receiver.accepted) == 1, what="the site's incident")
        assert receiver.accepted[0].json["root_device"] == "S-4-gw"
    finally:
        await run.stop()


def last_will(store: StateStore, gateway: str, site: str, ts: float) -> None:
    """What the MQTT collector reports for a gateway that was online: its last will."""
    ingestor = Ingestor(store, district_inventory(), MqttConfig())
    ingestor.handle(status_topic(site, gateway), b"online", now=ts - 1)
    ingestor.handle(status_topic(site, gateway), b"offline", now=ts)


async def test_a_gateway_behind_a_failing_router_waits_for_the_router_one_message(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    """A district router dies: its MQTT gateways' last wills count at once, the router is
    confirmed only at its third failed poll, minutes later. The technicians get one message,
    the router's, not one per site first and a 'merged' update per site after."""
    config = noc_config(tmp_path, receiver, upstream_wait="30s")
    run = await start_service(config)
    now = time.time()
    poll_round(run.store, ("da-5001",), False, now)  # first failed poll: in doubt
    last_will(run.store, "S-1-gw", "S-1", now + 0.1)
    await asyncio.sleep(1.0)  # three times group_wait
    assert receiver.accepted == []
    poll_round(run.store, ("da-5001",), False, now + 1)
    poll_round(run.store, ("da-5001",), False, now + 2)  # down_after: confirmed
    await eventually(lambda: len(receiver.accepted) == 1, what="the router's incident")
    body = receiver.accepted[0].json
    assert (body["root_device"], body["kind"]) == ("da-5001", "device_down")
    assert "S-1" in {s["id"] for s in body["sites"]}
    await asyncio.sleep(0.8)
    assert len(receiver.accepted) == 1


async def test_a_gateway_fires_once_its_doubted_router_answers_or_the_wait_is_over(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    config = noc_config(tmp_path, receiver, upstream_wait="2s")
    run = await start_service(config)
    now = time.time()
    # the router answers again: the site's own outage is announced at once
    poll_round(run.store, ("da-5001",), False, now)
    last_will(run.store, "S-1-gw", "S-1", now + 0.1)
    await asyncio.sleep(0.6)
    assert receiver.accepted == []
    poll_round(run.store, ("da-5001",), True, now + 1)
    await eventually(lambda: len(receiver.accepted) == 1, what="the site's incident", within=1.5)
    assert receiver.accepted[0].json["root_device"] == "S-1-gw"
    # the router fails once and is not polled again: the site waits upstream_wait, no more
    poll_round(run.store, ("da-5002",), False, now + 2)
    started = time.monotonic()
    last_will(run.store, "S-4-gw", "S-4", now + 2.1)
    await eventually(lambda: len(receiver.accepted) == 2, what="the second site", within=6.0)
    waited = time.monotonic() - started
    assert 2.0 <= waited < 4.0, waited
    assert receiver.accepted[1].json["root_device"] == "S-4-gw"


async def test_incident_already_firing_when_a_window_starts_shows_in_maintenance(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pubnet.cli import main

    config = alerting_config(tmp_path, routes=[{"match": {}, "channels": ["noc"],
                                                "repeat": "200ms"}],
                             channels=hooks(receiver, "noc"))
    config_file = tmp_path / "pubnet.yaml"
    config_file.write_text(f"alerting:\n  database: {config.alerting.database}\n",
                           encoding="utf-8")
    run = await start_service(config)
    fail_rounds(run.store, ("S-4-gw",), time.time())
    await eventually(lambda: len(receiver.accepted) >= 2, what="first message and a repeat")

    def listed() -> dict[str, Any]:
        assert main(["alerts", "list", "--config", str(config_file), "--format", "json"]) == 0
        rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
        return rows[0]

    assert listed()["maintenance"] is False
    now = time.time()
    with IncidentDB(config.alerting.database) as db:
        window = db.add_maintenance("site:S-4", now, now + 3600, "", "test", now)
    await eventually(lambda: all(i.maintenance for i in run.service.open_incidents()),
                     what="the firing incident marked")
    await asyncio.sleep(0.3)
    assert listed()["maintenance"] is True
    assert main(["alerts", "list", "--config", str(config_file)]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[1].split()[1] == "firing*"
    assert "maintenance window" in out.err
    count = len(receiver.accepted)
    await asyncio.sleep(0.6)
    assert len(receiver.accepted) == count, "no repeats inside the window"
    # the window ends early: the truth again, and repeats resume
    with IncidentDB(config.alerting.database) as db:
        db.end_maintenance(window, time.time())
    await eventually(lambda: not any(i.maintenance for i in run.service.open_incidents()),
                     what="unmarked when the window ends")
    await eventually(lambda: len(receiver.accepted) > count, what="repeats again")
    await asyncio.sleep(0.2)
    assert listed()["maintenance"] is False


async def test_second_acknowledgement_is_kept_and_shown_as_latest(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    config = noc_config(tmp_path, receiver)
    run = await start_service(config)
    ts = fail_rounds(run.store, ("da-5001", "S-2-gw"), time.time())
    await eventually(lambda: len(receiver.accepted) == 1, what="router incident")
    incident_id = receiver.accepted[0].json["incident_id"]
    with IncidentDB(config.alerting.database) as db:
        assert db.acknowledge(incident_id, "somchai", "on my way", time.time()) == "ok"
    await eventually(lambda: any(i.acked_by == "somchai" for i in run.service.incidents()),
                     what="first acknowledgement picked up")
    with IncidentDB(config.alerting.database) as db:
        assert db.acknowledge(incident_id, "malee", "took over", time.time()) == "ok"
    await eventually(lambda: any(i.acked_by == "malee" for i in run.service.incidents()),
                     what="second acknowledgement picked up")
    # the daemon writes the incident again (a member joins): the latest ack must survive
    ts = fail_rounds(run.store, ("S-1-gw",), ts)
    await eventually(lambda: any(len(i.members) == 3 for i in run.service.incidents()),
                     what="member joined")
    await asyncio.sleep(0.3)
    with IncidentDB(config.alerting.database) as db:
        row = db.get(incident_id)
        acks = db.acks(incident_id)
    assert row is not None
    assert (row.incident.acked_by, row.incident.ack_note) == ("malee", "took over")
    assert [(a.by, a.note, a.channel) for a in acks] == [("somchai", "on my way", "cli"),
                                                         ("malee", "took over", "cli")]


async def test_where_an_acknowledgement_came_from_is_kept_across_a_restart(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    """The status page says who took an incident, what they pressed and from where (LINE,
    Telegram, the page, the CLI); a restart must not lose the 'from where'."""
    config = noc_config(tmp_path, receiver)
    first = await start_service(config)
    fail_rounds(first.store, ("S-4-gw",), time.time())
    await eventually(lambda: len(receiver.accepted) == 1, what="incident delivered")
    incident_id = receiver.accepted[0].json["incident_id"]
    with IncidentDB(config.alerting.database) as db:
        assert db.acknowledge(incident_id, "tech-a", "enroute", time.time(), "line") == "ok"

    def channel(run: Any) -> str | None:
        return next((i.ack_channel for i in run.service.open_incidents()
                     if i.incident_id == incident_id), None)

    await eventually(lambda: channel(first) == "line", what="acknowledgement from LINE")
    await first.stop()
    second = await start_service(config, store=first.store)
    await eventually(lambda: channel(second) == "line", what="channel restored")
    with IncidentDB(config.alerting.database) as db:
        assert db.acknowledge(incident_id, "tech-b", "fixed", time.time() + 1,
                              "telegram") == "ok"
    await eventually(lambda: channel(second) == "telegram", what="the latest one wins")
