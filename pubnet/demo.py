"""``pubnet demo``: the whole pipeline on a simulated fleet, as a NOC operator would watch it.

One idea: a scripted outage. A generated inventory is re-addressed onto loopback, the
simulator answers SNMP for every device, and the real components (SNMP poller, trap
receiver, state store, ``/metrics``, alerting) run in the same event loop. The scenario then

1. waits for the first polls and prints a fleet summary from the state store;
2. cuts the fibre to a district aggregation router (the router and everything behind it go
   silent) and waits until alerting has sent exactly one incident for it, printed as the
   technician receives it (a webhook to a small receiver in this process);
3. heals the fibre and waits for the resolved message and for every device to answer again;
4. takes one interface down with a linkDown trap and shows how fast it reached the store;
5. prints a final summary.

Every step has a deadline; a missed expectation makes the command exit 1, so the demo
doubles as an end-to-end smoke test. Site gateways the generator gives an MQTT or ICMP
profile are polled over SNMP here (``router`` profile): every device of the demo fleet is
then one the simulator can silence, and the demo needs no broker publisher or ping rights.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import logging
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pubnet.argtypes import non_negative, positive_int

if TYPE_CHECKING:
    from alerting.service import AlertingService
    from collectors.simulator import Fleet
    from inventory.model import Inventory
    from pubnet.config import Config
    from pubnet.runtime import Component, Context
    from pubnet.state import StateStore

log = logging.getLogger("pubnet.demo")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

DEMO_NETWORK = "127.77.0.0"
"""Where the simulated devices listen (127.77.x.y): away from 127.0.0.1 and the simulator's
own default 127.1.0.0, so a demo next to tests or a standalone simulator does not collide."""

VILLAGE_COMMUNITY = "pubnet-demo-village"
NOC_AUTH_KEY = "pubnet-demo-auth-key"
NOC_PRIV_KEY = "pubnet-demo-priv-key"
WEBHOOK_SECRET = "pubnet-demo-webhook-secret"
"""Literal demo secrets: the simulator and the poller share them; they are never printed."""

IF_OPER_UP = "pubnet_interface_oper_up"
DATABASE_NAME = "alerts.db"


class ExpectationFailed(Exception):
    """A step of the scenario did not see what it expected before its deadline."""


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


@dataclass(frozen=True, slots=True)
class Timing:
    """The demo's clocks, derived from the polling interval.

    District routers are polled three times as often as the rest so that a cut router is
    confirmed down before the sites behind it; ``group_wait`` is longer than one interval
    so that, when the fibre comes back, the gateways answer their next poll before their
    own incidents would fire (``snmp.max_backoff`` = one interval keeps a failed device's
    next poll that close).
    """

    interval: float
    router_interval: float
    group_wait: float

    @classmethod
    def from_interval(cls, interval: float) -> Timing:
        return cls(interval, max(2.0, interval / 3), 1.5 * interval)

    @property
    def detect_deadline(self) -> float:
        """Cut → technician's message (router down after two failed polls, then group wait)."""
        return 4 * self.router_interval + self.group_wait + 2 * self.interval + 20

    @property
    def recover_deadline(self) -> float:
        return 3 * self.interval + self.group_wait + 20


# -- building the fleet and the config -------------------------------------------------------


def demo_inventory(sites: int, seed: int) -> Inventory:
    """A generated inventory whose every device answers SNMP (see the module docstring)."""
    from inventory.generate import VILLAGE_CREDENTIAL, generate
    from inventory.model import Inventory

    generated = generate(sites=sites, seed=seed)
    devices = {
        dev_id: dataclasses.replace(dev, profile="router", credential=VILLAGE_CREDENTIAL)
        if dev.profile in ("mqtt", "icmp") else dev
        for dev_id, dev in generated.devices.items()
    }
    return Inventory(sites=dict(generated.sites), devices=devices, links=dict(generated.links),
                     source=generated.source)


