"""What the alerting commands share: where the database is, opening it, and the inventory
a maintenance scope is checked against.

``pubnet alerts ...`` and ``pubnet maintenance ...`` (:mod:`alerting.cli`) and
``pubnet maintenance import`` (:mod:`alerting.ical`) find and read these the same way, so
that a user's mistake reads the same whichever command made it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alerting.db import IncidentDB
    from inventory.model import Inventory


def database_path(config_path: Path | None) -> Path | None:
    """``alerting.database`` of the config (relative to it), ``./pubnet.db`` without one."""
    from pubnet.config import ConfigError, load_config

    if config_path is None:
        return Path("pubnet.db")
    try:
        # Only alerting.database is needed: the daemon's secrets need not be set here.
        config = load_config(config_path, resolve=False)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return None
    if config.alerting is not None:
        return config.alerting.database
    return config_path.resolve().parent / "pubnet.db"


def open_database(path: Path) -> IncidentDB:
    """The alerting database of one command, for a ``with`` block (opened and closed
    there); imported here so that commands not touching it start faster."""
    from alerting.db import IncidentDB

    return IncidentDB(path)


SHOWN_PROBLEMS = 10
"""Inventory errors a maintenance command prints before pointing at ``inventory validate``."""


def scope_inventory(args: argparse.Namespace, command: str = "pubnet maintenance add"
                     ) -> tuple[bool, Inventory | None]:
    """(ok, inventory) to check a scope against: ``--inventory``, else the config's; None
    when neither names one. Prints the problem (after ``command``, the one the user typed)
    and returns (False, None) when it cannot be read."""
    from inventory.loader import InventoryError, load_inventory
    from pubnet.config import ConfigError, load_config

    path = args.inventory
    if path is None and args.config is not None:
        try:
            path = load_config(args.config, resolve=False).inventory
        except ConfigError as exc:
            print(str(exc), file=sys.stderr)
            return False, None
    if path is None:
        return True, None
    try:
        result = load_inventory(path)
    except InventoryError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return False, None
    errors = [p for p in result.problems if p.is_error]
    if errors:
        # a scope checked against what a broken file let through would pass or fail by luck
        print(f"{command}: the inventory {path} has {len(errors):,} error(s), so scopes "
              "cannot be checked against it:", file=sys.stderr)
        for problem in errors[:SHOWN_PROBLEMS]:
            print(f"  {problem}", file=sys.stderr)
        if len(errors) > SHOWN_PROBLEMS:
            print(f"  ... and {len(errors) - SHOWN_PROBLEMS:,} more (pubnet inventory "
                  "validate lists them all)", file=sys.stderr)
        return False, None
    return True, result.inventory
