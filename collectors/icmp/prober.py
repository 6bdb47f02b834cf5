"""The ``icmp-prober`` component: round-trip time and loss for devices with profile ``icmp``.

Cheap CPE without SNMP is watched by ping alone. Each device is probed every
``icmp.interval`` with ``icmp.count`` echo requests; its first probe is spread evenly over the
first interval and later ones fall on a fixed grid (start + offset + k × interval), so there
is no drift over hours. A probe whose previous one is still running skips its turn.

Every probe ends in one status through the same path as SNMP polls (``store.set_status``):
``ok`` when any reply came back, ``unreachable`` when the network said so, ``error`` when
nothing could be sent (a name that does not resolve, IPv6), ``timeout`` otherwise; changes
are logged once. Observations: ``pubnet_probe_rtt_seconds`` (mean of the answered requests;
absent when none answered), ``pubnet_probe_loss_ratio``, ``pubnet_device_up`` and
``pubnet_device_poll_status``, all with Source.ICMP.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack

from collectors.icmp.ping import Pinger, ProbeResult, SocketPinger
from collectors.identity import SharedLabels, device_labels, status_observations
from collectors.receive_buffer import DropWatch, warn_if_small
from inventory.model import Device, Inventory
from pubnet.catalog import PROBE_LOSS, PROBE_RTT
from pubnet.config import IcmpConfig
from pubnet.model import Labels, Observation, PollStatus, Source
from pubnet.state import StateStore

log = logging.getLogger("pubnet.icmp")

DROPS_EVERY = 15.0
"""Seconds between readings of the kernel's drop counter of the ICMP socket."""


def icmp_devices(inventory: Inventory) -> list[Device]:
    return sorted((d for d in inventory.devices.values() if d.profile == "icmp"),
                  key=lambda d: d.device_id)


def first_due(start: float, interval: float, position: int, total: int) -> float:
    """When device number ``position`` of ``total`` is first probed: spread over one
    interval."""
    return start + interval * position / max(total, 1)


async def ping_device(pinger: Pinger, device: Device, config: IcmpConfig) -> ProbeResult:
    """One probe of ``device`` with ``icmp.count`` echo requests; a socket error (a name
    that does not resolve, no route) is a failed probe, not an exception."""
    try:
        return await pinger.ping(device.host, config.count, config.timeout, config.spacing)
    except OSError as exc:
        return ProbeResult(1, 0, (), error=f"{type(exc).__name__}: {exc}")


def no_socket_detail(exc: PermissionError) -> str:
    """Every ICMP device's status detail when pubnet may not open an ICMP socket."""
    return (f"cannot open an ICMP socket ({exc.strerror}): run as root, grant "
            "CAP_NET_RAW, or widen net.ipv4.ping_group_range")


def status_of(result: ProbeResult) -> tuple[PollStatus, str]:
    if result.received:
        return PollStatus.OK, ""
    if not result.sent:
        return PollStatus.ERROR, result.error or "nothing sent"
    if result.unreachable:
        return PollStatus.UNREACHABLE, result.error or "unreachable"
    return PollStatus.TIMEOUT, result.error or f"no reply to {result.sent} echo requests"


def observations_for(device: str, result: ProbeResult, status: PollStatus, changed: bool,
                     labels: Labels, ts: float) -> list[Observation]:
    out = [Observation(device, PROBE_LOSS, result.loss, ts, Source.ICMP)]
    rtt = result.rtt
    if rtt is not None:
        out.append(Observation(device, PROBE_RTT, rtt, ts, Source.ICMP))
    return out + status_observations(device, status, ts, Source.ICMP, labels, changed=changed)


