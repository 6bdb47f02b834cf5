"""The scripted outage, step by step, over a running fleet and running components: what a
NOC operator would watch, printed as a narrative. Each step waits for what it expects with a
deadline (see ``deadlines``), so the narrative is also the demo's pass/fail verdict.

0. prints the address of everything the demo serves (/metrics, the embedded MQTT broker,
   the trap receiver, the webhook inbox, the simulated devices) and starts the simulated
   MQTT gateways;
1. waits for the first polls and prints a fleet summary from the state store;
2. cuts the fibre to a district aggregation router (the router and everything behind it go
   silent, its MQTT gateways lose their broker connection) and waits until alerting has sent
   exactly one incident for it, printed as the technician receives it (see ``inbox``);
3. heals the fibre and waits for the resolved message and for every device to answer again;
4. takes one interface down with a linkDown trap and shows how fast it reached the store;
5. an MQTT gateway loses power: the broker publishes its last will and pubnet marks it down;
   power comes back and it is up again;
6. prints a final summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from alerting.messages import count_text
from pubnet.app.demo.config import DEMO_CHANNELS
from pubnet.app.demo.deadlines import ExpectationFailed, deadline, until_store
from pubnet.catalog import IF_OPER_UP

if TYPE_CHECKING:
    from alerting.service import AlertingService
    from collectors.mqtt.component import MqttCollector
    from pubnet.app.demo.inbox import Inbox, Received
    from pubnet.app.demo.timing import Timing
    from pubnet.app.runtime import Context
    from pubnet.app.web import WebServer
    from pubnet.state import StateStore
    from simulator import Fleet
    from simulator.gateways import MqttGateways


def _firing_on(channel: str, incident_id: str, message: Received) -> bool:
    return (message.channel == channel and message.payload["incident_id"] == incident_id
            and message.payload["status"] == "firing")


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
    gateways: MqttGateways | None = None
    """The simulated MQTT gateways, started once the embedded broker listens."""
    mqtt: MqttCollector | None = None
    server: WebServer | None = None
    stack: contextlib.AsyncExitStack | None = None
    """Owns the gateways' connections for as long as the demo runs."""
    trap_port: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)
    done: list[str] = dataclasses.field(default_factory=list)

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, title: str) -> None:
        self.done.append(title)
        self.say(f"\n== {len(self.done)}. {title} (t+{time.monotonic() - self.started:.0f}s) ==")

    async def play(self) -> None:
        await self.serve()
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
        if self.gateways is not None and self.gateways.gateways:
            gateway = self.pick_gateway(router)
            self.step(f"power cut: MQTT gateway {gateway}")
            await self.power_cut(gateway)
        self.step("final summary")
        await self.final_summary()

    # -- steps ---------------------------------------------------------------------------

    async def serve(self) -> None:
        """Start the MQTT gateways once the broker listens; print every address served."""
        if self.server is not None:
            async with deadline(30, "the HTTP listener"):
                await self.server.ready.wait()
        if self.mqtt is not None and self.gateways is not None and self.stack is not None:
            async with deadline(30, "the embedded MQTT broker"):
                await self.mqtt.wait_connected()
            await self.stack.enter_async_context(self.gateways)
        base = self.metrics_url().removesuffix("/metrics")
        self.say("serving:")
        self.say(f"  metrics      {base}/metrics  (and {base}/healthz, {base}/readyz)")
        if self.mqtt is not None:
            mqtt = self.mqtt.config
            self.say(f"  mqtt broker  mqtt://{mqtt.embedded_host}:{mqtt.embedded_port}  "
                     f"(embedded; gateways publish pubnet/v1/telemetry/+/+ and "
                     f"pubnet/v1/status/+/+)")
        if self.trap_port:
            self.say(f"  snmp traps   udp://127.0.0.1:{self.trap_port}")
        self.say(f"  webhooks     {self.inbox.url}/technician, {self.inbox.url}/noc  "
                 f"(the demo's inbox: alerting delivers here)")
        hosts = sorted((d.host for d in self.fleet.devices.values()), key=ipaddress.ip_address)
        if hosts:
            port = next(iter(self.fleet.devices.values())).port
            self.say(f"  simulator    {len(hosts):,} SNMP devices on udp://{hosts[0]} .. "
                     f"{hosts[-1]}:{port}")
        if self.gateways is not None and self.gateways.gateways:
            stats = self.gateways.stats
            self.say(f"               {len(self.gateways.gateways):,} MQTT gateways, "
                     f"{stats.connected:,} connected")

    def silence(self, device: str) -> None:
        """A device behind the cut stops answering SNMP, or stops publishing over MQTT."""
        if self.gateways is not None and device in self.gateways.gateways:
            self.gateways.silence(device)
        else:
            self.fleet.silence(device)

    def revive(self, device: str) -> None:
        if self.gateways is not None and device in self.gateways.gateways:
            self.gateways.silence(device, False)
        else:
            self.fleet.heal(device)

    def pick_gateway(self, router: str) -> str:
        """The first MQTT gateway outside the district cut earlier."""
        assert self.gateways is not None
        cut = self.ctx.topology.downstream_devices(router)
        outside = sorted(g for g in self.gateways.gateways if g not in cut)
        if not outside:
            raise ExpectationFailed("no MQTT gateway outside the cut district")
        return outside[0]

    async def power_cut(self, gateway: str) -> None:
        from pubnet.model import PollStatus

        assert self.gateways is not None
        store = self.ctx.store
        site = self.ctx.inventory.devices[gateway].site_id
        self.say(f"the village of site {site} loses power: {gateway} drops off the broker "
                 f"without a goodbye")
        cut_at = time.monotonic()
        self.gateways.power_off(gateway)

        def marked_down() -> bool:
            state = store.status(gateway)
            return state is not None and state.status is PollStatus.UNREACHABLE

        await until_store(store, marked_down, 10.0, f"last will of {gateway}")
        state = store.status(gateway)
        detail = state.detail if state is not None else ""
        self.say(f"{gateway} down {1000 * (time.monotonic() - cut_at):.0f} ms later: the "
                 f"broker published its last will ({detail})")
        back_at = time.monotonic()
        self.gateways.power_on(gateway)

        await until_store(store, lambda: _answers(store, gateway), 15.0,
                           f"{gateway} online again")
        self.say(f"power back: {gateway} reconnected and published online; up "
                 f"{1000 * (time.monotonic() - back_at):.0f} ms later")

    async def warm_up(self) -> None:
        store, devices = self.ctx.store, self.fleet.devices

        self.say(f"polling {len(devices):,} devices, the first round takes about "
                 f"{self.timing.interval:g} s ...")

        gateways = list(self.gateways.gateways) if self.gateways is not None else []

        def all_polled() -> bool:  # cheap count first: this runs after every status change
            return len(store.statuses()) >= len(devices) + len(gateways) and all(
                store.status(d) is not None for d in (*devices, *gateways))

        await until_store(store, all_polled, 3 * self.timing.interval + 15,
                           "first poll of every device")
        await asyncio.sleep(self.timing.router_interval)

    async def fleet_summary(self) -> None:
        up, down = self.device_counts()
        sites_up = self.sites_up()
        inv = self.ctx.inventory
        provinces = len({s.province_code for s in inv.sites.values()})
        hosts = sorted((d.host for d in self.fleet.devices.values()), key=ipaddress.ip_address)
        port = next(iter(self.fleet.devices.values())).port
        mqtt = len(self.gateways.gateways) if self.gateways is not None else 0
        self.say(f"fleet: {len(self.fleet.devices):,} devices answering SNMP, each on its own "
                 f"address ({hosts[0]} .. {hosts[-1]}, UDP {port}), and {mqtt:,} gateways "
                 f"reporting over MQTT: {up:,} up, {down:,} down")
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
            self.silence(device)
        message = await self.inbox.wait_for(
            lambda m: m.payload["status"] == "firing" and m.payload["root_device"] == router,
            self.timing.detect_deadline, f"incident for {router}")
        payload = message.payload
        incident_id = str(payload["incident_id"])
        self.say(f"incident {incident_id} reached the technician "
                 f"{message.at - cut_at:.1f} s after the cut "
                 f"(down_after=2 polls, group_wait={self.timing.group_wait:g} s)")
        await self.expect_one_incident(router)
        # every route's message, not only the first to arrive: each channel posts from a
        # worker thread of its own, so the technician's and the NOC's come in either order
        for channel in DEMO_CHANNELS:
            await self.inbox.wait_for(partial(_firing_on, channel, incident_id),
                                      self.timing.detect_deadline,
                                      f"{channel} message for {incident_id}")
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
        self.say(f"  affected: {count_text(payload['affected_sites'], 'site', 'en')}, "
                 f"{count_text(payload['affected_villages'], 'village', 'en')}, "
                 f"{count_text(payload['affected_devices'], 'device', 'en')}")
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
            self.revive(device)
        message = await self.inbox.wait_for(
            lambda m: m.payload["incident_id"] == incident_id
            and m.payload["status"] == "resolved" and m.channel == "noc",
            self.timing.recover_deadline, f"resolved message for {incident_id}")
        self.say(f"{incident_id} resolved {message.at - healed_at:.1f} s after the repair")
        self.say(_indent(str(message.payload["message"])))
        store = self.ctx.store

        def all_answer() -> bool:
            return all(_answers(store, d) for d in (router, *behind))

        await until_store(store, all_answer, self.timing.recover_deadline,
                           f"answer from every device behind {router}")
        async with deadline(self.timing.group_wait + 10, "end of every open incident"):
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

        await until_store(store, arrived, 5.0, f"linkDown of {device} {interface} in the store",
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
                 f"{self.fleet.traps_sent} traps sent, "
                 f"{self.gateways.stats.published if self.gateways else 0:,} MQTT messages "
                 f"published; "
                 f"{self.ctx.store.series_count():,} series in the store")
        self.say(f"scenario passed in {time.monotonic() - self.started:.0f} s")

    # -- reading the store ---------------------------------------------------------------

    def device_counts(self) -> tuple[int, int]:
        store = self.ctx.store
        up = sum(_answers(store, device) for device in self.ctx.inventory.devices)
        return up, len(self.ctx.inventory.devices) - up

    def sites_up(self) -> int:
        store, topo = self.ctx.store, self.ctx.topology
        count = 0
        for site in self.ctx.inventory.sites:
            gateway = topo.site_gateway(site)
            if gateway and _answers(store, gateway):
                count += 1
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


def _answers(store: StateStore, device: str) -> bool:
    """Whether ``device``'s last attempt found it up (False before its first attempt): the
    one reading of "up" behind every wait and count of the scenario."""
    state = store.status(device)
    return state is not None and state.status is not None and state.status.is_up


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
