"""Budgets and digests: a mass outage is a few messages and one digest per recipient."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from alerting.budget import Budget, Budgets
from alerting.digest import Gate, HeldMessage
from alerting.model import Reason, Status
from pubnet.catalog import ALERT_MESSAGES_HELD
from pubnet.config import BudgetLimits, parse_config
from tests.alerting.builders import fail_rounds, poll_round
from tests.alerting.conftest import (
    SECRET,
    HttpReceiver,
    Running,
    StartService,
    alerting_config,
)
from tests.alerting.wide import gateways, wide_inventory
from tests.support import eventually


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def held(incident_id: str, status: Status = Status.FIRING, sites: int = 1) -> HeldMessage:
    return HeldMessage(incident_id=incident_id, status=status, province="55", district="5501",
                       sites=sites, cause_th="เกตเวย์ A", cause_en="gateway A")


def two_recipients(tmp_path: Path, receiver: HttpReceiver) -> Any:
    """Every incident to the techs and the NOC: a digest after 5 messages in 5 minutes, the
    techs at most 8 an hour. No power grouping: 32 sites under 4 routers would be one power
    incident (test_power.py)."""
    return alerting_config(
        tmp_path,
        routes=[{"match": {}, "channels": ["techs", "noc"]}],
        channels={name: {"type": "webhook", "url": f"{receiver.base}/{name}", "secret": SECRET}
                  for name in ("techs", "noc")},
        digest_after=5, digest_window="5m",
        budgets={"channels": {"techs": {"max_per_hour": 8}}},
        power=None,
    )


async def mass_outage(run: Running, down: list[str], clock: Clock,
                      receiver: HttpReceiver) -> float:
    """All of ``down`` fail; returns once each recipient got its first 5 messages and the
    rest is held for the digest (the time of the last failed poll)."""
    ts = fail_rounds(run.store, down, 1000.0)
    await eventually(lambda: len(list(run.service.incidents())) == len(down),
                     what="one pending incident per site")
    clock.now += 1
    await eventually(lambda: len(receiver.on("/techs")) == 5 and len(receiver.on("/noc")) == 5,
                     what="digest_after messages to each recipient")
    await asyncio.sleep(0.3)
    return ts


async def all_answer_again(run: Running, down: list[str], ts: float, clock: Clock) -> None:
    """All of ``down`` answers after ``ts``; returns with the resolutions' digest due."""
    poll_round(run.store, down, True, ts + 1)
    await eventually(lambda: not run.service.open_incidents(), what="all resolved")
    clock.now += 1
    await asyncio.sleep(0.3)
    clock.now += 300


@pytest.mark.parametrize(("limits", "times", "allowed"), [
    (BudgetLimits(max_per_hour=3), [0, 1, 2, 3, 3599, 3601], [1, 1, 1, 0, 0, 1]),
    (BudgetLimits(max_per_day=2), [0, 1, 86399, 86401], [1, 1, 0, 1]),
    (BudgetLimits(max_per_hour=2, max_per_day=3), [0, 1, 3700, 3701, 86500],
     [1, 1, 1, 0, 1]),
], ids=["per-hour", "per-day", "both"])
def test_budget_windows_slide(limits: BudgetLimits, times: list[float],
                              allowed: list[int]) -> None:
    budget = Budget(limits)
    got = []
    for now in times:
        ok = budget.allows(now)
        got.append(int(ok))
        if ok:
            budget.spend(now)
    assert got == allowed