def demo_config(workdir: Path, listen: str, trap_port: int, webhook_url: str,
                timing: Timing) -> Config:
    """The config ``pubnet run`` would read, built in code with the demo's literal secrets."""
    from inventory.generate import NOC_CREDENTIAL, VILLAGE_CREDENTIAL
    from pubnet.config import parse_config

    data: dict[str, Any] = {
        "credentials": {
            VILLAGE_CREDENTIAL: {"version": "2c", "community": VILLAGE_COMMUNITY},
            NOC_CREDENTIAL: {"version": "3", "user": "noc", "auth_protocol": "sha256",
                             "auth_key": NOC_AUTH_KEY, "priv_protocol": "aes128",
                             "priv_key": NOC_PRIV_KEY},
        },
        "snmp": {"interval": timing.interval, "timeout": 1.0, "retries": 1,
                 "max_backoff": timing.interval,
                 "interval_by_role": {"district_aggregation": timing.router_interval}},
        "prometheus": {"listen": listen},
        "traps": {"listen": f"127.0.0.1:{trap_port}"},
        "alerting": {
            "database": str(workdir / DATABASE_NAME),
            "down_after": 2,
            "tick": 0.5,
            "group_wait": timing.group_wait,
            "routes": [{"channels": ["technician"], "language": "th"},
                       {"channels": ["noc"], "language": "en"}],
            "channels": {
                "technician": {"type": "webhook", "url": f"{webhook_url}/technician",
                               "secret": WEBHOOK_SECRET},
                "noc": {"type": "webhook", "url": f"{webhook_url}/noc",
                        "secret": WEBHOOK_SECRET},
            },
        },
    }
    return parse_config(data, source="pubnet demo", base_dir=workdir)


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _redact_logs(config: Config) -> None:
    """The CLI set up logging before the demo made its secrets; add them to the redactor."""
    from pubnet.config import secret_values
    from pubnet.logs import SecretRedactor

    for handler in logging.getLogger().handlers:
        handler.addFilter(SecretRedactor(secret_values(config)))


class _FirstContactFilter(logging.Filter):
    """Drops the poller's "device up ... previous=none" line, logged once per device at start:
    a thousand of them would scroll the scenario away; recoveries are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(record.msg, str) and record.msg.startswith("device up")
                    and isinstance(args, tuple) and args and args[-1] == "none")


# -- the technician's phone: a webhook receiver ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Received:
    channel: str
    payload: dict[str, Any]
    at: float


class Inbox:
    """Receives alerting's webhooks (checking their signature) on a free loopback port."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.rejected = 0
        self.url = ""
        self._arrived = asyncio.Event()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Inbox]:
        from aiohttp import web

        app = web.Application()
        app.router.add_post("/{channel}", self._receive)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            await web.SockSite(runner, sock).start()  # the server owns the socket from here
            yield self
        except OSError:
            sock.close()
            raise
        finally:
            await runner.cleanup()

    async def _receive(self, request: Any) -> Any:
        from aiohttp import web

        from alerting.channels import SIGNATURE_HEADER, verify_signature

        body = await request.read()
        if not verify_signature(WEBHOOK_SECRET.encode(), body, request.headers.get(
                SIGNATURE_HEADER)):
            self.rejected += 1
            return web.Response(status=401, text="bad signature")
        self.messages.append(Received(request.match_info["channel"], json.loads(body),
                                      time.monotonic()))
        self._arrived.set()
        return web.Response(text="ok")

    async def wait_for(self, wanted: Callable[[Received], bool], deadline: float,
                       what: str) -> Received:
        """The first message ``wanted`` accepts; raises ExpectationFailed after ``deadline``
        seconds."""
        async with _deadline(deadline, what):
            while True:
                for message in self.messages:
                    if wanted(message):
                        return message
                self._arrived.clear()
                await self._arrived.wait()


@contextlib.asynccontextmanager
async def _deadline(seconds: float, what: str) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise ExpectationFailed(f"no {what} within {seconds:.0f} s") from None


async def _until_store(store: StateStore, check: Callable[[], bool], deadline: float,
                       what: str, metrics: frozenset[str] = frozenset()) -> None:
    """Wait until ``check()`` holds, re-checking whenever the store publishes a status change
    (or an observation of ``metrics``); raises ExpectationFailed after ``deadline`` s."""
    with store.subscription("demo", metrics=metrics) as changes:
        async with _deadline(deadline, what):
            while not check():
                await changes.get()


