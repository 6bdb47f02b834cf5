"""``pubnet alerts ...`` and ``pubnet maintenance ...``: work on the alerting database.

These commands open the SQLite file of ``alerting.database`` directly (WAL mode lets them
run next to the daemon, which picks acknowledgements and windows up within a tick).
``register`` adds the subcommands to the shell's parser; handlers return exit codes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from alerting.cliopen import database_path, open_database, scope_inventory
from alerting.messages import BANGKOK, iso, local_time
from alerting.model import State
from pubnet.cliout import EXIT_BAD_INPUT, EXIT_OK, print_written

_RELATIVE = re.compile(r"^\+(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def register(commands: Any) -> None:
    """Add ``alerts`` and ``maintenance`` to the shell's subcommands."""
    alerts = commands.add_parser("alerts", help="list, acknowledge and export alerting rules")
    alert_cmds = alerts.add_subparsers(dest="alerts_command", metavar="ACTION",
                                       parser_class=type(alerts))
    alert_cmds.required = True

    listing = alert_cmds.add_parser("list", help="incidents, newest first")
    listing.add_argument("--config", type=Path, help="pubnet.yaml (finds alerting.database)")
    listing.add_argument("--state", choices=["firing", "acknowledged", "resolved"])
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.add_argument("--limit", type=int, default=200)
    listing.set_defaults(handler=cmd_alerts_list)

    ack = alert_cmds.add_parser("ack", help="acknowledge an incident: stops repeats and "
                                "escalation")
    ack.add_argument("incident_id", metavar="ID")
    ack.add_argument("--by", required=True, metavar="NAME")
    ack.add_argument("--note", metavar="TEXT")
    ack.add_argument("--config", type=Path)
    ack.set_defaults(handler=cmd_alerts_ack)

    export = alert_cmds.add_parser(
        "export-rules", help="write Prometheus alerting rules and an Alertmanager config")
    export.add_argument("--out", type=Path, required=True, metavar="DIR")
    export.add_argument("--config", type=Path)
    export.add_argument("--inventory", type=Path, help="inventory (default: the config's)")
    export.set_defaults(handler=cmd_alerts_export_rules)

    maint = commands.add_parser("maintenance", help="maintenance windows: nothing is sent "
                                "for incidents inside them")
    maint_cmds = maint.add_subparsers(dest="maintenance_command", metavar="ACTION",
                                      parser_class=type(maint))
    maint_cmds.required = True
    add = maint_cmds.add_parser("add", help="add a window")
    add.add_argument("--scope", required=True,
                     help="province:CODE, district:CODE, site:ID or device:ID (checked "
                     "against the inventory)")
    add.add_argument("--from", dest="start", required=True,
                     help="ISO time (Thailand time if no zone), 'now' or +30m")
    add.add_argument("--to", dest="end", required=True,
                     help="ISO time, or +DURATION after --from (e.g. +4h)")
    add.add_argument("--note", default="")
    add.add_argument("--by", default="")
    add.add_argument("--config", type=Path)
    add.add_argument("--inventory", type=Path,
                     help="inventory to check the scope against (default: the config's)")
    add.set_defaults(handler=cmd_maintenance_add)
    end = maint_cmds.add_parser("end", help="end a window now (the work finished early, or "
                                "it was added by mistake); kept in the record")
    end.add_argument("window_id", type=int, metavar="ID", help="the window's id (see list)")
    end.add_argument("--config", type=Path)
    end.set_defaults(handler=cmd_maintenance_end)
    mlist = maint_cmds.add_parser("list", help="current and future windows")
    mlist.add_argument("--all", action="store_true", help="include ended windows")
    mlist.add_argument("--format", choices=["table", "json"], default="table")
    mlist.add_argument("--config", type=Path)
    mlist.set_defaults(handler=cmd_maintenance_list)
    from alerting.ical import register as register_import

    register_import(maint_cmds)  # import --ics FILE_OR_URL --scope-from LOCATION|SUMMARY


# -- helpers ------------------------------------------------------------------------------


def parse_time(text: str, *, base: float | None = None, now: float | None = None) -> float:
    """``now``, ``+90m`` (after ``base`` or now), or ISO 8601 (Thailand time when no zone).

    Raises ValueError with a message for the user.
    """
    now = time.time() if now is None else now
    text = text.strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        return (now if base is None else base) + float(match.group(1)) * _UNIT[match.group(2)]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"cannot read time {text!r}: use 2026-12-01T08:00, now or +2h") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=BANGKOK)
    return parsed.timestamp()


# -- commands -----------------------------------------------------------------------------