def test_gate_holds_past_digest_after_and_sends_one_digest() -> None:
    config = parse_config({"alerting": {}}).alerting
    assert config is not None
    gate = Gate(3, 300.0, Budgets(config), "https://noc.example/status")
    sent = [gate.admit("line", f"INC-{n}", Status.FIRING, Reason.FIRST, 1000.0 + n,
                       lambda n=n: held(f"INC-{n}", sites=n))
            for n in range(1, 9)]
    assert sent == [True, True, True, False, False, False, False, False]
    assert gate.held_counts[("line", "digest")] == 5
    assert gate.digests(1000.0 + 4 + 299) == []
    (digest,) = gate.digests(1000.0 + 4 + 300)
    body = json.loads(digest.payload)
    assert body["kind"] == "digest" and body["firing"] == 5
    assert body["affected_sites"] == 4 + 5 + 6 + 7 + 8
    assert body["message"].splitlines()[0].startswith("[สรุป] ไซต์ใช้งานไม่ได้ 30 ไซต์ ใน"
                                                      "จังหวัดน่าน สาเหตุหลัก 1 จุด")
    assert "[DIGEST] 30 sites down in น่าน Nan, 1 root cause: gateway A (30 sites)" in (
        body["message"])
    assert "https://noc.example/status" in body["message"]
    assert digest.channel == "line" and digest.topic_hint == ("55", "5501")
    # the held incidents' resolutions are folded too, not sent one by one
    assert not gate.admit("line", "INC-5", Status.RESOLVED, Reason.RESOLVED, 2000.0,
                          lambda: held("INC-5", Status.RESOLVED, 5))
    assert gate.admit("line", "INC-1", Status.RESOLVED, Reason.RESOLVED, 2000.0,
                      lambda: held("INC-1", Status.RESOLVED))
    (second,) = gate.digests(2300.0)
    assert json.loads(second.payload)["resolved"] == 1


