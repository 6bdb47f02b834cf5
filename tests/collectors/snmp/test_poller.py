"""The poller component: schedule, status into the store, one log line per change, back-off
for dead devices and recovery within one re-check, reboots and counter resets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import pytest

from collectors.snmp import collect as collect_module
from collectors.snmp.client import PacketStats, SnmpTarget, Value
from collectors.snmp.collect import DeviceMemory, collect
from collectors.snmp.counters import WRAP32
from collectors.snmp.poller import STOP_GRACE, SnmpPoller
from collectors.snmp.profiles import load_profiles
from collectors.snmp.schedule import spread_order
from pubnet.model import PollStatus, SeriesKey
from pubnet.state import StateStore
from testbed.scripted import ScriptedClient
from testbed.snmpd import Agent, run_snmpd
from tests.collectors.snmp.fleet import make_config, make_inventory
from tests.support import free_udp_port, require_binary


def with_fields(record: logging.LogRecord) -> str:
    """The message followed by its structured fields, ``key=value`` as the log shows them."""
    fields = {k: v for k, v in vars(record).items() if k not in STANDARD}
    return " ".join([record.getMessage(), *(f"{k}={v}" for k, v in fields.items())])


STANDARD = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName"}


async def wait_for(condition: Callable[[], bool], deadline: float, what: str) -> float:
    """Poll ``condition`` until true; return the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


@contextlib.asynccontextmanager
async def running(poller: SnmpPoller):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(poller.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)


