"""The demo path: inventory → simulator → ``pubnet poll --once`` reads what it serves."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from inventory.writer import write_inventory
from pubnet.cli import main
from simulator import Fleet, plan_addresses, simulated_inventory
from tests.simulator.conftest import loopback_plan
from tests.simulator.support import small_inventory

pytestmark = pytest.mark.integration

CONFIG = {
    "credentials": {
        # gw-1, ap-1 and dist-1 all use "village"; v3 with privacy.
        "village": {"version": "3", "user": "noc", "auth_protocol": "sha",
                    "auth_key": "noc-auth-pass", "priv_protocol": "aes128",
                    "priv_key": "noc-priv-pass"},
    },
    "snmp": {"timeout": "1s", "retries": 0},
}


async def poll(tmp_path: Path, fleet: Fleet, *devices: str) -> tuple[int, list[dict[str, Any]]]:
    config = tmp_path / "pubnet.yaml"
    config.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = ["poll", "--config", str(config), "--inventory", str(tmp_path / "sim"), "--once",
            "--format", "jsonl", *[a for d in devices for a in ("--device", d)]]

    def run() -> int:
        import contextlib

        with out.open("w", encoding="utf-8") as handle, contextlib.redirect_stdout(handle):
            return main(argv)

    code = await asyncio.to_thread(run)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()
             if line.startswith("{")]
    return code, lines


def values(lines: list[dict[str, Any]], device: str, metric: str) -> dict[str, float]:
    return {next(iter(r["labels"].values()), ""): r["value"] for r in lines
            if r["device"] == device and r["metric"] == metric}


@pytest.fixture
async def served(tmp_path: Path) -> Any:
    from pubnet.config import parse_config

    base = small_inventory()
    plan = loopback_plan()
    write_inventory(simulated_inventory(base, plan_addresses(base, plan)), tmp_path / "sim")
    fleet = Fleet.from_inventory(base, plan, credentials=parse_config(CONFIG).credentials)
    async with fleet:
        yield fleet


async def test_poller_reads_the_simulated_fleet_over_v3(tmp_path: Path, served: Fleet) -> None:
    code, lines = await poll(tmp_path, served)
    assert code == 0
    for device in ("gw-1", "ap-1", "dist-1"):
        sim = served.device(device)
        oper = values(lines, device, "pubnet_interface_oper_up")
        assert oper == {i.name: 1 for i in sim.interfaces}
        speed = values(lines, device, "pubnet_interface_speed_bps")
        assert speed == {i.name: i.speed_bps for i in sim.interfaces}
    clients = values(lines, "ap-1", "pubnet_ap_clients")
    assert len(clients) == 2 and all(v >= 0 for v in clients.values())


async def test_poller_sees_link_down_and_a_dead_device(tmp_path: Path, served: Fleet) -> None:
    served.link_down("gw-1", "sfp1")
    served.silence("dist-1")
    code, lines = await poll(tmp_path, served, "gw-1", "dist-1")
    assert code == 3  # some device did not answer
    assert values(lines, "gw-1", "pubnet_interface_oper_up")["sfp1"] == 0
    status = [r for r in lines if r["device"] == "dist-1"
              and r["metric"] == "pubnet_device_poll_status" and r["value"] == 1]
    assert [r["labels"]["status"] for r in status] == ["timeout"]
