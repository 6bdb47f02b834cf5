"""``pubnet poll --once``: one polling round printed, for technicians in the field and tests.

Every selected device is polled once (concurrently, bounded by ``snmp.max_in_flight``) with
the same code the daemon uses. A device that fails still prints: its ``pubnet_device_up 0``
and ``pubnet_device_poll_status`` lines carry the status, and a one-line reason goes to
stderr. Exit code 0 when every device answered, 3 when some did not.

JSON lines are rendered here. ``--format prom`` is rendered by the Prometheus exporter's own
renderer (the CLI picks it: a collector never imports an exporter), so the lines are the ones
``/metrics`` would show.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from collectors.snmp.client import ClientFactory
from collectors.snmp.poller import DevicePoller, load_configured_profiles
from collectors.snmp.profiles import ProfileSet
from inventory.model import Device, Inventory
from pubnet.cliout import EXIT_OK, EXIT_SOME_FAILED
from pubnet.config import Config
from pubnet.model import Observation, PollStatus


@dataclass(frozen=True, slots=True)
class DeviceOutcome:
    device: Device
    status: PollStatus
    detail: str
    observations: list[Observation]


async def poll_once(
    config: Config,
    inventory: Inventory,
    devices: Sequence[Device],
    profiles: ProfileSet | None = None,
    client_factory: ClientFactory | None = None,
) -> list[DeviceOutcome]:
    """Poll each device once; outcomes in the order of ``devices``."""
    if profiles is None:
        profiles = await asyncio.to_thread(load_configured_profiles, config.snmp)
    poller = DevicePoller(config, inventory, profiles, client_factory)
    slots = asyncio.Semaphore(config.snmp.max_in_flight)
    runs = [poller.prepare(d) for d in devices]

    async def one(index: int) -> DeviceOutcome:
        async with slots:
            status, detail, observations = await poller.poll(runs[index])
        return DeviceOutcome(devices[index], status, detail, observations)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(i)) for i in range(len(devices))]
    finally:
        poller.close(runs)
    return [t.result() for t in tasks]


def _number(value: float) -> float | int | None:
    if math.isnan(value) or math.isinf(value):
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def render_jsonl(outcomes: Sequence[DeviceOutcome]) -> Iterator[str]:
    """One JSON object per observation: device, metric, labels, value, ts."""
    for outcome in outcomes:
        for obs in outcome.observations:
            yield json.dumps({"device": obs.device, "metric": obs.metric,
                              "labels": dict(obs.labels), "value": _number(obs.value),
                              "ts": round(obs.ts, 3)}, ensure_ascii=False)


def print_outcomes(outcomes: Sequence[DeviceOutcome], lines: Iterable[str], out: TextIO,
                   err: TextIO) -> int:
    """Print a round (``lines``, rendered from ``outcomes`` in the chosen format) and a reason
    per failed device; return 0 when every device answered, 3 otherwise."""
    for line in lines:
        print(line, file=out)
    failed = [o for o in outcomes if o.status is not PollStatus.OK]
    for outcome in failed:
        print(f"{outcome.device.device_id}: {outcome.status.value}"
              f"{': ' + outcome.detail if outcome.detail else ''}", file=err)
    return EXIT_SOME_FAILED if failed else EXIT_OK