# -- the scenario ------------------------------------------------------------------------------


@dataclass
class Scenario:
    """The scripted outage over a running fleet and running components."""

    ctx: Context
    fleet: Fleet
    alerting: AlertingService
    inbox: Inbox
    timing: Timing
    metrics_url: Callable[[], str]
    workdir: Path
    out: TextIO
    started: float = dataclasses.field(default_factory=time.monotonic)
    done: list[str] = dataclasses.field(default_factory=list)

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, title: str) -> None:
        self.done.append(title)
        self.say(f"\n== {len(self.done)}. {title} (t+{time.monotonic() - self.started:.0f}s) ==")

    async def play(self) -> None:
        self.step("warm-up: first polls")
        await self.warm_up()
        await self.fleet_summary()
        router = self.pick_router()
        self.step(f"fibre cut: district router {router}")
        incident_id = await self.cut(router)
        self.step(f"fibre repaired: {router}")
        await self.heal(router, incident_id)
        self.step("linkDown trap")
        await self.link_down(router)
        self.step("final summary")
        await self.final_summary()

    # -- steps ---------------------------------------------------------------------------

    async def warm_up(self) -> None:
        store, devices = self.ctx.store, self.fleet.devices

        self.say(f"polling {len(devices):,} devices, the first round takes about "
                 f"{self.timing.interval:g} s ...")

        def all_polled() -> bool:  # cheap count first: this runs after every status change
            return len(store.statuses()) >= len(devices) and all(
                store.status(d) is not None for d in devices)

        await _until_store(store, all_polled, 3 * self.timing.interval + 15,
                           "first poll of every device")
        await asyncio.sleep(self.timing.router_interval)

    async def fleet_summary(self) -> None:
        up, down = self.device_counts()
        sites_up = self.sites_up()
        inv = self.ctx.inventory
        provinces = len({s.province_code for s in inv.sites.values()})
        hosts = sorted((d.host for d in self.fleet.devices.values()), key=ipaddress.ip_address)
        port = next(iter(self.fleet.devices.values())).port
        self.say(f"fleet: {len(inv.devices):,} devices answering SNMP, each on its own address "
                 f"({hosts[0]} .. {hosts[-1]}, UDP {port}): {up:,} up, {down:,} down")
        self.say(f"sites: {sites_up:,} of {len(inv.sites):,} up, in {provinces} provinces; "
                 f"{self.ctx.store.series_count():,} series in the state store")
        samples, size = await self.scrape()
        self.say(f"metrics: {self.metrics_url()} ({samples:,} samples, {size / 1e6:.1f} MB)")

    def pick_router(self) -> str:
        """The district router with the most sites behind it (ties: lowest id)."""
        from inventory.model import Role

        topo = self.ctx.topology
        routers = [d for d, dev in self.ctx.inventory.devices.items()
                   if dev.role is Role.DISTRICT_AGGREGATION]
        if not routers:
            raise ExpectationFailed("the inventory has no district aggregation router")
        return min(routers, key=lambda d: (-len(topo.downstream_sites(d)), d))

    async def cut(self, router: str) -> str:
        topo = self.ctx.topology
        behind = sorted(topo.downstream_devices(router))
        sites = topo.downstream_sites(router)
        place = self.place(router)
        self.say(f"cutting the fibre to {router} ({place}): it and the {len(behind)} devices "
                 f"behind it ({len(sites)} sites) stop answering")
        cut_at = time.monotonic()
        for device in (router, *behind):
            self.fleet.silence(device)
        message = await self.inbox.wait_for(
            lambda m: m.payload["status"] == "firing" and m.payload["root_device"] == router,
            self.timing.detect_deadline, f"incident for {router}")
        payload = message.payload
        incident_id = str(payload["incident_id"])
        self.say(f"incident {incident_id} reached the technician "
                 f"{message.at - cut_at:.1f} s after the cut "
                 f"(down_after=2 polls, group_wait={self.timing.group_wait:g} s)")
        await self.expect_one_incident(router)
        self.print_incident(payload)
        return incident_id

    async def announced_roots(self) -> list[str]:
        """Roots of the incidents alerting announced (its database; pending ones are not
        there), oldest first."""
        from alerting.db import IncidentDB

        path = self.alerting.config.database

        def read() -> list[str]:
            with IncidentDB(path) as db:
                return [row.incident.root for row in reversed(db.list_incidents())]

        return await asyncio.to_thread(read)

    async def expect_one_incident(self, router: str) -> None:
        roots = await self.announced_roots()
        if roots != [f"device:{router}"]:
            raise ExpectationFailed(f"expected one incident rooted at {router}, the alerting "
                                    f"database has {len(roots)}: {', '.join(roots)}")
        self.say(f"alerting database: exactly one incident, root device:{router} (see it: "
                 f"pubnet alerts list --config {self.workdir / 'pubnet-demo.yaml'})")

    def print_incident(self, payload: dict[str, Any]) -> None:
        names = {s.district_code: f"{s.district_name_th} {s.district_name_en}".strip()
                 for s in self.ctx.inventory.sites.values()}
        districts = ", ".join(f"{names.get(d['code'], d['code'])} ({d['code']}): {d['sites']}"
                              for d in payload["districts"])
        self.say(f"  root: {payload['root_device']}  kind: {payload['kind']}  "
                 f"severity: {payload['severity']}")
        self.say(f"  affected: {payload['affected_sites']} sites, "
                 f"{payload['affected_villages']} villages, "
                 f"{payload['affected_devices']} devices")
        self.say(f"  sites by district: {districts}")
        for received in self.inbox.messages:
            p = received.payload
            if p["incident_id"] == payload["incident_id"] and p["status"] == "firing":
                self.say(f"  --- {received.channel} ({p['language']}) ---")
                self.say(_indent(str(p["message"])))

    async def heal(self, router: str, incident_id: str) -> None:
        behind = sorted(self.ctx.topology.downstream_devices(router))
        healed_at = time.monotonic()
        for device in (router, *behind):
            self.fleet.heal(device)
        message = await self.inbox.wait_for(
            lambda m: m.payload["incident_id"] == incident_id
            and m.payload["status"] == "resolved" and m.channel == "noc",
            self.timing.recover_deadline, f"resolved message for {incident_id}")
        self.say(f"{incident_id} resolved {message.at - healed_at:.1f} s after the repair")
        self.say(_indent(str(message.payload["message"])))
        store = self.ctx.store

        def all_answer() -> bool:
            states = (store.status(d) for d in (router, *behind))
            return all(s is not None and s.status is not None and s.status.is_up
                       for s in states)

        await _until_store(store, all_answer, self.timing.recover_deadline,
                           f"answer from every device behind {router}")
        async with _deadline(self.timing.group_wait + 10, "end of every open incident"):
            while self.alerting.open_incidents():
                await self.alerting.wait_cycle()
        self.say(f"all {len(behind) + 1} devices answer again; no incident open")

    async def link_down(self, router: str) -> None:
        device, interface = self.spare_port(router)
        store = self.ctx.store
        labels = (("ifname", interface),)
        before = time.time()
        sent = time.monotonic()
        self.fleet.link_down(device, interface)

        def arrived() -> bool:
            obs = store.latest(device, IF_OPER_UP, labels)
            return obs is not None and obs.value == 0.0 and obs.ts >= before

        await _until_store(store, arrived, 5.0, f"linkDown of {device} {interface} in the store",
                           frozenset({IF_OPER_UP}))
        latency = time.monotonic() - sent
        verdict = "within a second" if latency < 1.0 else "slower than a second: busy machine"
        self.say(f"linkDown {device} {interface}: {IF_OPER_UP}{{ifname=\"{interface}\"}} = 0 "
                 f"in the store after {latency * 1000:.0f} ms ({verdict})")
        self.fleet.link_up(device, interface)

    def spare_port(self, router: str) -> tuple[str, str]:
        """A gateway outside the cut district and one of its ports no link uses."""
        from inventory.model import Role

        inv = self.ctx.inventory
        cut = self.ctx.topology.downstream_devices(router)
        on_links = {(link.a_device, link.a_interface) for link in inv.links.values()} | {
            (link.b_device, link.b_interface) for link in inv.links.values()}
        for dev_id in sorted(self.fleet.devices):
            if dev_id in cut or inv.devices[dev_id].role is not Role.SITE_GATEWAY:
                continue
            for iface in self.fleet.device(dev_id).interfaces:
                if (dev_id, iface.name) not in on_links:
                    return dev_id, iface.name
        raise ExpectationFailed("no site gateway with a spare port outside the cut")

    async def final_summary(self) -> None:
        up, down = self.device_counts()
        messages = len(self.inbox.messages)
        self.say(f"devices: {up:,} up, {down:,} down; sites up: {self.sites_up():,} "
                 f"of {len(self.ctx.inventory.sites):,}")
        announced = len(await self.announced_roots())
        absorbed = self.alerting.stats.incidents_opened - announced
        self.say(f"alerting: {announced} incident(s) announced ({absorbed} more held in "
                 f"group wait and never sent), {messages} webhook message(s) received, "
                 f"{self.inbox.rejected} rejected")
        self.say(f"simulator: {self.fleet.agent.stats.requests:,} SNMP requests answered, "
                 f"{self.fleet.traps_sent} traps sent; "
                 f"{self.ctx.store.series_count():,} series in the store")
        self.say(f"scenario passed in {time.monotonic() - self.started:.0f} s")

    # -- reading the store ---------------------------------------------------------------

    def device_counts(self) -> tuple[int, int]:
        up = down = 0
        for device in self.ctx.inventory.devices:
            state = self.ctx.store.status(device)
            if state is not None and state.status is not None and state.status.is_up:
                up += 1
            else:
                down += 1
        return up, down

    def sites_up(self) -> int:
        store, topo = self.ctx.store, self.ctx.topology
        count = 0
        for site in self.ctx.inventory.sites:
            gateway = topo.site_gateway(site)
            state = store.status(gateway) if gateway else None
            count += state is not None and state.status is not None and state.status.is_up
        return count

    def place(self, device: str) -> str:
        site = self.ctx.inventory.sites.get(self.ctx.inventory.devices[device].site_id)
        if site is None:
            return "no site"
        return (f"district {site.district_name_th} {site.district_name_en} "
                f"({site.district_code}), province {site.province_name_th} "
                f"{site.province_name_en}")

    async def scrape(self) -> tuple[int, int]:
        """Fetch /metrics as Prometheus would: (samples, bytes)."""
        import aiohttp

        async with aiohttp.ClientSession() as http, http.get(
                self.metrics_url(), timeout=aiohttp.ClientTimeout(total=30)) as response:
            if response.status != 200:
                raise ExpectationFailed(f"{self.metrics_url()} answered {response.status}")
            text = await response.text()
        samples = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
        return samples, len(text.encode())


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