def cmd_alerts_list(args: argparse.Namespace) -> int:
    path = database_path(args.config)
    if path is None:
        return EXIT_BAD_INPUT
    acks: dict[str, list[Any]] = {}
    if not path.exists():
        rows = []
    else:
        with open_database(path) as db:
            rows = db.list_incidents(State(args.state) if args.state else None, args.limit)
            acks = db.acks_of([row.incident.incident_id for row in rows])
    if args.format == "json":
        out = []
        for row in rows:
            inc, facts = row.incident, row.facts
            out.append({
                "incident_id": inc.incident_id, "state": inc.state.value,
                "kind": inc.kind.value, "severity": inc.severity.value, "root": inc.root,
                "province": facts.province, "district": facts.district, "site": facts.site,
                "affected_devices": facts.affected_devices,
                "affected_sites": facts.affected_sites, "summary": facts.summary,
                "started_at": iso(inc.started_at), "resolved_at": iso(inc.resolved_at),
                "acknowledged_by": inc.acked_by, "acknowledged_at": iso(inc.acked_at),
                "ack_note": inc.ack_note, "maintenance": inc.maintenance,
                "merged_into": inc.merged_into,
                "acks": [{"by": a.by, "at": iso(a.at), "note": a.note, "channel": a.channel}
                         for a in acks.get(inc.incident_id, [])],
            })
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return EXIT_OK
    header = ("ID", "STATE", "KIND", "SEVERITY", "ROOT", "SITES", "PROV", "DIST",
              "STARTED (ICT)", "ACK BY")
    table = [header]
    for row in rows:
        inc, facts = row.incident, row.facts
        table.append((inc.incident_id, inc.state.value + ("*" if inc.maintenance else ""),
                      inc.kind.value, inc.severity.value, inc.root.partition(":")[2],
                      str(facts.affected_sites), facts.province, facts.district,
                      local_time(inc.started_at), inc.acked_by or ""))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    if any(row.incident.maintenance for row in rows):
        print("* inside a maintenance window: messages held back", file=sys.stderr)
    return EXIT_OK


def cmd_alerts_ack(args: argparse.Namespace) -> int:
    path = database_path(args.config)
    if path is None:
        return EXIT_BAD_INPUT
    if not path.exists():
        print(f"{path}: no alerting database", file=sys.stderr)
        return EXIT_BAD_INPUT
    with open_database(path) as db:
        result = db.acknowledge(args.incident_id, args.by, args.note, time.time())
    if result == "unknown":
        print(f"no incident {args.incident_id}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if result == "closed":
        print(f"{args.incident_id} is already resolved", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{args.incident_id} acknowledged by {args.by}")
    return EXIT_OK


def cmd_maintenance_add(args: argparse.Namespace) -> int:
    from alerting.routing import parse_scope
    from alerting.scopes import SCOPE_FORMS, scope_problem

    path = database_path(args.config)
    if path is None:
        return EXIT_BAD_INPUT
    try:
        scope = parse_scope(args.scope)
        now = time.time()
        start = parse_time(args.start, now=now)
        end = parse_time(args.end, base=start, now=now)
    except ValueError as exc:
        print(f"pubnet maintenance add: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if end <= start:
        print("pubnet maintenance add: --to must be after --from", file=sys.stderr)
        return EXIT_BAD_INPUT
    if end <= now:
        print(f"pubnet maintenance add: the window already ended ({local_time(end)}, Thailand "
              "time): it would silence nothing", file=sys.stderr)
        return EXIT_BAD_INPUT
    ok, inventory = scope_inventory(args)
    if not ok:
        return EXIT_BAD_INPUT
    problem = scope_problem(scope, inventory)
    if problem is not None:
        print(f"pubnet maintenance add: --scope {args.scope}: {problem}; valid forms: "
              f"{SCOPE_FORMS}", file=sys.stderr)
        return EXIT_BAD_INPUT
    with open_database(path) as db:
        window_id = db.add_maintenance(scope, start, end, args.note, args.by, now)
    print(f"maintenance window {window_id}: {scope} {local_time(start)} - {local_time(end)} "
          "(Thailand time)")
    return EXIT_OK


def cmd_maintenance_end(args: argparse.Namespace) -> int:
    path = database_path(args.config)
    if path is None:
        return EXIT_BAD_INPUT
    window = None
    if path.exists():
        with open_database(path) as db:
            window = db.end_maintenance(args.window_id, time.time())
    if window is None:
        print(f"pubnet maintenance end: no maintenance window {args.window_id}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"maintenance window {window.window_id}: {window.scope} now ends "
          f"{local_time(window.ends_at)} (Thailand time); alerts for it are sent again")
    return EXIT_OK


def cmd_maintenance_list(args: argparse.Namespace) -> int:
    path = database_path(args.config)
    if path is None:
        return EXIT_BAD_INPUT
    windows = []
    if path.exists():
        with open_database(path) as db:
            windows = db.maintenance_windows(None if args.all else time.time())
    now = time.time()
    if args.format == "json":
        print(json.dumps([{"id": w.window_id, "scope": w.scope, "from": iso(w.starts_at),
                           "to": iso(w.ends_at), "note": w.note, "by": w.created_by,
                           "active": w.active(now)} for w in windows],
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    table = [("ID", "SCOPE", "FROM (ICT)", "TO (ICT)", "ACTIVE", "NOTE")]
    for w in windows:
        table.append((str(w.window_id), w.scope, local_time(w.starts_at), local_time(w.ends_at),
                      "yes" if w.active(now) else "no", w.note))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(cell.ljust(wd) for cell, wd in zip(r, widths, strict=True)).rstrip())
    return EXIT_OK


def cmd_alerts_export_rules(args: argparse.Namespace) -> int:
    from alerting.rules import export_rules
    from inventory.loader import InventoryError, load_inventory
    from inventory.model import Inventory
    from pubnet.config import ConfigError, load_config

    inventory_path = args.inventory
    if args.config is not None:
        try:
            config = load_config(args.config, resolve=False)
        except ConfigError as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_BAD_INPUT
        inventory_path = inventory_path or config.inventory
    inventory = Inventory()
    if inventory_path is not None:
        try:
            inventory = load_inventory(inventory_path).inventory
        except InventoryError as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_BAD_INPUT
    return print_written(lambda: export_rules(inventory, args.out))
