"""The ``pubnet`` command line.

``main(argv) -> int`` so that tests call it directly. Exit codes: 0 ok, 1 bad input (an
inventory or config with errors, an output that cannot be written), 2 usage (unknown flag,
missing argument), 3 ``poll``: some devices did not answer. Subcommands are added by the
features that own them; each lives in a small ``_cmd_*`` function.

Commands that run the daemon's work (``run``, ``config check``, ``poll``) load the config
with its secrets resolved and its certificate files checked (``resolve_secrets=True`` in
their parser defaults); the others only need names and paths from it and must work where
the daemon's secrets are not set.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from pubnet import __version__
from pubnet.argtypes import positive_int
from pubnet.cliout import EXIT_BAD_INPUT as EXIT_BAD_INPUT
from pubnet.cliout import EXIT_OK as EXIT_OK
from pubnet.cliout import EXIT_USAGE as EXIT_USAGE
from pubnet.config import (
    Config,
    ConfigError,
    check_files_before_start,
    default_config,
    load_config,
    secret_values,
)
from pubnet.logs import setup_logging
from pubnet.shard import Shard

log = logging.getLogger("pubnet.cli")

THREADS_GRACE = 2.0
"""Seconds ``pubnet run`` waits at exit for worker threads still finishing a write."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` can return the usage code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise _UsageError