# -- running it ----------------------------------------------------------------------------


@contextlib.contextmanager
def _workdir(given: Path | None) -> Iterator[Path]:
    """The given folder (stale demo database removed) or a temporary one."""
    if given is None:
        with tempfile.TemporaryDirectory(prefix="pubnet-demo-") as tmp:
            yield Path(tmp)
        return
    given.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        (given / f"{DATABASE_NAME}{suffix}").unlink(missing_ok=True)
    yield given


def _write_files(workdir: Path, inventory: Inventory) -> None:
    """The simulated inventory, and a config for ``pubnet alerts list`` (no secrets in it)."""
    from inventory.writer import write_inventory

    write_inventory(inventory, workdir / "inventory")
    (workdir / "pubnet-demo.yaml").write_text(
        "# Written by `pubnet demo` for `pubnet alerts list --config` (no credentials).\n"
        f"inventory: inventory\nalerting:\n  database: {DATABASE_NAME}\n", encoding="utf-8")


async def _demo(options: DemoOptions, workdir: Path, out: TextIO) -> int:
    from alerting.service import AlertingService
    from collectors.simulator import AddressPlan, Fleet, plan_addresses, simulated_inventory
    from exporters.prometheus.server import PrometheusExporter
    from inventory.topology import Topology
    from pubnet import components
    from pubnet.runtime import Context

    timing = Timing.from_interval(options.interval)
    generated = await asyncio.to_thread(demo_inventory, options.sites, options.seed)
    plan = AddressPlan(DEMO_NETWORK, free_udp_port())
    inventory = simulated_inventory(generated, plan_addresses(generated, plan))
    await asyncio.to_thread(_write_files, workdir, inventory)
    trap_port = free_udp_port()
    async with Inbox().serving() as inbox:
        config = demo_config(workdir, options.listen, trap_port, inbox.url, timing)
        _redact_logs(config)
        ctx = Context(config=config, inventory=inventory, topology=Topology.build(inventory))
        built = components.build(ctx)
        alerting = next(c for c in built if isinstance(c, AlertingService))
        exporter = next(c for c in built if isinstance(c, PrometheusExporter))
        fleet = Fleet.from_inventory(generated, plan, seed=options.seed,
                                     credentials=config.credentials,
                                     trap_target=("127.0.0.1", trap_port))
        print(f"pubnet demo: {len(inventory.sites):,} sites, {len(inventory.devices):,} devices "
              f"(seed {options.seed}); poll every {timing.interval:g} s; files in {workdir}",
              file=out, flush=True)
        async with fleet:
            def metrics_url() -> str:
                host = exporter.config.host
                return f"http://{host}:{exporter.bound_port or exporter.config.port}/metrics"

            scenario = Scenario(ctx, fleet, alerting, inbox, timing, metrics_url, workdir, out)
            return await _run(scenario, built, options.duration, out)


