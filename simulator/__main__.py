"""``python -m simulator``: serve a simulated fleet for an inventory.

Writes a copy of the inventory whose devices point at the simulator's loopback addresses
(``--out``), so ``pubnet run --inventory OUT`` polls the simulated fleet, then answers until
SIGINT/SIGTERM, logging request counts every ``--stats-every`` seconds. ``--fault`` picks a
deterministic share of the devices for each kind of fault; ``--flap-every`` takes a random
interface down (linkDown trap) and back up half an interval later, for a lively demo.
With ``--mqtt-url`` the ``mqtt``-profile gateways publish telemetry, ``online`` and their
last wills to that broker (``--fault power-off=F`` cuts a share of them off).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pubnet.config import ConfigError, load_config, parse_duration
from pubnet.logs import setup_logging
from simulator.device import mix, unit
from simulator.fleet import (
    AddressPlan,
    Fleet,
    gateway_devices,
    plan_addresses,
    simulated_inventory,
)
from simulator.gateways import BrokerSettings, MqttGateways

log = logging.getLogger("pubnet.simulator")

FAULT_KINDS = ("silent", "slow", "malformed", "wrap", "link-down", "power-off")


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}") from None


def _fault(text: str) -> tuple[str, float]:
    kind, _, share = text.partition("=")
    if kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(f"fault must be one of {', '.join(FAULT_KINDS)}")
    try:
        value = float(share)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected KIND=FRACTION, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("the fraction must be between 0 and 1")
    return kind, value


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulator",
                                     description="Serve a simulated SNMP fleet for an inventory.")
    parser.add_argument("--inventory", type=Path, required=True,
                        help="inventory folder or YAML file")
    parser.add_argument("--out", type=Path, help="write the re-addressed inventory here")
    parser.add_argument("--config", type=Path,
                        help="pubnet.yaml: devices answer their named credential "
                        "(v1/v2c community or v3 user)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--network", default="127.1.0.0",
                        help="first loopback address (default 127.1.0.0)")
    parser.add_argument("--port", type=int, default=1161, help="UDP port (default 1161)")
    parser.add_argument("--per-port", action="store_true",
                        help="all devices on --network, device i on port --port + i")
    parser.add_argument("--trap-target", type=_address, metavar="HOST:PORT",
                        help="send linkDown/linkUp/coldStart traps here")
    parser.add_argument("--trap-community", default=None, metavar="COMMUNITY",
                        help="community of the v2c traps (default: the first v1/v2c "
                        "credential in the config's traps.credentials, else public)")
    parser.add_argument("--fault", type=_fault, action="append", default=[],
                        metavar="KIND=FRACTION", help=f"one of {', '.join(FAULT_KINDS)}")
    parser.add_argument("--flap-every", type=_duration, default=0.0, metavar="DURATION",
                        help="take a random interface down and up again this often")
    parser.add_argument("--stats-every", type=_duration, default=30.0, metavar="DURATION")
    mqtt = parser.add_argument_group("MQTT gateways (devices with profile mqtt)")
    mqtt.add_argument("--mqtt-url", metavar="URL",
                      help="mqtt://host[:port] or mqtts://host[:port]: the gateways publish "
                      "here (default: they stay silent)")
    mqtt.add_argument("--mqtt-username", metavar="NAME", help="the gateways' login")
    mqtt.add_argument("--mqtt-password-file", type=Path, metavar="FILE",
                      help="file holding the gateways' password (never on the command line)")
    mqtt.add_argument("--mqtt-ca-file", type=Path, metavar="FILE",
                      help="CA of the broker's certificate (mqtts://)")
    mqtt.add_argument("--heartbeat", type=_duration, default=30.0, metavar="DURATION",
                      help="telemetry interval of each gateway (default 30s)")
    return parser


def apply_faults(fleet: Fleet, faults: Sequence[tuple[str, float]], seed: int,
                 gateways: MqttGateways | None = None) -> dict[str, int]:
    """Give each fault kind to a deterministic share of the devices (``power-off``: of the
    MQTT gateways); returns counts.

    The share is exact, rounded, and at least one device when it is above 0: a demo that
    asks for 5 % of its 41 gateways to lose power must show one losing it, which drawing
    each device at 5 % would leave to luck.
    """
    counts: dict[str, int] = {}
    for salt, (kind, share) in enumerate(faults):
        if kind == "power-off":
            pool = {d: g.device for d, g in (gateways.gateways if gateways else {}).items()}
        else:
            pool = fleet.devices
        wanted = max(1, round(share * len(pool))) if share > 0 else 0
        ranked = sorted(pool, key=lambda d: (unit(seed, 0xFA17, salt, mix(pool[d].index)), d))
        chosen = sorted(ranked[:wanted])
        for dev in chosen:
            if kind == "power-off":
                assert gateways is not None
                gateways.power_off(dev)
            elif kind == "silent":
                fleet.silence(dev)
            elif kind == "slow":
                fleet.slow(dev, 1.5)
            elif kind == "malformed":
                fleet.malform(dev)
            elif kind == "wrap":
                fleet.wrap(dev, 60.0)
            else:
                fleet.link_down(dev, 1)
        counts[kind] = len(chosen)
    return counts


async def _flap(fleet: Fleet, every: float, seed: int) -> None:
    ids = sorted(fleet.devices)
    step = 0
    while ids:
        await asyncio.sleep(every)
        step += 1
        device = fleet.devices[ids[mix(seed, step) % len(ids)]]
        iface = device.interfaces[mix(seed, step, 1) % len(device.interfaces)]
        log.info("flap", extra={"device": device.device_id, "interface": iface.name})
        fleet.link_down(device.device_id, iface.index)
        fleet.loop_call_later(every / 2, fleet.link_up, device.device_id, iface.index)


async def _serve(fleet: Fleet, gateways: MqttGateways | None,
                 args: argparse.Namespace) -> None:
    from pubnet.signals import stop_on_signals

    stop = asyncio.Event()
    async with fleet, gateways or contextlib.nullcontext():
        counts = apply_faults(fleet, args.fault, args.seed, gateways)
        if counts:
            log.info("faults applied", extra=counts)
        with stop_on_signals(stop):
            async with asyncio.TaskGroup() as group:
                if args.flap_every > 0:
                    flapper = group.create_task(_flap(fleet, args.flap_every, args.seed))
                last = 0
                while not stop.is_set():
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=args.stats_every)
                    except TimeoutError:
                        pass
                    stats = fleet.agent.stats
                    log.info("simulator stats", extra={
                        "requests": stats.requests,
                        "requests_per_second": round((stats.requests - last) / args.stats_every),
                        "responses": stats.responses,
                        "dropped": sum(stats.dropped.values()), "traps": fleet.traps_sent})
                    if gateways is not None:
                        mqtt = gateways.stats
                        log.info("simulator mqtt stats", extra={
                            "gateways": len(gateways.gateways), "connected": mqtt.connected,
                            "published": mqtt.published, "acknowledged": mqtt.acknowledged,
                            "connect_failures": mqtt.connect_failures,
                            "refused": mqtt.refused})
                    last = stats.requests
                if args.flap_every > 0:
                    flapper.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging("info", "kv", [])
    from inventory.loader import InventoryError, load_inventory
    from inventory.writer import write_inventory

    credentials = {}
    trap_community = args.trap_community
    if args.config is not None:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        credentials = dict(config.credentials)
        if trap_community is None and config.traps is not None:
            for name in config.traps.credentials:
                community = credentials[name].community
                if community is not None:
                    trap_community = community.get_secret_value()
                    break
    try:
        inventory = load_inventory(args.inventory).inventory
    except InventoryError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    try:
        plan = AddressPlan(args.network, args.port, args.per_port)
        addresses = plan_addresses(inventory, plan)
    except ValueError as exc:
        print(f"--network/--port: {exc}", file=sys.stderr)
        return 2
    if args.out is not None:
        write_inventory(simulated_inventory(inventory, addresses), args.out)
        log.info("wrote simulated inventory",
                 extra={"out": str(args.out), "devices": len(addresses)})
    fleet = Fleet.from_inventory(inventory, plan, seed=args.seed, credentials=credentials,
                                 trap_target=args.trap_target)
    fleet.trap_community = (trap_community or "public").encode("utf-8")
    gateways = None
    if args.mqtt_url is not None:
        try:
            password = (args.mqtt_password_file.read_text(encoding="utf-8").strip()
                        if args.mqtt_password_file is not None else None)
            broker = BrokerSettings.from_url(args.mqtt_url, username=args.mqtt_username,
                                             password=password, ca_file=args.mqtt_ca_file,
                                             heartbeat=args.heartbeat)
        except (OSError, ValueError) as exc:
            print(f"--mqtt-url/--mqtt-password-file: {exc}", file=sys.stderr)
            return 2
        gateways = MqttGateways.from_devices(
            inventory, gateway_devices(inventory, plan, seed=args.seed), broker, seed=args.seed)
    try:
        asyncio.run(_serve(fleet, gateways, args))
    except OSError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