class _UsageError(Exception):
    pass


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _roles(text: str) -> tuple[str, ...]:
    """``--role alerting`` or ``--role poll,alerting``."""
    from pubnet.config import Role
    from pubnet.config.service import parse_roles

    try:
        roles = parse_roles(p for p in text.split(",") if p.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return tuple(r.value for r in Role if r in roles)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pubnet",
        description="Monitoring for a national public-internet programme: village Wi-Fi "
        "sites, gateways and backbone links.",
    )
    parser.add_argument("--version", action="version", version=f"pubnet {__version__}")
    parser.add_argument("--log-format", choices=["kv", "json"], default=None,
                        help="log line format (default: kv, or logging.format in the config)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        default=None, help="log level (default: info)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    run = commands.add_parser("run", help="watch the fleet: start what the config enables")
    run.add_argument("--config", type=Path, help="pubnet.yaml (default: embedded defaults)")
    run.add_argument("--inventory", type=Path, help="inventory folder or YAML file "
                     "(overrides the config's inventory)")
    run.add_argument("--shard", type=_shard, metavar="I/N",
                     help="poll only shard I of N of the sites (rendezvous hashing on the "
                     "site id; overrides the config's shard)")
    run.add_argument("--role", type=_roles, metavar="ROLE[,ROLE]",
                     help="poll, alerting, or poll,alerting (overrides the config's roles; "
                     "default both, or poll on a shard of N > 1): an alerting instance "
                     "takes device status from the shards through the broker")
    run.set_defaults(handler=_cmd_run, resolve_secrets=True)

    config = commands.add_parser("config", help="check a config file")
    config_cmds = config.add_subparsers(dest="config_command", metavar="ACTION",
                                        parser_class=_Parser)
    config_cmds.required = True
    check = config_cmds.add_parser("check", help="validate a config; print it with secrets "
                                   "masked")
    check.add_argument("file", type=Path, metavar="FILE")
    check.set_defaults(handler=_cmd_config_check, resolve_secrets=True)

    inv = commands.add_parser("inventory", help="validate, generate and count inventories")
    inv_cmds = inv.add_subparsers(dest="inventory_command", metavar="ACTION",
                                  parser_class=_Parser)
    inv_cmds.required = True

    validate = inv_cmds.add_parser(
        "validate", help="report every problem in an inventory as file:line: field: message")
    validate.add_argument("path", type=Path, metavar="PATH",
                          help="inventory folder (sites.csv, devices.csv, links.csv) or YAML")
    validate.add_argument("--config", type=Path,
                          help="also check credential names against this config")
    validate.set_defaults(handler=_cmd_inventory_validate)

    generate = inv_cmds.add_parser(
        "generate", help="write a realistic national inventory from Thailand's divisions")
    generate.add_argument("--sites", type=positive_int, required=True, metavar="N")
    generate.add_argument("--seed", type=int, default=1, metavar="S")
    generate.add_argument("--out", type=Path, required=True, metavar="DIR",
                          help="folder to write into; must be new or empty")
    generate.add_argument("--force", action="store_true",
                          help="write into a folder that is not empty (replaces sites.csv, "
                          "devices.csv and links.csv there)")
    generate.set_defaults(handler=_cmd_inventory_generate)

    stats = inv_cmds.add_parser("stats", help="count sites and devices by province, kind, role")
    stats.add_argument("path", type=Path, metavar="PATH")
    stats.set_defaults(handler=_cmd_inventory_stats)

    poll = commands.add_parser("poll", help="poll SNMP devices (or probe ICMP ones) once and "
                               "print what they say; exit 3 if some did not answer")
    poll.add_argument("--config", type=Path, required=True, help="pubnet.yaml (credentials)")
    poll.add_argument("--inventory", type=Path, help="inventory folder or YAML file "
                      "(overrides the config's inventory)")
    poll.add_argument("--device", action="extend", nargs="+", default=None, metavar="ID",
                      help="poll only these devices (--device a b, or repeat the flag; "
                      "default: every SNMP device); an icmp device is probed once, an mqtt "
                      "device is explained")
    poll.add_argument("--once", action="store_true", required=True,
                      help="one polling round, then exit (the only mode)")
    poll.add_argument("--format", choices=["jsonl", "prom"], default="jsonl")
    poll.set_defaults(handler=_cmd_poll, resolve_secrets=True)

    from alerting.cli import register as register_alerting

    register_alerting(commands)  # alerts list|ack|export-rules, maintenance add|list
    from pubnet.app.demo import register as register_demo

    register_demo(commands)  # demo: a fibre cut on a simulated fleet, end to end
    from dashboards.cli import register as register_dashboards

    register_dashboards(commands)  # dashboards build|push: Grafana dashboards as code
    from dashboards.reports.cli import register as register_reports

    register_reports(commands)  # report coverage: planners' coverage and SLA report
    return parser


def _load_config_or_report(path: Path | None, *, resolve: bool = True) -> Config | None:
    """The config, or None after printing its problems. ``resolve``: the daemon's way, with
    secrets read and certificate/key files checked; otherwise neither."""
    if path is None:
        return default_config()
    try:
        config = load_config(path, resolve=resolve)
        if resolve:
            check_files_before_start(config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return None
    return config


def _profile_names(config: Config) -> frozenset[str] | None:
    """SNMP profile names the config makes available (shipped plus ``snmp.profiles_dir``);
    None after reporting a broken profile file."""
    from collectors.snmp.poller import load_configured_profiles
    from collectors.snmp.profiles import ProfileError

    try:
        return load_configured_profiles(config.snmp).names()
    except ProfileError as exc:
        print(f"{exc}", file=sys.stderr)
        return None


# -- commands -----------------------------------------------------------------------------


def _cmd_config_check(args: argparse.Namespace) -> int:
    config = _load_config_or_report(args.file)
    if config is None:
        return EXIT_BAD_INPUT
    import yaml

    dumped = config.model_dump(mode="json", exclude={"source"}, by_alias=True)
    print(yaml.safe_dump(dumped, allow_unicode=True, sort_keys=False), end="")
    return EXIT_OK


def _cmd_inventory_validate(args: argparse.Namespace) -> int:
    from inventory.loader import InventoryError, load_inventory
    from inventory.validate import validate

    known_credentials: set[str] | None = None
    extra_profiles: frozenset[str] = frozenset()
    if args.config is not None:
        # Credential names and profiles_dir are all it needs: no secret is read.
        config = _load_config_or_report(args.config, resolve=False)
        if config is None:
            return EXIT_BAD_INPUT
        known_credentials = set(config.credentials)
        names = _profile_names(config)
        if names is None:
            return EXIT_BAD_INPUT
        extra_profiles = names
    try:
        result = load_inventory(args.path)
    except InventoryError as exc:
        print(f"{exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    problems = validate(result, known_credentials=known_credentials,
                        extra_profiles=extra_profiles)
    errors = 0
    for problem in problems:
        print(problem)
        errors += problem.is_error
    inv = result.inventory
    print(
        f"{args.path}: {len(inv.sites)} sites, {len(inv.devices)} devices, "
        f"{len(inv.links)} links; {errors} errors, {len(problems) - errors} warnings",
        file=sys.stderr,
    )
    return EXIT_BAD_INPUT if errors else EXIT_OK


def _cmd_inventory_generate(args: argparse.Namespace) -> int:
    from inventory.generate import generate, write_inventory

    out: Path = args.out
    if out.exists() and not out.is_dir():
        print(f"{out}: not a folder", file=sys.stderr)
        return EXIT_BAD_INPUT
    if out.is_dir() and not args.force and _not_empty(out):
        print(f"{out}: folder is not empty (an inventory there would be overwritten); give "
              "a new or empty folder, or --force to replace its sites.csv, devices.csv and "
              "links.csv", file=sys.stderr)
        return EXIT_BAD_INPUT
    inventory = generate(sites=args.sites, seed=args.seed)
    try:
        write_inventory(inventory, out)
    except OSError as exc:
        print(f"{exc.filename or out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        f"wrote {len(inventory.sites)} sites, {len(inventory.devices)} devices, "
        f"{len(inventory.links)} links to {out}",
        file=sys.stderr,
    )
    return EXIT_OK


def _not_empty(folder: Path) -> bool:
    try:
        return any(folder.iterdir())
    except OSError:
        return False  # unreadable: writing will say why


def _cmd_inventory_stats(args: argparse.Namespace) -> int:
    from inventory.loader import InventoryError, load_inventory
    from inventory.stats import compute_stats, render_stats

    try:
        result = load_inventory(args.path)
    except InventoryError as exc:
        print(f"{exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(render_stats(compute_stats(result.inventory)), end="")
    return EXIT_OK


def _cmd_poll(args: argparse.Namespace) -> int:
    """One round: SNMP devices polled, ICMP devices probed, MQTT devices explained; printed
    as JSON lines or Prometheus text; exit 3 when some device did not answer."""
    from collectors.snmp.poller import load_configured_profiles, snmp_devices
    from collectors.snmp.profiles import ProfileError
    from inventory.loader import InventoryError, load_inventory
    from pubnet.app.poll import run_poll

    config = _load_config_or_report(args.config)
    if config is None:
        return EXIT_BAD_INPUT
    inventory_path = args.inventory or config.inventory
    if inventory_path is None:
        print("pubnet poll: no inventory (give --inventory or set inventory in the config)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        inventory = load_inventory(inventory_path).inventory
        profiles = load_configured_profiles(config.snmp)
    except (InventoryError, ProfileError) as exc:
        print(f"{exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.device:
        unknown = [d for d in args.device if d not in inventory.devices]
        if unknown:
            print(f"pubnet poll: not in the inventory: {', '.join(unknown)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        selected = [inventory.devices[d] for d in dict.fromkeys(args.device)]
    else:
        selected = list(snmp_devices(inventory))
        others = len(inventory.devices) - len(selected)
        if others:
            print(f"pubnet poll: {others} ICMP/MQTT devices not polled (give --device ID to "
                  "probe an ICMP device once)", file=sys.stderr)
    return run_poll(config, inventory, selected, profiles, args.format, sys.stdout,
                    sys.stderr)


def _cmd_run(args: argparse.Namespace) -> int:
    from pubnet.app import components
    from pubnet.app.reload import Service, SetupError, Sources, load_setup
    from pubnet.app.runtime import ComponentFailed, Context, still_running
    from pubnet.signals import StopRequest, stop_on_signals

    sources = Sources(args.config, args.inventory, args.shard, args.role)
    try:
        setup = load_setup(sources)
    except SetupError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        if exc.what == "inventory":
            log.error("inventory has errors, not starting", extra={"errors": len(exc.problems)})
        return EXIT_BAD_INPUT
    for warning in setup.warnings:
        print(warning, file=sys.stderr)
    config, inventory = setup.config, setup.inventory
    log.info("inventory loaded", extra={"sites": len(inventory.sites),
                                        "devices": len(inventory.devices),
                                        "links": len(inventory.links)})
    if setup.shard is not None and setup.shard.count > 1 and config.mqtt.shared_group:
        log.warning("a shard with mqtt.shared_group: telemetry of this shard's gateways may "
                    "be delivered to another shard, and this one would count them silent; "
                    "subscribe without a shared group (docs/deployment.md)",
                    extra={"shard": str(setup.shard), "shared_group": config.mqtt.shared_group})
    if setup.shard is not None:
        log.info("shard watching its part of the inventory", extra={
            "shard": str(setup.shard), "sites": len(inventory.sites),
            "devices": len(inventory.devices), "of_sites": len(setup.whole.sites),
            "of_devices": len(setup.whole.devices)})
    from pubnet.config import Role

    log.info("roles", extra={"roles": ",".join(sorted(r.value for r in setup.roles))})
    if setup.roles == {Role.POLL} and config.mqtt.embedded:
        log.warning("poll role without a shared broker (mqtt.url): device status goes "
                    "nowhere and no alerting runs for these devices; set mqtt.url and run "
                    "an alerting instance (pubnet run --role alerting), or roles: [poll, "
                    "alerting] (docs/deployment.md)")
    from pubnet.fdbudget import plan_budget, raise_soft_limit

    raise_soft_limit()  # before any component sizes itself from the limit
    fds = plan_budget(config, inventory)
    log.info("file descriptors", extra={"limit": fds.limit, "reserved": fds.reserved,
                                        "listener": fds.listener, "poller": fds.poller})
    ctx = Context(config=config, inventory=inventory, topology=setup.topology,
                  roles=setup.roles, shard=setup.shard, whole=setup.whole,
                  derivation=setup.derivation)
    if not components.plan(ctx):
        log.info("no runnable components yet; exiting")
        return EXIT_OK
    for planned in components.plan(ctx):
        if planned.name == "http":
            log.info("starting component=%s %s", planned.name, planned.detail)

    def relog(new: Config) -> None:
        setup_logging(args.log_level or new.logging.level,
                      args.log_format or new.logging.format, secret_values(new))

    async def serve() -> None:
        stop = StopRequest()
        service = Service(setup, sources, on_config=relog)
        with stop_on_signals(stop), service.reload_on_sighup():
            await service.run(stop)
        leftover = still_running()
        if leftover != "-":  # asyncio.run cancels them and waits: say what it waits for
            log.warning("tasks still running at exit", extra={"tasks": leftover})

    failed = False
    try:
        asyncio.run(serve())
    except* ComponentFailed:  # logged by the runtime; no traceback on the console
        failed = True
    code = EXIT_BAD_INPUT if failed else EXIT_OK
    log.info("exiting", extra={"code": code})
    if args.skip_teardown:
        _exit_now(code)
    return code


def _exit_now(code: int) -> NoReturn:
    """End the process without the interpreter's teardown, once everything is flushed.

    The stop has written what must survive (Influx buffer, outbox, databases); what is left
    is freeing every object one by one, which took 1.7 s at 50,000 devices and 4.6 s at
    100,000 (millions of series) after the stop itself, eating systemd's 10 s. The one part
    of the teardown kept is the wait for worker threads (their executors are shut down, so
    idle ones have ended): a database write or a buffer segment that a cancelled task left
    running in one finishes, within :data:`THREADS_GRACE`. Only for the process's own
    ``pubnet run``, never when ``main`` is called in-process (tests).
    """
    deadline = time.monotonic() + THREADS_GRACE
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    busy = sorted(t.name for t in threading.enumerate()
                  if t is not threading.current_thread() and not t.daemon and t.is_alive())
    if busy:
        log.warning("worker threads still busy at exit", extra={"threads": ",".join(busy)})
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


# -- entry point --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, *, skip_teardown: bool = False) -> int:
    """Run one command. ``skip_teardown``: this is the process (the ``pubnet`` script,
    ``python -m pubnet.cli``), and ``pubnet run`` may end it without the interpreter's
    teardown once it has stopped cleanly (:func:`_exit_now`)."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError:
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)
    args.skip_teardown = skip_teardown
    config_path = getattr(args, "config", None) or getattr(args, "file", None)
    secrets: list[str] = []
    level, fmt = "info", "kv"
    if isinstance(config_path, Path) and config_path.is_file():
        try:
            config = load_config(config_path,
                                 resolve=bool(getattr(args, "resolve_secrets", False)))
            secrets = secret_values(config)
            level, fmt = config.logging.level, config.logging.format
        except ConfigError:
            pass  # the command reports it
    setup_logging(args.log_level or level, args.log_format or fmt, secrets)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130


def console() -> int:
    """The ``pubnet`` script."""
    return main(skip_teardown=True)


if __name__ == "__main__":
    sys.exit(console())
