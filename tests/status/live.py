"""A real ``pubnet run`` watching a simulated fleet, for the browser tests and the
benchmark's first render: the simulator (and a webhook inbox, so alert messages are
really delivered) run in a thread of the test process, so a test can silence any device;
pubnet runs as its own process, exactly as an operator starts it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from inventory.generate import VILLAGE_CREDENTIAL
from inventory.model import Inventory
from inventory.writer import write_inventory
from pubnet.app.demo import (
    WEBHOOK_SECRET,
    Inbox,
    demo_credentials,
    demo_delivery,
    demo_inventory,
)
from pubnet.config import parse_config
from pubnet.ports import free_port, free_udp_port
from simulator import AddressPlan, Fleet, plan_addresses, simulated_inventory
from tests.status.app import OPERATOR, PASSWORD, hashed

ROOT = Path(__file__).resolve().parents[2]
NETWORK = "127.79.0.0"
"""Where the simulated devices listen: away from the demo's 127.77 and the simulator's 127.1."""


def config_data(listen: str, inbox_url: str, interval: float) -> dict[str, Any]:
    """The demo's credentials and alert delivery (pubnet.app.demo.config), with the
    page's faster clocks, no history and an operator who may acknowledge."""
    return {
        "inventory": "inventory",
        "credentials": demo_credentials(),
        # a timeout of most of the interval: the simulator answers from the test's own
        # process, and at 0.5 s a loaded machine (a full suite beside other work) left a
        # few devices of a healthy fleet down at the moment a test counted them
        "snmp": {"interval": interval, "timeout": round(0.75 * interval, 3), "retries": 0,
                 "max_backoff": interval},
        "prometheus": {"listen": listen},
        "history": None,
        "alerting": {"database": "pubnet.db", "down_after": 2, "tick": 0.2,
                     "group_wait": 1.0, **demo_delivery(inbox_url)},
        "web": {"operators": {OPERATOR: hashed(PASSWORD)}},
    }


class Simulator:
    """The fleet and the inbox, served by an event loop in a thread of their own."""

    def __init__(self, fleet: Fleet, inbox: Inbox) -> None:
        self.fleet = fleet
        self.inbox = inbox
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="simulator", daemon=True)

    def _main(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the test by start()
            self._error = exc
            self._started.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with self.inbox.serving(), self.fleet:
            self._started.set()
            await self._stop.wait()

    def start(self) -> None:
        self._thread.start()
        self._started.wait(60)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@dataclass
class LivePubnet:
    """What a test needs of the running pubnet."""

    base: str
    workdir: Path
    inventory: Inventory
    sim: Simulator
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=10) as resp:
            return json.loads(resp.read())

    def wait(self, check: Any, what: str, within: float = 30.0) -> Any:
        deadline = time.monotonic() + within
        while True:
            assert self.process.poll() is None, self.log.read_text()
            found = self.get("/api/v1/status")
            if check(found):
                return found
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {found}"
            time.sleep(0.2)


def snmp_only(inventory: Inventory) -> Inventory:
    """The demo fleet with its MQTT gateways polled over SNMP too: the page's tests need
    every device under the simulator's control, not gateways publishing through a broker."""
    devices = {d: dataclasses.replace(dev, profile="router", credential=VILLAGE_CREDENTIAL)
               if dev.profile == "mqtt" else dev for d, dev in inventory.devices.items()}
    return dataclasses.replace(inventory, devices=devices)


@contextlib.contextmanager
def live_pubnet(workdir: Path, sites: int, interval: float = 1.0,
                seed: int = 1) -> Iterator[LivePubnet]:
    generated = snmp_only(demo_inventory(sites, seed))
    plan = AddressPlan(NETWORK, free_udp_port())
    inventory = simulated_inventory(generated, plan_addresses(generated, plan))
    write_inventory(inventory, workdir / "inventory")
    inbox = Inbox(WEBHOOK_SECRET)
    listen = f"127.0.0.1:{free_port()}"
    # the inbox serves from the simulator's loop: start it there first to learn its URL
    data = config_data(listen, "http://127.0.0.1:1", interval)
    credentials = parse_config(data, base_dir=workdir).credentials
    fleet = Fleet.from_inventory(generated, plan, seed=seed, credentials=credentials)
    sim = Simulator(fleet, inbox)
    sim.start()
    data["alerting"].update(demo_delivery(inbox.url))
    config = workdir / "pubnet.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    log = workdir / "pubnet.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "pubnet.cli", "run", "--config",
                                    str(config)], cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT)
    live = LivePubnet(f"http://{listen}", workdir, inventory, sim, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(live.base + "/readyz", timeout=5) as resp:
                    if resp.status == 200:
                        break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield live
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        sim.stop()

