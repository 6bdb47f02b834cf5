"""The SNMP poller component: every SNMP device of the inventory, on its own schedule.

One scheduler task keeps a heap of due times; at most ``snmp.max_in_flight`` polls run at
once, fewer when the poller's share of file descriptors (pubnet/fdbudget.py) is smaller (a
dead device holds its slot for at most timeout × attempts). Every poll ends in one
:class:`~pubnet.model.PollStatus` that goes to the store with the poll's observations via
``store.set_status``: one attempt record, carrying whether sysUpTime says the device
rebooted (:mod:`collectors.snmp.collect`). The store reports a change, and only a change is
logged.

Labels: series from profiles carry only their own labels (ifname, radio, ...);
``pubnet_device_up`` and ``pubnet_device_info`` carry the inventory's site, role, province
(and district, profile, sysName, sysDescr on info). Dashboards join on ``device``; see
docs/metrics.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from collectors.identity import (
    SharedLabels,
    attempt_batch,
    device_labels,
    info_labels,
    status_observations,
)
from collectors.snmp.ber_check import Shapes
from collectors.snmp.client import ClientFactory, PacketStats, SnmpClient, SnmpTarget
from collectors.snmp.collect import DeviceMemory, LabelSets, PollResult, collect
from collectors.snmp.counterbank import SlotMaps
from collectors.snmp.deadlines import Deadlines
from collectors.snmp.errors import SnmpError, status_for
from collectors.snmp.layout import LayoutParts
from collectors.snmp.profiles import PROFILES_DIR, ProfileSet, load_profiles
from collectors.snmp.schedule import after_failure, first_offsets, next_due, spread_order
from collectors.snmp.socket_pool import SocketPool
from inventory.model import NON_SNMP_PROFILES, Device, Inventory
from pubnet.catalog import (
    DEVICE_INFO,
    DEVICE_POLL_DURATION,
    LABEL_REASON,
    POLL_LAG,
    POLLS_IN_FLIGHT,
    PUBNET_DEVICE,
    SNMP_DROPPED_PACKETS,
    SNMP_REQUESTS,
    SNMP_RETRIES,
)
from pubnet.config import Config, SnmpConfig
from pubnet.config.alerting import DOWN_AFTER
from pubnet.fdbudget import plan_budget
from pubnet.model import Labels, Observation, PollStatus, SeriesKey, Source
from pubnet.state import StateStore

log = logging.getLogger("pubnet.snmp")

STATS_EVERY = 10.0
"""Seconds between publications of the collector's own counters."""
STOP_GRACE = 1.0
"""Seconds in-flight polls get to finish when the poller stops. An answered poll ends within
milliseconds, even on a busy loop; what is still in flight after a second waits out a
silent device's timeout and retries and ends as a timeout, worth nothing at shutdown. At
100,000 devices 2,000 polls are always in flight, and after a district cut many of them
held the stop for timeout × attempts (4 s of the 8 s budget the flushers need)."""


def snmp_devices(inventory: Inventory, only: Iterable[str] | None = None) -> list[Device]:
    """The inventory's devices polled over SNMP (not ``icmp``/``mqtt``), in id order."""
    wanted = set(only) if only is not None else None
    return [d for _, d in sorted(inventory.devices.items())
            if d.profile not in NON_SNMP_PROFILES and (wanted is None or d.device_id in wanted)]


def load_configured_profiles(config: SnmpConfig) -> ProfileSet:
    """The shipped profiles plus ``snmp.profiles_dir`` (which may override them by name)."""
    folders = [PROFILES_DIR]
    if config.profiles_dir is not None:
        folders.append(config.profiles_dir)
    return load_profiles(*folders)


@dataclass(slots=True)
class _DeviceRun:
    """Per-device state the poller keeps between polls."""

    device: Device
    target: SnmpTarget | None
    interval: float
    up_labels: Labels
    info_labels: Labels
    memory: DeviceMemory = field(default_factory=DeviceMemory)
    client: SnmpClient | None = None
    status: PollStatus | None = None
    failures: int = 0
    attempts: int = 0
    crashed: bool = False
    info_key: Labels = ()
    info_changed: bool = False
    """The last poll's ``pubnet_device_info`` labels differ from the poll's before (or it
    was the first): only then may the store hold an info series to forget."""
    reboot: str = ""
    """How sysUpTime went back at the last poll ('' when it did not): the attempt record
    carries it as ``rebooted`` and ``detail``."""