async def _run(scenario: Scenario, built: list[Component], duration: float,
               out: TextIO) -> int:
    """Components and scenario side by side until the scenario ends or ``duration`` passes."""
    from pubnet.runtime import run_components, stop_on_signals

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


def run_demo(options: DemoOptions, out: TextIO | None = None) -> int:
    """Run the demo, printing to ``out`` (default: stdout). Returns 0 when the scenario
    passed (or ``duration`` ended it first), 1 when it failed, 130 on Ctrl-C before its end."""
    quiet, snmp_log = _FirstContactFilter(), logging.getLogger("pubnet.snmp")
    snmp_log.addFilter(quiet)
    try:
        with _workdir(options.workdir) as workdir:
            return asyncio.run(_demo(options, workdir, out or sys.stdout))
    finally:
        snmp_log.removeFilter(quiet)


# -- command line ----------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add ``pubnet demo`` to the CLI's subcommands."""
    demo = commands.add_parser(
        "demo", help="watch a simulated fleet: a fibre cut, one incident, the repair")
    demo.add_argument("--sites", type=positive_int, default=300, metavar="N",
                      help="sites in the generated fleet (default 300)")
    demo.add_argument("--seed", type=int, default=1, metavar="S",
                      help="generator and simulator seed (default 1)")
    demo.add_argument("--duration", type=non_negative, default=90.0, metavar="SECONDS",
                      help="stop after this long (default 90; 0 = keep serving /metrics "
                      "after the scenario until Ctrl-C)")
    demo.add_argument("--listen", default="127.0.0.1:9108", metavar="HOST:PORT",
                      help="the /metrics endpoint (port 0: any free port)")
    demo.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                      help="keep the inventory and the alerting database here "
                      "(default: a temporary folder)")
    demo.add_argument("--interval", type=non_negative, default=10.0, metavar="SECONDS",
                      help="SNMP polling interval; the scenario's timings follow it (default 10)")
    demo.set_defaults(handler=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from pubnet.config import split_listen

    try:
        split_listen(args.listen)
    except ValueError as exc:
        print(f"pubnet demo: --listen: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.interval < 2:
        print("pubnet demo: --interval must be at least 2 seconds", file=sys.stderr)
        return EXIT_FAILED
    return run_demo(DemoOptions(args.sites, args.seed, args.duration, args.listen,
                                args.workdir, args.interval))
