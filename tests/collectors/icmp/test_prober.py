"""ICMP probes: a real ping to 127.0.0.1, and a fake transport for hosts that must not
answer (every 127.x address answers on Linux, and traffic must stay on loopback)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest

from collectors.icmp.ping import (
    FakePinger,
    ProbeResult,
    SocketPinger,
    checksum,
    echo_request,
    round_trip,
)
from collectors.icmp.prober import IcmpProber, first_due, status_of
from collectors.receive_buffer import RECEIVE_BUFFER
from inventory.model import Device, Inventory, Role, Site, SiteKind
from pubnet.config import IcmpConfig
from pubnet.model import PollStatus, Source
from pubnet.state import StateStore
from testbed.busyloop import BusyLoop
from tests.support import eventually


def inventory(*hosts: tuple[str, str]) -> Inventory:
    inv = Inventory()
    inv.sites["site-1"] = Site("site-1", "บ้านโคก", SiteKind.SCHOOL, "40", "4001", "400101",
                               "1", 16.4, 102.8, province_name_en="Khon Kaen")
    for dev_id, host in hosts:
        inv.devices[dev_id] = Device(dev_id, "site-1", Role.ACCESS_POINT, host, None, "icmp",
                                     "", "")
    inv.devices["snmp-1"] = Device("snmp-1", "site-1", Role.SITE_GATEWAY, "127.0.0.1", None,
                                   "if-mib", "v", "")
    return inv


CONFIG = IcmpConfig(interval=60, timeout=0.3, count=3, spacing=0.01)


def test_echo_request_checksum_verifies() -> None:
    packet = echo_request(0x1234, 7)
    assert checksum(packet) == 0
    assert packet[0] == 8 and packet[4:8] == b"\x12\x34\x00\x07"


async def test_real_ping_to_localhost_is_up() -> None:
    store = StateStore()
    prober = IcmpProber(CONFIG, inventory(("cpe-1", "127.0.0.1")), store)
    assert [d.device_id for d in prober.devices] == ["cpe-1"]  # only profile icmp
    async with SocketPinger() as pinger:
        status = await prober.probe(pinger, prober.devices[0])
    assert status is PollStatus.OK
    rtt = store.latest("cpe-1", "pubnet_probe_rtt_seconds")
    loss = store.latest("cpe-1", "pubnet_probe_loss_ratio")
    up = store.latest("cpe-1", "pubnet_device_up",
                      (("site", "site-1"), ("role", "access_point"), ("province", "40")))
    assert rtt is not None and 0 < rtt.value < 0.3 and rtt.source is Source.ICMP
    assert loss is not None and loss.value == 0.0
    assert up is not None and up.value == 1.0
    state = store.status("cpe-1")
    assert state is not None and state.status is PollStatus.OK and state.source is Source.ICMP


async def test_names_resolve_and_bad_targets_are_errors() -> None:
    async with SocketPinger() as pinger:
        named = await pinger.ping("localhost", 1, 1.0, 0.0)
        v6 = await pinger.ping("::1", 1, 1.0, 0.0)
    assert named.received == 1  # "localhost" comes from /etc/hosts: no DNS traffic
    assert status_of(v6)[0] is PollStatus.ERROR and "IPv6" in v6.error


async def test_many_concurrent_pings_are_matched_to_their_hosts() -> None:
    async with SocketPinger() as pinger:
        results = await asyncio.gather(*(pinger.ping(f"127.0.{i}.1", 2, 1.0, 0.0)
                                         for i in range(50)))
    assert all(r.received == 2 and r.loss == 0 for r in results)


@pytest.mark.parametrize(("fake", "status", "loss", "has_rtt"), [
    (FakePinger(loss={"127.9.9.9": 1.0}), PollStatus.TIMEOUT, 1.0, False),
    (FakePinger(unreachable=["127.9.9.9"]), PollStatus.UNREACHABLE, 1.0, False),
    (FakePinger(loss={"127.9.9.9": 1 / 3}), PollStatus.OK, 1 / 3, True),
], ids=["silent", "unreachable", "partial-loss"])
async def test_hosts_that_do_not_answer(fake: FakePinger, status: PollStatus, loss: float,
                                        has_rtt: bool) -> None:
    store = StateStore()
    prober = IcmpProber(CONFIG, inventory(("cpe-9", "127.9.9.9")), store, pinger=fake)
    assert await prober.probe(fake, prober.devices[0]) is status
    observed = store.latest("cpe-9", "pubnet_probe_loss_ratio")
    assert observed is not None and observed.value == pytest.approx(loss)
    assert (store.latest("cpe-9", "pubnet_probe_rtt_seconds") is not None) is has_rtt
    poll = store.latest("cpe-9", "pubnet_device_poll_status", (("status", status.value),))
    assert poll is not None and poll.value == 1.0


async def test_status_changes_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakePinger(loss={"127.9.9.9": 1.0})
    store = StateStore()
    prober = IcmpProber(CONFIG, inventory(("cpe-9", "127.9.9.9")), store, pinger=fake)
    with caplog.at_level(logging.DEBUG, logger="pubnet.icmp"):
        for _ in range(3):
            await prober.probe(fake, prober.devices[0])
        fake.loss.clear()
        for _ in range(3):
            await prober.probe(fake, prober.devices[0])
    records = [r for r in caplog.records if "device status" in r.getMessage()]
    # fields as structured keys, not inside the message (--log-format json shows them)
    assert [(r.getMessage(), r.__dict__["device"], r.__dict__["status"]) for r in records] == [
        ("device status", "cpe-9", "timeout"), ("device status", "cpe-9", "ok")]
    # the first status at debug (the start-up summary counts it), the recovery at info
    assert [r.levelno for r in records] == [logging.DEBUG, logging.INFO]


async def test_component_probes_on_a_spread_grid_and_stops_when_cancelled() -> None:
    fake = FakePinger()
    hosts = [(f"cpe-{i}", f"127.9.0.{i}") for i in range(1, 5)]
    prober = IcmpProber(IcmpConfig(interval=0.4, timeout=0.1, count=1), inventory(*hosts),
                        StateStore(), pinger=fake)
    task = asyncio.create_task(prober.run())
    deadline = time.monotonic() + 10
    while prober.probes < 12:
        assert time.monotonic() < deadline, "prober stalled"
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.calls[:4] == [h for _, h in hosts]  # first round in spread order
    assert set(fake.calls) == {h for _, h in hosts}


def test_first_probes_are_spread_over_one_interval() -> None:
    dues = [first_due(100.0, 60.0, i, 4) for i in range(4)]
    assert dues == [100.0, 115.0, 130.0, 145.0]


def test_status_of_results() -> None:
    assert status_of(ProbeResult(3, 1, (0.1,)))[0] is PollStatus.OK
    assert status_of(ProbeResult(3, 0, ()))[0] is PollStatus.TIMEOUT
    assert status_of(ProbeResult(1, 0, (), unreachable=True))[0] is PollStatus.UNREACHABLE


async def test_no_icmp_socket_marks_devices_error_instead_of_crashing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Denied:
        async def __aenter__(self) -> None:
            raise PermissionError(1, "Operation not permitted")

        async def __aexit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr("collectors.icmp.prober.SocketPinger", Denied)
    store = StateStore()
    prober = IcmpProber(CONFIG, inventory(("cpe-1", "127.0.0.1")), store)
    task = asyncio.create_task(prober.run())
    deadline = time.monotonic() + 5
    while store.status("cpe-1") is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    state = store.status("cpe-1")
    assert state is not None and state.status is PollStatus.ERROR
    assert "CAP_NET_RAW" in state.detail
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_reply_read_in_the_turn_its_deadline_passes_counts() -> None:
    """On a saturated loop the reply and the deadline often come due in one turn (the
    reply was back in time, the loop was busy). It is an answer: with ``asyncio.timeout``
    the timer cancelled the probe after the reply was read, and gateways that answered
    became site-down and "power cut likely" incidents for a round (bench/fleet.py)."""
    busy = BusyLoop(turn=0.4)  # each turn outlasts the probe's 0.2 s deadline
    async with SocketPinger() as pinger:
        probe = asyncio.create_task(pinger.ping("127.0.0.1", 3, 0.2, 0.0))
        busy.start()  # in the turn an echo request goes out, the loop is busy after it
        try:
            result = await probe
        finally:
            busy.stop()
    assert (result.sent, result.received) == (3, 3)


async def test_replies_to_a_thousand_probes_wait_in_the_socket_for_a_busy_loop() -> None:
    """One socket takes every ICMP device's replies. With the kernel's default receive
    buffer (~208 KiB, ~130 replies) 128 of these 1,000 replies survived a 0.5 s loop
    turn, and gateways that answered became site-down and power incidents at 100,000
    devices."""
    busy = BusyLoop(turn=0.5)
    async with SocketPinger() as pinger:
        probes = [asyncio.create_task(pinger.ping(f"127.0.{n // 250}.{1 + n % 250}", 1, 3.0,
                                                  0.0)) for n in range(1000)]
        busy.start()  # the requests go out, then the loop is busy while the replies come
        try:
            results = await asyncio.gather(*probes)
        finally:
            busy.stop()
    assert sum(result.received for result in results) == 1000
    assert pinger.receive_buffer >= 2 * RECEIVE_BUFFER  # as root (CI): beyond rmem_max


async def test_the_kernel_s_drops_on_the_icmp_socket_are_published() -> None:
    """The series exists from the start (0), so that a NOC can graph and alert on it."""
    store = StateStore()
    prober = IcmpProber(CONFIG, inventory(("cpe-1", "127.0.0.1")), store)
    task = asyncio.create_task(prober.run())
    try:
        await eventually(lambda: store.latest(
            "pubnet", "pubnet_socket_receive_drops_total", (("socket", "icmp"),)) is not None)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    drops = store.latest("pubnet", "pubnet_socket_receive_drops_total", (("socket", "icmp"),))
    assert drops is not None and drops.value == 0.0 and drops.source is Source.INTERNAL


async def test_a_small_receive_buffer_is_said_once_at_start(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("collectors.icmp.ping.enlarge_receive_buffer",
                        lambda sock, wanted=0: 212992 * 2)  # stock rmem_max, no privilege
    prober = IcmpProber(CONFIG, inventory(("cpe-1", "127.0.0.1")), StateStore())
    with caplog.at_level(logging.WARNING, logger="pubnet.icmp"):
        task = asyncio.create_task(prober.run())
        await eventually(lambda: any("receive buffer" in r.getMessage() for r in caplog.records))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    warned = [r for r in caplog.records if "receive buffer" in r.getMessage()]
    assert len(warned) == 1 and "net.core.rmem_max" in warned[0].getMessage()


async def test_the_round_trip_time_is_the_network_s_not_the_loop_s() -> None:
    """A reply read a busy loop turn late has the RTT of its arrival in the kernel: on a
    saturated pubnet every ICMP device's RTT graph showed the loop's delay (~0.4 s here)."""
    busy = BusyLoop(turn=0.4)
    async with SocketPinger() as pinger:
        probe = asyncio.create_task(pinger.ping("127.0.0.1", 2, 1.0, 0.0))
        busy.start()  # the loop is busy after each echo request goes out
        try:
            result = await probe
        finally:
            busy.stop()
    assert result.received == 2
    assert max(result.rtts) < 0.1  # loopback answers in microseconds


def test_a_wall_clock_step_leaves_the_loop_s_measure() -> None:
    assert round_trip(0.5, 1000.0010, 1000.0) == pytest.approx(0.001)
    assert round_trip(0.5, None, 1000.0) == 0.5  # no arrival time from the kernel
    assert round_trip(0.5, 999.0, 1000.0) == 0.5  # the clock went back meanwhile
    assert round_trip(0.5, 1003.0, 1000.0) == 0.5  # or forward


async def test_a_probe_cancelled_as_its_answer_arrives_stops() -> None:
    """A stop that meets an echo reply in the same loop turn still stops the probe.
    Python 3.11's ``asyncio.wait_for`` returns the finished future's result instead and
    swallows the cancellation: the probe went on to its next echoes, and under load the
    ICMP prober overran its share of a SIGTERM's 10 s (bench/fleet.py, run e)."""
    async with SocketPinger() as pinger:
        probe = asyncio.create_task(pinger.ping("127.0.0.1", 3, 5.0, 0.0))
        await asyncio.sleep(0)  # the probe's first step: its first echo request goes out
        (answer, _sent, _wall), = pinger._waiting.values()  # its reply is awaited
        answer.set_result(0.001)  # the reply and the stop, in one turn
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