class DevicePoller:
    """Polls devices one at a time into observations; shared by the component, the
    ``pubnet poll`` command and the benchmark."""

    def __init__(
        self,
        config: Config,
        inventory: Inventory,
        profiles: ProfileSet,
        client_factory: ClientFactory | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stats = PacketStats()
        self.counter_keys: dict[SeriesKey, SeriesKey] = {}
        """Counter keys shared by every device's memory (see ``DeviceMemory.keys``)."""
        self.layout_parts: LayoutParts = {}
        """Layout tuples shared by every device's memory (see ``DeviceMemory.parts``)."""
        self.slot_maps: SlotMaps = {}
        """Counter slot maps shared by every device's memory (``DeviceMemory.slot_maps``)."""
        self.label_sets: LabelSets = {}
        """Rows' label tuples shared by every device's memory (``DeviceMemory.label_sets``)."""
        self.pool: SocketPool | None = None
        """Sockets lent to polls that do not keep their own (gufo-snmp clients only)."""
        if client_factory is None:
            from collectors.snmp.gufo_client import GufoClient
            pool = self.pool = SocketPool(self.stats)
            shapes: Shapes = {}
            deadlines = Deadlines()

            def client_factory(target: SnmpTarget, stats: PacketStats) -> SnmpClient:
                return GufoClient(target, stats, pool, shapes, deadlines)
        self.config = config
        self.inventory = inventory
        self.profiles = profiles
        self.factory = client_factory
        self.clock = clock
        self.keep_sockets = False
        """Keep every device's socket open between polls (set by the poller when the file
        descriptor limit allows: saves a socket setup and teardown per poll)."""
        self.shared_labels: SharedLabels = {}
        """One copy of each equal label pair and set across the devices' runs."""

    def prepare(self, device: Device) -> _DeviceRun:
        snmp = self.config.snmp
        credential = self.config.credentials.get(device.credential)
        target = None
        if credential is not None:
            port = device.port if device.port is not None else snmp.port
            target = SnmpTarget(device.host, port, credential, snmp.timeout, snmp.retries)
        interval = snmp.interval_by_role.get(str(device.role), snmp.interval)
        up, info = device_labels(self.inventory, device, self.shared_labels)
        return _DeviceRun(device, target, interval, up, info,
                          memory=DeviceMemory(rewalk_every=snmp.rewalk_every,
                                              # the same phase at every start
                                              rewalk_phase=zlib.crc32(
                                                  device.device_id.encode()),
                                              keys=self.counter_keys,
                                              parts=self.layout_parts,
                                              slot_maps=self.slot_maps,
                                              label_sets=self.label_sets))

    async def poll(self, run: _DeviceRun) -> tuple[PollStatus, str, list[Observation]]:
        """Poll once; never raises (except cancellation). Returns status, detail and every
        observation of this poll, device-level ones included."""
        device = run.device
        ts = self.clock()
        started = time.perf_counter()
        result: PollResult | None = None
        detail = ""
        if run.target is None:
            status, detail = PollStatus.ERROR, f"unknown credential {device.credential!r}"
        elif (device.profile not in self.profiles.profiles
              and not self.profiles.is_auto(device.profile)):  # names() builds two sets
            status, detail = PollStatus.ERROR, f"unknown profile {device.profile!r}"
        else:
            client = run.client
            if client is None:
                client = self.factory(run.target, self.stats)
                client.keep_open = self.keep_sockets
            try:
                async with client:
                    result = await collect(client, self.profiles, device.profile,
                                           device.device_id, run.memory, ts)
                status = PollStatus.OK
                # kept even when its socket is not: what it learned stays (the agent's
                # resolved address, its answers' framing for the BER check)
                run.client = client
            except SnmpError as exc:
                status, detail = exc.status, str(exc)
                _discard(run, client)
            except (OSError, ValueError) as exc:
                status, detail = status_for(exc), f"{type(exc).__name__}: {exc}"
                _discard(run, client)
            except Exception as exc:  # a bug or a very strange agent: never stop the poller
                status, detail = PollStatus.ERROR, f"{type(exc).__name__}: {exc}"
                _discard(run, client)
                if not run.crashed:
                    run.crashed = True
                    log.exception("poll failed unexpectedly",
                                  extra={"device": device.device_id})
        observations = result.observations if result is not None else []
        dev = device.device_id
        run.reboot = result.detail if result is not None and result.rebooted else ""
        statuses = status_observations(dev, status, ts, Source.SNMP, run.up_labels,
                                       changed=status is not run.status)
        every_time = [Observation(dev, DEVICE_POLL_DURATION, time.perf_counter() - started,
                                  ts, Source.SNMP)]
        if result is not None:
            info = info_labels(run.info_labels, result.sys_name, result.sys_descr,
                               self.shared_labels)
            if info == run.info_key:
                info = run.info_key  # the same labels poll after poll: one tuple
                run.info_changed = False
            else:
                run.info_key = info
                run.info_changed = True
            every_time.append(Observation(dev, DEVICE_INFO, 1.0, ts, Source.SNMP, info))
        return status, detail, attempt_batch(observations, statuses, every_time)

    def close(self, runs: Iterable[_DeviceRun]) -> None:
        """Close every kept client (sockets) — at shutdown."""
        for run in runs:
            if run.client is not None:
                _discard(run, run.client)
        if self.pool is not None:
            self.pool.close()


def _discard(run: _DeviceRun, client: SnmpClient) -> None:
    """Forget a device's client and free its socket (a failed ``__aenter__`` never reaches
    ``__aexit__``, so closing is our job)."""
    client.close()
    run.client = None


class SnmpPoller:
    """The ``snmp-poller`` component (see module docstring)."""

    name = "snmp-poller"

    def __init__(
        self,
        config: Config,
        inventory: Inventory,
        store: StateStore,
        profiles: ProfileSet | None = None,
        client_factory: ClientFactory | None = None,
        devices: Sequence[Device] | None = None,
    ) -> None:
        self.store = store
        self.snmp = config.snmp
        self.confirm_after = config.alerting.down_after if config.alerting else DOWN_AFTER
        """Failures that confirm a device down: back-off starts there (:func:`after_failure`)."""
        self.profiles = profiles if profiles is not None else load_configured_profiles(
            config.snmp)
        self.poller = DevicePoller(config, inventory, self.profiles, client_factory)
        self.devices = list(devices) if devices is not None else snmp_devices(inventory)
        # sockets within the poller's share of file descriptors (pubnet/fdbudget.py): one
        # per device kept open when all fit, else at most that many polls in flight (v3
        # devices keep theirs regardless)
        sockets = plan_budget(config, inventory).poller
        self.poller.keep_sockets = len(self.devices) <= sockets
        self.max_in_flight = self.snmp.max_in_flight
        if not self.poller.keep_sockets:
            kept_v3 = sum(1 for d in self.devices if (c := config.credentials.get(
                d.credential)) is not None and c.version == "3")
            self.max_in_flight = min(self.max_in_flight, max(1, sockets - kept_v3))
        self.runs = {d.device_id: self.poller.prepare(d) for d in self.devices}
        self.polls = 0
        self._logged_drops: set[str] = set()
        self._heap: list[tuple[float, int, str]] = []
        """Next due time (event-loop clock) per device; read by :meth:`_publish_stats`."""
        self._in_flight: set[asyncio.Task[None]] = set()
        self.ready = asyncio.Event()
        """Set once polling has begun."""

    async def run(self) -> None:
        """Poll until cancelled; on cancellation let in-flight polls finish, then return."""
        self.ready.set()
        loop = asyncio.get_running_loop()
        start = loop.time()
        heap = self._heap
        heap.clear()
        ids = spread_order(self.runs)
        for seq, (dev, offset) in enumerate(zip(ids, first_offsets(
                len(ids), self.snmp.interval), strict=True)):
            heap.append((start + offset, seq, dev))
        heapq.heapify(heap)
        wake = asyncio.Event()
        slots = asyncio.Semaphore(self.max_in_flight)
        in_flight = self._in_flight
        seq = len(heap)

        async def one(dev: str, due: float) -> None:
            nonlocal seq
            run = self.runs[dev]
            started = loop.time()
            try:
                await self.poll_and_publish(run)
            finally:
                slots.release()
                now = loop.time()
                if run.status is PollStatus.OK or run.status is None:
                    nxt = next_due(due, run.interval, now, started)
                else:
                    retry_in = after_failure(run.failures, run.interval,
                                             self.snmp.max_backoff or 5 * run.interval,
                                             self.confirm_after)
                    nxt = max(due + retry_in, now)
                seq += 1
                # the scheduler sleeps until the earliest due time: only a poll due before
                # it needs to wake it (almost never: one wake-up, timer and future per poll
                # saved)
                if not heap or nxt < heap[0][0]:
                    wake.set()
                heapq.heappush(heap, (nxt, seq, dev))

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._publish_stats_forever(), name="snmp-stats")
                try:
                    while True:
                        if not heap:
                            wake.clear()
                            await wake.wait()
                            continue
                        due = heap[0][0]
                        delay = due - loop.time()
                        if delay > 0:
                            wake.clear()
                            with contextlib.suppress(TimeoutError):
                                async with asyncio.timeout(delay):
                                    await wake.wait()
                            continue
                        await slots.acquire()
                        due, _, dev = heapq.heappop(heap)
                        task = group.create_task(one(dev, due), name=f"snmp-poll-{dev}")
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                except asyncio.CancelledError:
                    # Stop intake; let in-flight polls end within STOP_GRACE, then the
                    # group cancels what is left.
                    if in_flight:
                        await asyncio.wait(set(in_flight), timeout=STOP_GRACE)
                    raise
        finally:
            self._publish_stats()
            self.poller.close(self.runs.values())

    async def poll_and_publish(self, run: _DeviceRun) -> None:
        """Poll one device and hand status and observations to the store (the benchmark
        drives this directly)."""
        status, detail, observations = await self.poller.poll(run)
        self.polls += 1
        run.attempts += 1
        previous = run.status
        run.status = status
        run.failures = 0 if status is PollStatus.OK else run.failures + 1
        dev = run.device.device_id
        if status is PollStatus.OK and run.info_changed:
            latest = self.store.latest(dev, DEVICE_INFO, run.info_key)
            if latest is None:
                self.store.forget(dev, DEVICE_INFO)
        change = self.store.set_status(dev, status, observations[-1].ts, Source.SNMP,
                                       detail or run.reboot, observations,
                                       rebooted=bool(run.reboot))
        if change is not None:
            site = run.device.site_id
            if previous is None:  # first contact: pubnet's start-up summary counts these
                log.debug("device first status", extra={
                    "device": dev, "site": site, "status": status.value, "detail": detail or "-"})
            elif status is PollStatus.OK:
                log.info("device up", extra={"device": dev, "site": site,
                                             "previous": previous.value})
            else:
                log.warning("device not answering", extra={
                    "device": dev, "site": site, "status": status.value, "detail": detail})

    def _publish_stats(self) -> None:
        stats = self.poller.stats
        ts = time.time()
        dev = PUBNET_DEVICE
        lag = 0.0
        if self._heap:
            lag = max(0.0, asyncio.get_running_loop().time() - self._heap[0][0])
        obs = [
            Observation(dev, SNMP_REQUESTS, float(stats.requests), ts, Source.INTERNAL),
            Observation(dev, SNMP_RETRIES, float(stats.retries), ts, Source.INTERNAL),
            Observation(dev, POLLS_IN_FLIGHT, float(len(self._in_flight)), ts,
                        Source.INTERNAL),
            Observation(dev, POLL_LAG, lag, ts, Source.INTERNAL),
        ]
        for reason, count in stats.dropped.items():
            if reason not in self._logged_drops:
                self._logged_drops.add(reason)
                log.warning("dropping SNMP packets",
                            extra={"reason": reason, "counted_in": SNMP_DROPPED_PACKETS})
            obs.append(Observation(dev, SNMP_DROPPED_PACKETS, float(count), ts,
                                   Source.INTERNAL, ((LABEL_REASON, reason),)))
        self.store.publish(obs)

    async def _publish_stats_forever(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY)
            self._publish_stats()