async def test_mass_outage_one_digest_per_recipient_within_the_budget(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    inventory = wide_inventory(sites_per_district=8)
    down = gateways(inventory)  # 32 site gateways under four district routers
    clock = Clock(1_800_000_000.0)
    run = await start_service(two_recipients(tmp_path, receiver), inventory=inventory,
                              clock=clock)
    ts = await mass_outage(run, down, clock, receiver)
    assert len(receiver.accepted) == 10
    gate = run.service.gate
    assert gate.held_counts == {("techs", "digest"): 27, ("noc", "digest"): 27}
    clock.now += 300
    await eventually(lambda: len(receiver.accepted) == 12, what="one digest per recipient")
    for name in ("techs", "noc"):
        digest = receiver.on(f"/{name}")[-1].json
        assert digest["kind"] == "digest" and digest["firing"] == 27
        assert digest["message"].startswith("[สรุป] ไซต์ใช้งานไม่ได้ 27 ไซต์ ในจังหวัดเชียงใหม่")
        assert "[DIGEST] 27 sites down in เชียงใหม่ Chiang Mai, 27 root causes" in (
            digest["message"])
    # everything answers again: resolutions are summarised the same way, and the techs
    # channel stays within its 8 an hour
    await all_answer_again(run, down, ts, clock)
    await eventually(lambda: receiver.on("/techs")[-1].json.get("kind") == "digest"
                     and receiver.on("/techs")[-1].json.get("resolved", 0) > 0,
                     what="the resolved digest")
    await asyncio.sleep(0.3)
    assert len(receiver.on("/techs")) == 8
    resolved_digest = receiver.on("/techs")[-1].json
    individually = [r.json for r in receiver.on("/techs") if r.json.get("kind") != "digest"
                    and r.json["status"] == "resolved"]
    assert resolved_digest["resolved"] + len(individually) == len(down)
    assert gate.held_counts[("techs", "budget")] >= 1
    run.service.publish_metrics(clock.now)
    published = run.store.latest("pubnet", ALERT_MESSAGES_HELD,
                                 (("channel", "techs"), ("reason", "digest")))
    assert published is not None and published.value == gate.held_counts[("techs", "digest")]


async def test_the_root_of_a_cut_is_sent_though_its_sites_used_up_the_digest_window(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    """A district cut: the sites' gateways are polled (and found down) before their router.
    Their incidents use up ``digest_after``; the router's, which absorbs them ("merged into
    INC-n"), is the one message that explains the rest and is sent at once, not 5 min later
    in a digest."""
    inventory = wide_inventory(sites_per_district=8, districts=("5001",))
    down = gateways(inventory, ("5001",))
    clock = Clock(1_800_000_000.0)
    config = alerting_config(
        tmp_path, routes=[{"match": {}, "channels": ["noc"]}],
        channels={"noc": {"type": "webhook", "url": f"{receiver.base}/noc", "secret": SECRET}},
        digest_after=5, digest_window="5m", power=None)
    run = await start_service(config, inventory=inventory, clock=clock)
    ts = fail_rounds(run.store, down, 1000.0)
    await eventually(lambda: len(list(run.service.incidents())) == len(down),
                     what="one pending incident per site")
    clock.now += 1
    await eventually(lambda: len(receiver.on("/noc")) == 5, what="digest_after messages")
    await asyncio.sleep(0.3)
    fail_rounds(run.store, ["da-5001"], ts)
    clock.now += 1
    await eventually(lambda: any(r.json.get("root_device") == "da-5001"
                                 for r in receiver.on("/noc")),
                     what="the router's incident, before the digest is due")
    first = next(r.json for r in receiver.on("/noc") if r.json.get("root_device") == "da-5001")
    assert first["reason"] == "first" and first["affected_sites"] == 8
    await eventually(lambda: sum(r.json.get("merged_into") == first["incident_id"]
                                 for r in receiver.on("/noc")) == 5,
                     what="the five announced sites merged into it")
    # the three held sites' firsts, and their "merged" updates, wait for the digest
    assert run.service.gate.held_counts == {("noc", "digest"): 6}


async def test_restart_during_a_mass_outage_keeps_the_digest_and_the_budget(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    """Stopped twice on the same database: once with 27 messages held for the digest, once
    after the digest went out. Nothing held is lost, nothing summarised is sent again one
    by one, and the hourly budget counts what went out before each restart."""
    inventory = wide_inventory(sites_per_district=8)
    down = gateways(inventory)
    config = two_recipients(tmp_path, receiver)
    clock = Clock(1_800_000_000.0)
    first = await start_service(config, inventory=inventory, clock=clock)
    ts = await mass_outage(first, down, clock, receiver)
    assert first.service.gate.held_counts == {("techs", "digest"): 27, ("noc", "digest"): 27}
    await first.stop()

    # restart 1: 27 messages per recipient are held, their digest not yet due
    second = await start_service(config, inventory=inventory, clock=clock, store=first.store)
    await asyncio.sleep(0.3)
    assert len(receiver.accepted) == 10, "nothing re-sent at start"
    clock.now += 300
    await eventually(lambda: len(receiver.accepted) == 12, what="the digest after the restart")
    for name in ("techs", "noc"):
        digest = receiver.on(f"/{name}")[-1].json
        assert digest["kind"] == "digest" and digest["firing"] == 27
    await asyncio.sleep(0.3)
    assert len(receiver.accepted) == 12
    await second.stop()

    # restart 2: the digest went out; then everything answers again
    third = await start_service(config, inventory=inventory, clock=clock, store=first.store)
    await asyncio.sleep(0.3)
    assert len(receiver.accepted) == 12
    await all_answer_again(third, down, ts, clock)
    await eventually(lambda: receiver.on("/techs")[-1].json.get("kind") == "digest"
                     and receiver.on("/techs")[-1].json.get("resolved", 0) > 0
                     and receiver.on("/noc")[-1].json.get("resolved", 0) > 0,
                     what="the resolved digests")
    await asyncio.sleep(0.3)
    assert len(receiver.on("/techs")) == 8, "the hourly budget survived both restarts"
    for name in ("techs", "noc"):
        bodies = [r.json for r in receiver.on(f"/{name}")]
        told = {b["incident_id"] for b in bodies if b.get("kind") != "digest"
                and b["status"] == "firing"}
        resolved_alone = {b["incident_id"] for b in bodies if b.get("kind") != "digest"
                          and b["status"] == "resolved"}
        assert resolved_alone <= told, "summarised incidents resolve in a digest, not alone"
        digests = [b for b in bodies if b.get("kind") == "digest"]
        assert sum(d["firing"] for d in digests) == len(down) - len(told)
        assert sum(d["resolved"] for d in digests) + len(resolved_alone) == len(down)
