"""``pubnet poll --once``: ask selected devices once, the way the daemon would, and print
what they said.

SNMP devices are polled (:mod:`collectors.snmp.once`). A device with profile ``icmp`` is
probed once with the daemon's echo requests. A device with profile ``mqtt`` cannot be
asked anything -- it publishes to the broker on its own schedule -- so the command says so
and how it is watched instead of printing nothing.

Exit codes: 0 every polled or probed device answered, 3 some did not, 1 bad input
(including a selection with nothing that can be asked: only MQTT devices).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import TextIO

from collectors.icmp.ping import Pinger, ProbeResult, SocketPinger
from collectors.icmp.prober import no_socket_detail, observations_for, ping_device, status_of
from collectors.identity import device_labels
from collectors.snmp.once import DeviceOutcome, poll_once, print_outcomes, render_jsonl
from collectors.snmp.profiles import ProfileSet
from exporters.prometheus.render import text_exposition
from inventory.model import Device, Inventory
from pubnet.cliout import EXIT_BAD_INPUT
from pubnet.config import Config


def mqtt_note(device: Device) -> str:
    """One line for an MQTT device: what it is and where its status comes from."""
    return (f"{device.device_id}: profile mqtt: not polled; it publishes telemetry to "
            f"pubnet/v1/telemetry/{device.site_id}/{device.device_id} and its status to "
            f"pubnet/v1/status/{device.site_id}/{device.device_id}, which pubnet run "
            "watches (down after missed heartbeats); see pubnet_device_up on /metrics")


async def probe_once(config: Config, inventory: Inventory, devices: Sequence[Device],
                     pinger: Pinger | None = None) -> list[DeviceOutcome]:
    """Probe each ICMP device once with ``icmp.count`` echo requests; outcomes in order.

    Without ICMP permission every device gets status ``error`` and the reason, as in the
    daemon, rather than a traceback.
    """
    cfg = config.icmp
    async with AsyncExitStack() as stack:
        if pinger is None:
            try:
                pinger = await stack.enter_async_context(SocketPinger())
            except PermissionError as exc:
                failed = ProbeResult(0, 0, (), error=no_socket_detail(exc))
                return [_outcome(inventory, d, failed) for d in devices]
        active = pinger
        slots = asyncio.Semaphore(cfg.max_in_flight)

        async def one(device: Device) -> DeviceOutcome:
            async with slots:
                result = await ping_device(active, device, cfg)
            return _outcome(inventory, device, result)

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(d)) for d in devices]
    return [t.result() for t in tasks]


def _outcome(inventory: Inventory, device: Device, result: ProbeResult) -> DeviceOutcome:
    status, detail = status_of(result)
    labels = device_labels(inventory, device)[0]
    observations = observations_for(device.device_id, result, status, True, labels,
                                    time.time())
    return DeviceOutcome(device, status, detail, observations)


def run_poll(config: Config, inventory: Inventory, selected: Sequence[Device],
             profiles: ProfileSet, fmt: str, out: TextIO, err: TextIO) -> int:
    """Poll, probe or explain each selected device; print; return the exit code."""
    snmp = [d for d in selected if d.profile not in ("icmp", "mqtt")]
    icmp = [d for d in selected if d.profile == "icmp"]
    for device in selected:
        if device.profile == "mqtt":
            print(mqtt_note(device), file=err)
    if not snmp and not icmp:
        if not selected:
            print("pubnet poll: no SNMP device to poll", file=err)
        return EXIT_BAD_INPUT

    async def both() -> list[DeviceOutcome]:
        outcomes: list[DeviceOutcome] = []
        if snmp:
            outcomes += await poll_once(config, inventory, snmp, profiles)
        if icmp:
            outcomes += await probe_once(config, inventory, icmp)
        return outcomes

    outcomes = asyncio.run(both())
    order = {d.device_id: i for i, d in enumerate(selected)}
    outcomes.sort(key=lambda o: order[o.device.device_id])
    if fmt == "prom":  # as /metrics would show it: HELP, TYPE, +Inf/NaN spelled alike
        lines = text_exposition(o for outcome in outcomes for o in outcome.observations
                                ).splitlines()
    else:
        lines = list(render_jsonl(outcomes))
    return print_outcomes(outcomes, lines, out, err)
