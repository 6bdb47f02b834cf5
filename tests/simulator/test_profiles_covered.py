"""The simulator answers every column the shipped SNMP profiles walk (so the demo fills
every dashboard panel). Vendor tables it does not emulate are listed here on purpose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pubnet.ber import parse_oid
from simulator.fleet import AddressPlan, Fleet
from tests.simulator.support import small_inventory

PROFILES = Path(__file__).resolve().parents[2] / "collectors" / "profiles"
NOT_EMULATED = {("access-point", "mikrotik_aps")}
"""MikroTik's wireless table: the simulated APs are UniFi."""


def columns(profile: str) -> list[tuple[str, str, tuple[int, ...]]]:
    data: dict[str, Any] = yaml.safe_load((PROFILES / f"{profile}.yaml").read_text("utf-8"))
    found = []
    for table, spec in (data.get("tables") or {}).items():
        if (profile, table) in NOT_EMULATED:
            continue
        for name, oid in (spec.get("columns") or {}).items():
            found.append((table, name, parse_oid(str(oid))))
    return found


@pytest.mark.parametrize(("profile", "device"), [
    ("if-mib", "gw-1"), ("host", "dist-1"), ("access-point", "ap-1"),
], ids=["if-mib", "host", "access-point"])
def test_every_profile_column_has_instances(profile: str, device: str) -> None:
    fleet = Fleet.from_inventory(small_inventory(), AddressPlan("127.1.0.0", 161))
    shape = fleet.shapes.get(fleet.device(device))
    wanted = columns(profile)
    assert wanted
    missing = [f"{table}.{name}" for table, name, oid in wanted
               if not any(o[:len(oid)] == oid for o in shape.oids)]
    assert missing == []
