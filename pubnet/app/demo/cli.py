"""``pubnet demo`` on the command line: its flags, and the checks that must fail before any
fleet is built (a bad ``--listen`` or too short an ``--interval``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pubnet.app.demo.run import DemoOptions, run_demo
from pubnet.argtypes import non_negative, positive_int
from pubnet.cliout import EXIT_FAILED


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
