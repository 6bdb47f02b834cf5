"""Running the demo: wire the simulated fleet, the real components and the scenario into one
event loop, run them side by side, and turn how that ended into the command's exit code
(the scenario passed, failed, a component died, ``--duration`` or Ctrl-C came first)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pubnet.app.demo.config import WEBHOOK_SECRET, demo_config
from pubnet.app.demo.deadlines import ExpectationFailed
from pubnet.app.demo.fleet import DEMO_NETWORK, demo_inventory
from pubnet.app.demo.inbox import Inbox
from pubnet.app.demo.logs import redact_logs
from pubnet.app.demo.scenario import Scenario
from pubnet.app.demo.timing import Timing
from pubnet.app.demo.workdir import prepared_workdir, write_files
from pubnet.cliout import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from pubnet.ports import free_port, free_udp_port

if TYPE_CHECKING:
    from pubnet.app.runtime import Component

log = logging.getLogger("pubnet.demo")


@dataclass(frozen=True, slots=True)
class DemoOptions:
    sites: int = 300
    seed: int = 1
    duration: float = 90.0
    """Seconds until the demo stops; 0 = keep serving after the scenario until Ctrl-C."""
    listen: str = "127.0.0.1:9108"
    workdir: Path | None = None
    interval: float = 10.0
    """SNMP polling interval of the fleet; every other timing of the demo follows from it."""


def run_demo(options: DemoOptions, out: TextIO | None = None) -> int:
    """Run the demo, printing to ``out`` (default: stdout). Returns 0 when the scenario
    passed (or ``duration`` ended it first), 1 when it failed, 130 on Ctrl-C before its end."""
    with prepared_workdir(options.workdir) as workdir:
        return asyncio.run(_demo(options, workdir, out or sys.stdout))


async def _demo(options: DemoOptions, workdir: Path, out: TextIO) -> int:
    """The fleet, the components and the inbox, alive for as long as ``_run`` plays."""
    from alerting.service import AlertingService
    from collectors.mqtt.component import MqttCollector
    from inventory.topology import Topology
    from pubnet.app import components
    from pubnet.app.runtime import Context
    from pubnet.app.web import WebServer
    from simulator import AddressPlan, Fleet, plan_addresses, simulated_inventory
    from simulator.fleet import gateway_devices
    from simulator.gateways import BrokerSettings, MqttGateways

    timing = Timing.from_interval(options.interval)
    generated = await asyncio.to_thread(demo_inventory, options.sites, options.seed)
    plan = AddressPlan(DEMO_NETWORK, free_udp_port())
    inventory = simulated_inventory(generated, plan_addresses(generated, plan))
    await asyncio.to_thread(write_files, workdir, inventory)
    trap_port, mqtt_port = free_udp_port(), free_port()
    async with Inbox(WEBHOOK_SECRET).serving() as inbox:
        config = demo_config(workdir, options.listen, trap_port, inbox.url, timing, mqtt_port)
        redact_logs(config)
        ctx = Context(config=config, inventory=inventory, topology=Topology.build(inventory))
        built = components.build(ctx)
        alerting = next(c for c in built if isinstance(c, AlertingService))
        server = next(c for c in built if isinstance(c, WebServer))
        fleet = Fleet.from_inventory(generated, plan, seed=options.seed,
                                     credentials=config.credentials,
                                     trap_target=("127.0.0.1", trap_port))
        gateways = MqttGateways.from_devices(
            generated, gateway_devices(generated, plan, seed=options.seed),
            BrokerSettings(port=mqtt_port, heartbeat=timing.interval), seed=options.seed)
        mqtt = next((c for c in built if isinstance(c, MqttCollector)), None)
        print(f"pubnet demo: {len(inventory.sites):,} sites, {len(inventory.devices):,} devices "
              f"(seed {options.seed}); poll every {timing.interval:g} s; files in {workdir}",
              file=out, flush=True)
        async with fleet, contextlib.AsyncExitStack() as stack:
            def metrics_url() -> str:
                host = server.config.host
                port = server.bound.port if server.bound else server.config.port
                return f"http://{host}:{port}/metrics"

            scenario = Scenario(ctx, fleet, alerting, inbox, timing, metrics_url, workdir, out,
                                gateways=gateways, mqtt=mqtt, server=server, stack=stack,
                                trap_port=trap_port)
            return await _run(scenario, built, options.duration, out, stack)


async def _run(scenario: Scenario, built: list[Component], duration: float,
               out: TextIO, stack: contextlib.AsyncExitStack) -> int:
    """Components and scenario side by side until the scenario ends or ``duration`` passes."""
    from pubnet.app.runtime import run_components
    from pubnet.signals import stop_on_signals

    stop = asyncio.Event()
    code = EXIT_OK
    with stop_on_signals(stop):
        runner = asyncio.create_task(run_components(built, stop), name="components")
        play = asyncio.create_task(scenario.play(), name="scenario")
        stopped = asyncio.create_task(stop.wait(), name="stop")
        waiting: set[asyncio.Task[Any]] = {runner, play, stopped}
        done, _ = await asyncio.wait(waiting, timeout=duration or None,
                                     return_when=asyncio.FIRST_COMPLETED)
        if play in done:
            code = _verdict(play, out)
            if duration == 0 and code == EXIT_OK and not runner.done():
                print(f"\nscenario done; serving {scenario.metrics_url()} until Ctrl-C",
                      file=out, flush=True)
                await asyncio.wait({runner, stopped}, return_when=asyncio.FIRST_COMPLETED)
        elif runner in done:
            print("pubnet demo: a component stopped; see the log above (--listen chooses "
                  "another /metrics address)", file=out, flush=True)
            code = EXIT_FAILED
        else:
            steps = ", ".join(scenario.done) or "none"
            why = "interrupted" if stopped in done else "--duration reached"
            print(f"\npubnet demo: {why} before the scenario ended (steps reached: {steps})",
                  file=out, flush=True)
            code = EXIT_INTERRUPTED if stopped in done else EXIT_OK
        for task in (play, stopped):
            task.cancel()
        await stack.aclose()  # the gateways leave before their broker stops
        stop.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await runner
        if runner.done() and not runner.cancelled() and runner.exception() is not None:
            code = EXIT_FAILED
    return code


def _verdict(play: asyncio.Task[None], out: TextIO) -> int:
    exc = play.exception()
    if exc is None:
        return EXIT_OK
    if not isinstance(exc, ExpectationFailed):
        log.error("demo scenario crashed", exc_info=exc)
    print(f"\npubnet demo: FAILED: {exc}", file=out, flush=True)
    return EXIT_FAILED