@pytest.mark.integration
async def test_dead_device_backs_off_and_status_is_logged_once(
        snmpd_agent: Agent, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pubnet.snmp")
    agent = snmpd_agent
    inventory = make_inventory([
        ("live-1", agent.host, agent.port, "v2", "if-mib"),
        ("live-2", agent.host, agent.port, "v3-sha-aes128", "if-mib"),
        ("silent", agent.host, agent.port, "bad-community", "if-mib"),
    ])
    config = make_config({"interval": "0.3s", "timeout": "0.25s", "max_backoff": "1.2s"})
    store = StateStore()
    poller = SnmpPoller(config, inventory, store)
    async with running(poller):
        await wait_for(lambda: poller.runs["live-1"].attempts >= 20, 30, "20 polls of live-1")
    runs = poller.runs
    assert store.status("live-1").status is PollStatus.OK  # type: ignore[union-attr]
    assert store.status("live-2").status is PollStatus.OK  # type: ignore[union-attr]
    assert store.status("silent").status is PollStatus.TIMEOUT  # type: ignore[union-attr]
    # back-off once confirmed down (3 failures, alerting's default down_after): the silent
    # device was tried far less often than the live ones
    assert runs["silent"].attempts <= runs["live-1"].attempts // 2
    up = store.latest("live-1", "pubnet_device_up",
                      (("site", "S-2204-0001"), ("role", "site_gateway"),
                       ("province", "22")))
    assert up is not None and up.value == 1.0
    messages = [with_fields(r) for r in caplog.records]
    # The first status is logged once, at debug (the start-up summary counts it), and no
    # poll after it repeats it.
    assert sum("device first status device=silent " in m and "status=timeout" in m
               for m in messages) == 1
    assert sum("device first status device=live-1 " in m and "status=ok" in m
               for m in messages) == 1
    assert not [m for m in messages if "device=silent" in m and "first status" not in m]
    assert not [m for m in messages if "device=live-1" in m and "first status" not in m]
    assert store.latest("pubnet", "pubnet_snmp_requests_total") is not None


@pytest.mark.integration
async def test_recovery_is_seen_within_one_recheck(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pubnet.snmp")
    snmpd = require_binary("snmpd")
    port = free_udp_port()
    inventory = make_inventory([("late", "127.0.0.1", port, "v2", "if-mib")])
    config = make_config({"interval": "0.3s", "timeout": "0.2s", "max_backoff": "0.9s"})
    store = StateStore()
    poller = SnmpPoller(config, inventory, store)

    def status() -> PollStatus | None:
        state = store.status("late")
        return state.status if state is not None else None

    async with running(poller):
        await wait_for(lambda: poller.runs["late"].attempts >= 3, 30, "3 failed attempts")
        assert status() is PollStatus.UNREACHABLE
        agent_cm = run_snmpd(snmpd, [("127.0.0.1", port)])
        await asyncio.to_thread(agent_cm.__enter__)
        try:
            attempts = poller.runs["late"].attempts
            await wait_for(lambda: status() is PollStatus.OK, 30, "recovery")
            # seen at the first re-check after the agent came back (or the one in flight)
            assert poller.runs["late"].attempts <= attempts + 2
        finally:
            await asyncio.to_thread(agent_cm.__exit__, None, None, None)
    messages = [with_fields(r) for r in caplog.records]
    assert sum("device first status device=late " in m and "status=unreachable" in m
               for m in messages) == 1
    assert sum("device up device=late" in m for m in messages) == 1
    assert [r.levelno for r in caplog.records if "device up device=late" in with_fields(r)] \
        == [logging.INFO]


def agent_state(uptime: int, hc_in: int | None, in32: int, speed_mbps: int = 100
                ) -> dict[str, Value]:
    oids: dict[str, Value] = {
        "1.3.6.1.2.1.1.1.0": b"RouterOS", "1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.14988.1",
        "1.3.6.1.2.1.1.3.0": uptime, "1.3.6.1.2.1.1.5.0": b"gw",
        "1.3.6.1.2.1.31.1.1.1.1.1": b"ether1", "1.3.6.1.2.1.2.2.1.8.1": 1,
        "1.3.6.1.2.1.31.1.1.1.15.1": speed_mbps, "1.3.6.1.2.1.2.2.1.10.1": in32,
    }
    if hc_in is not None:
        oids["1.3.6.1.2.1.31.1.1.1.6.1"] = hc_in
    return oids


async def test_reboot_and_wrap_and_rollover_through_collect() -> None:
    profiles = load_profiles()
    memory = DeviceMemory()
    rx = ("pubnet_interface_receive_bytes_total", (("ifname", "ether1"),))

    async def poll(state: dict[str, Value], ts: float) -> float:
        result = await collect(ScriptedClient(state), profiles, "if-mib", "gw", memory, ts)
        (obs,) = [o for o in result.observations if o.key == rx]
        return obs.value

    # 32-bit only device (no ifHCInOctets): first reading is the device's value
    assert await poll(agent_state(100_000, None, WRAP32 - 1000), 1000.0) == WRAP32 - 1000
    # wrapped within 60 s on a 100 Mbit/s link: unwrapped
    assert await poll(agent_state(106_000, None, 500), 1060.0) == WRAP32 + 500
    # sysUpTime went back: a reboot; the new raw value is added, no negative rate
    assert await poll(agent_state(3_000, None, 700), 1120.0) == WRAP32 + 1200
    assert memory.reboots == 1
    # the 497-day rollover is not a reboot
    memory.uptime_ticks = WRAP32 - 3000
    assert await poll(agent_state(3_000, None, 900), 1180.0) == WRAP32 + 1400
    assert memory.reboots == 1
    assert memory.uptime_rollovers == 1
    # the device starts answering ifHCInOctets: re-baselined, still monotonic
    assert await poll(agent_state(9_000, 10**12, 1000), 1240.0) == WRAP32 + 1400
    assert await poll(agent_state(15_000, 10**12 + 5, 1005), 1300.0) == WRAP32 + 1405


class SlowAgents:
    """Healthy agents that each take ``delay`` seconds to answer a GET; counts the GETs
    begun (``started``), in progress (``in_flight``) and most at once (``peak``)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.started = self.in_flight = self.peak = 0

    def factory(self, target: SnmpTarget, stats: PacketStats) -> ScriptedClient:
        return _SlowClient(agent_state(100, 5, 5), self)


class _SlowClient(ScriptedClient):
    def __init__(self, oids: dict[str, Value], agents: SlowAgents) -> None:
        super().__init__(oids)
        self.agents = agents

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        agents = self.agents
        agents.started += 1
        agents.in_flight += 1
        agents.peak = max(agents.peak, agents.in_flight)
        try:
            await asyncio.sleep(agents.delay)
            return await super().get(oids)
        finally:
            agents.in_flight -= 1


async def test_in_flight_is_bounded() -> None:
    inventory = make_inventory([(f"d{i}", "127.0.0.1", 1000 + i, "v2", "if-mib")
                                for i in range(20)])
    config = make_config({"interval": "0.2s", "max_in_flight": 3})
    store = StateStore()
    agents = SlowAgents(0.05)
    poller = SnmpPoller(config, inventory, store, client_factory=agents.factory)
    async with running(poller):
        await wait_for(lambda: poller.polls >= 40, 30, "40 polls")
    assert agents.peak == 3
    assert all(store.status(f"d{i}").status is PollStatus.OK  # type: ignore[union-attr]
               for i in range(20))


async def test_first_polls_follow_the_spread_order_not_the_ids() -> None:
    """Devices take their places in the interval in :func:`spread_order`, not id order:
    routers named apart from site devices would otherwise all come due in one second."""
    ids = [f"d{i:02d}" for i in range(12)]
    inventory = make_inventory([(dev, "127.0.0.1", 1000 + i, "v2", "if-mib")
                                for i, dev in enumerate(ids)])
    agents = SlowAgents(0.0)
    first_polled: list[str] = []

    def factory(target: SnmpTarget, stats: PacketStats) -> ScriptedClient:
        first_polled.append(ids[target.port - 1000])  # a client per device, at its 1st poll
        return agents.factory(target, stats)

    poller = SnmpPoller(make_config({"interval": "1.2s"}), inventory, StateStore(),
                        client_factory=factory)
    async with running(poller):
        await wait_for(lambda: len(first_polled) >= len(ids), 10, "every first poll")
    assert first_polled == spread_order(ids)
    assert first_polled != ids


async def test_cancel_lets_in_flight_polls_finish() -> None:
    inventory = make_inventory([(f"d{i}", "127.0.0.1", 1000 + i, "v2", "if-mib")
                                for i in range(5)])
    config = make_config({"interval": "10s", "timeout": "1s"})
    store = StateStore()
    agents = SlowAgents(0.3)
    poller = SnmpPoller(config, inventory, store, client_factory=agents.factory)
    async with running(poller):
        await wait_for(lambda: agents.started >= 1, 10, "a poll in flight")
    assert agents.started >= 1
    assert poller.polls == agents.started  # nothing was cut off mid-poll
    first = spread_order(f"d{i}" for i in range(5))[0]
    assert store.status(first).status is PollStatus.OK  # type: ignore[union-attr]


async def test_stop_does_not_wait_out_silent_devices() -> None:
    """A poll still in flight after STOP_GRACE (a silent device's timeout and retries) is
    cancelled: it would hold the stop for timeout x attempts, the flushers' time."""
    inventory = make_inventory([(f"d{i}", "127.0.0.1", 1000 + i, "v2", "if-mib")
                                for i in range(5)])
    config = make_config({"interval": "1s", "timeout": "5s", "retries": 1})
    agents = SlowAgents(10.0)  # answers after the timeout: as good as silent
    poller = SnmpPoller(config, inventory, StateStore(), client_factory=agents.factory)
    task = asyncio.create_task(poller.run())
    await wait_for(lambda: agents.in_flight == 5, 10, "five polls in flight")
    started = time.monotonic()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    took = time.monotonic() - started
    assert STOP_GRACE <= took < STOP_GRACE + 1.0, took
    assert agents.in_flight == 0  # cancelled, not left running


async def test_access_point_profile_reads_unifi_and_mikrotik_tables() -> None:
    unifi = "1.3.6.1.4.1.41112.1.6.1.2.1"
    mikrotik = "1.3.6.1.4.1.14988.1.1.1.3.1"
    oids = agent_state(100, 5, 5)
    oids["1.3.6.1.2.1.1.2.0"] = "1.3.6.1.4.1.41112"
    for vap, (radio, name, channel, clients, power) in enumerate(
            [(b"ng", b"ath0", 6, 12, 20), (b"na", b"ath2", 44, 3, 23)], start=1):
        oids.update({f"{unifi}.4.{vap}": channel, f"{unifi}.7.{vap}": name,
                     f"{unifi}.8.{vap}": clients, f"{unifi}.9.{vap}": radio,
                     f"{unifi}.21.{vap}": power, f"{unifi}.6.{vap}": "บ้านไร่แก".encode()})
    oids.update({f"{mikrotik}.4.7": b"village", f"{mikrotik}.6.7": 9,
                 f"{mikrotik}.7.7": 2437, f"{mikrotik}.9.7": -95})
    result = await collect(ScriptedClient(oids), load_profiles(), "auto", "ap", DeviceMemory(),
                           1.0)
    assert result.profile.name == "access-point"
    got = {(o.metric, o.labels): o.value for o in result.observations
           if o.metric.startswith("pubnet_ap_")}
    assert got[("pubnet_ap_clients", (("radio", "ng"), ("vap", "ath0")))] == 12
    assert got[("pubnet_ap_clients", (("radio", "na"), ("vap", "ath2")))] == 3
    assert got[("pubnet_ap_radio_channel", (("radio", "na"), ("vap", "ath2")))] == 44
    assert got[("pubnet_ap_radio_tx_power_dbm", (("radio", "ng"), ("vap", "ath0")))] == 20
    assert got[("pubnet_ap_clients", (("radio", "7"), ("vap", "village")))] == 9
    assert got[("pubnet_ap_radio_noise_dbm", (("radio", "7"), ("vap", "village")))] == -95
    assert got[("pubnet_ap_radio_frequency_mhz", (("radio", "7"), ("vap", "village")))] == 2437


async def test_overloaded_poller_reports_lag_and_in_flight() -> None:
    """A poller that cannot keep up says so in pubnet_poll_lag_seconds before devices show
    gaps: 10 devices every 0.2 s, one at a time, 50 ms each, is 2.5× too much work."""
    inventory = make_inventory([(f"d{i}", "127.0.0.1", 1000 + i, "v2", "if-mib")
                                for i in range(10)])
    config = make_config({"interval": "0.2s", "max_in_flight": 1})
    store = StateStore()
    poller = SnmpPoller(config, inventory, store, client_factory=SlowAgents(0.05).factory)
    async with running(poller):
        await wait_for(lambda: poller.polls >= 20, 30, "20 polls")
        poller._publish_stats()
        lag = store.latest("pubnet", "pubnet_poll_lag_seconds")
        in_flight = store.latest("pubnet", "pubnet_polls_in_flight")
    assert lag is not None and lag.value > 0.2
    assert in_flight is not None and in_flight.value in (0.0, 1.0)


def scripted_gateway(state: dict[str, Value]) -> tuple[SnmpPoller, StateStore]:
    """A poller of one if-mib gateway ``gw`` whose agent answers from ``state``, and its
    store."""
    inventory = make_inventory([("gw", "127.0.0.1", 1000, "v2", "if-mib")])
    store = StateStore()

    def factory(target: SnmpTarget, stats: PacketStats) -> ScriptedClient:
        return ScriptedClient(state)

    return SnmpPoller(make_config({}), inventory, store, client_factory=factory), store


async def test_reboot_is_carried_in_the_attempt_record() -> None:
    """Issue 11 §2: the poller's own finding (sysUpTime went back, not the 497-day
    rollover) reaches consumers in the attempt record; nobody re-detects it from uptime."""
    state = agent_state(100_000, None, 1000)
    poller, store = scripted_gateway(state)
    run = poller.runs["gw"]
    with store.subscription("attempts", metrics=()) as sub:
        await poller.poll_and_publish(run)
        state.update(agent_state(160_000, None, 2000))
        await poller.poll_and_publish(run)
        state.update(agent_state(3_000, None, 3000))
        await poller.poll_and_publish(run)
        attempts = [a for batch in iter(sub.get_nowait, None) for a in batch.attempts]
    assert [(a.status, a.rebooted) for a in attempts] == [
        (PollStatus.OK, False), (PollStatus.OK, False), (PollStatus.OK, True)]
    assert attempts[2].detail == "uptime 1600s -> 30s"
    assert [a.changed for a in attempts] == [True, False, False]


async def test_devices_share_their_counter_keys_up_to_a_bound(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """100,000 devices each count ``ether1``: one key (and label tuple) between them, kept
    by every device's counters; past the bound a device keeps its own, counted the same."""
    profiles = load_profiles()
    keys: dict[SeriesKey, SeriesKey] = {}
    one, two = DeviceMemory(keys=keys), DeviceMemory(keys=keys)
    for memory, device in ((one, "gw1"), (two, "gw2")):
        state = agent_state(100_000, 5_000, 7)
        await collect(ScriptedClient(state), profiles, "if-mib", device, memory, 1000.0)
    rx = ("pubnet_interface_receive_bytes_total", (("ifname", "ether1"),))
    held = [next(k for k in m.counters if k == rx) for m in (one, two)]
    assert held[0] is held[1]
    assert keys[rx] is held[0]

    monkeypatch.setattr(collect_module, "MAX_SHARED_KEYS", len(keys))
    three = DeviceMemory(keys=keys)
    state = agent_state(100_000, 5_000, 7)
    state["1.3.6.1.2.1.31.1.1.1.1.1"] = b"ether9"
    result = await collect(ScriptedClient(state), profiles, "if-mib", "gw3", three, 1000.0)
    rx9 = ("pubnet_interface_receive_bytes_total", (("ifname", "ether9"),))
    assert rx9 in three.counters and rx9 not in keys
    assert [o.value for o in result.observations if o.key == rx9] == [5_000]


async def test_a_renamed_device_keeps_one_info_series_and_its_labels_one_tuple() -> None:
    """sysName changes: the old pubnet_device_info series goes, the new one stays alone;
    polls that change nothing keep the same label tuple (not a new one per poll)."""
    state = agent_state(100_000, None, 1000)
    poller, store = scripted_gateway(state)
    run = poller.runs["gw"]

    def info_names() -> list[str]:
        return sorted(dict(labels)["sys_name"] for (metric, labels)
                      in store.device_series("gw") if metric == "pubnet_device_info")

    await poller.poll_and_publish(run)
    first = run.info_key
    await poller.poll_and_publish(run)
    assert run.info_key is first and not run.info_changed
    assert info_names() == ["gw"]
    state["1.3.6.1.2.1.1.5.0"] = b"gw-renamed"
    await poller.poll_and_publish(run)
    assert run.info_changed and info_names() == ["gw-renamed"]
    await poller.poll_and_publish(run)
    assert info_names() == ["gw-renamed"]


async def test_a_steady_poll_is_stored_in_one_slice() -> None:
    """The store keeps a device's series in the order of its first poll and stores a
    later poll found there, in that order, in one slice. The first poll's status zeros
    used to sit between ``pubnet_device_poll_status{status="ok"}`` and the poll's
    duration, so no steady poll was ever stored so (84 against 41 µs a poll of 80
    interfaces); a failed poll, and the one after it, may go the slow way."""
    state = agent_state(100_000, None, 1000)
    poller, store = scripted_gateway(state)
    run = poller.runs["gw"]
    await poller.poll_and_publish(run)  # first: every status, the zeros last
    taken: list[bool] = []
    republish = store._republish

    def spy(columns: object) -> bool:
        taken.append(republish(columns))  # type: ignore[arg-type]
        return taken[-1]

    store._republish = spy  # type: ignore[method-assign]
    for uptime in (106_000, 112_000, 118_000):
        state.update(agent_state(uptime, None, uptime))
        await poller.poll_and_publish(run)
    assert taken == [True, True, True]
    status = {dict(labels)["status"]: store.latest("gw", metric, labels).value  # type: ignore[union-attr]
              for metric, labels in store.device_series("gw")
              if metric == "pubnet_device_poll_status"}
    assert status == {s.value: float(s is PollStatus.OK) for s in PollStatus}