class IcmpProber:
    """A component: probe every ``icmp`` device until cancelled."""

    name = "icmp-prober"

    def __init__(
        self,
        config: IcmpConfig,
        inventory: Inventory,
        store: StateStore,
        *,
        pinger: Pinger | None = None,
        devices: Sequence[Device] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.inventory = inventory
        self.store = store
        self.pinger = pinger
        self.devices = list(devices) if devices is not None else icmp_devices(inventory)
        self.clock = clock
        self.probes = 0
        shared: SharedLabels = {}
        self._labels = {d.device_id: device_labels(inventory, d, shared)[0]
                        for d in self.devices}
        self._last: dict[str, PollStatus] = {}
        self.ready = asyncio.Event()
        """Set once probing has begun (or failed visibly for want of an ICMP socket)."""

    async def probe(self, pinger: Pinger, device: Device) -> PollStatus:
        """Probe one device once and record the outcome; never raises (but cancellation)."""
        ts = self.clock()
        result = await ping_device(pinger, device, self.config)
        status, detail = status_of(result)
        dev = device.device_id
        changed = self._last.get(dev) is not status
        self._last[dev] = status
        observations = observations_for(dev, result, status, changed, self._labels[dev], ts)
        change = self.store.set_status(dev, status, ts, Source.ICMP, detail, observations)
        self.probes += 1
        if change is not None:
            level = logging.INFO if status is PollStatus.OK else logging.WARNING
            if change.previous is None:  # first contact: the start-up summary counts it
                level = logging.DEBUG
            log.log(level, "device status", extra={
                "device": dev, "site": device.site_id, "status": status.value,
                "previous": change.previous.value if change.previous else "none",
                "detail": detail or "-"})
        return status

    async def run(self) -> None:
        self.ready.set()
        if not self.devices:
            await asyncio.Event().wait()
        async with AsyncExitStack() as stack:
            pinger = self.pinger
            if pinger is None:
                try:
                    pinger = await stack.enter_async_context(SocketPinger())
                except PermissionError as exc:
                    await self._cannot_ping(exc)
                    return
            log.info("icmp prober started", extra={
                "devices": len(self.devices), "interval_s": self.config.interval,
                "count": self.config.count})
            if isinstance(pinger, SocketPinger):
                warn_if_small(log, "icmp", pinger.receive_buffer)
            await self._schedule(pinger)

    async def _count_kernel_drops(self, pinger: SocketPinger) -> None:
        """Publish what the kernel dropped from the socket every :data:`DROPS_EVERY` s."""
        watch = DropWatch("icmp", log)
        while True:
            watch.publish(self.store, pinger.socket, self.clock())
            await asyncio.sleep(DROPS_EVERY)

    async def _cannot_ping(self, exc: PermissionError) -> None:
        """No ICMP socket: every device gets status ``error`` (visible, not a crash)."""
        detail = no_socket_detail(exc)
        log.error("icmp prober cannot ping",
                  extra={"devices": len(self.devices), "detail": detail})
        ts = self.clock()
        for device in self.devices:
            dev = device.device_id
            self.store.set_status(dev, PollStatus.ERROR, ts, Source.ICMP, detail,
                                  status_observations(dev, PollStatus.ERROR, ts, Source.ICMP,
                                                      self._labels[dev], changed=True))
        await asyncio.Event().wait()

    async def _schedule(self, pinger: Pinger) -> None:
        interval = self.config.interval
        start = time.monotonic()
        total = len(self.devices)
        queue = [(first_due(start, interval, i, total), i) for i in range(total)]
        heapq.heapify(queue)
        limit = asyncio.Semaphore(self.config.max_in_flight)
        running: set[int] = set()

        async def one(position: int) -> None:
            try:
                async with limit:
                    await self.probe(pinger, self.devices[position])
            finally:
                running.discard(position)

        async with asyncio.TaskGroup() as group:
            if isinstance(pinger, SocketPinger):
                group.create_task(self._count_kernel_drops(pinger), name="icmp-drops")
            while queue:
                due, position = heapq.heappop(queue)
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                heapq.heappush(queue, (due + interval, position))
                if position in running:
                    continue
                running.add(position)
                group.create_task(one(position), name=f"icmp-{self.devices[position].device_id}")
