"""``python -m simulator``: re-addressed inventory out, answers, clean stop."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import pytest

from inventory.loader import load_inventory
from inventory.writer import write_inventory
from tests.simulator.conftest import loopback_plan
from tests.simulator.support import NUMERIC, parse_values, run_tool, small_inventory

pytestmark = pytest.mark.integration


async def test_cli_writes_inventory_and_serves_every_snmp_device(tmp_path: Path) -> None:
    source, out = tmp_path / "inv", tmp_path / "sim"
    write_inventory(small_inventory(), source)
    plan = loopback_plan()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "--inventory", str(source),
        "--out", str(out), "--network", plan.network, "--port", str(plan.port),
        "--fault", "silent=0", "--stats-every", "1s",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not (out / "devices.csv").exists():
            assert time.monotonic() < deadline, "no inventory written"
            await asyncio.sleep(0.1)
        devices = load_inventory(out).inventory.devices
        assert {d.host.split(".")[0] for d in devices.values()} == {"127"}
        assert len({(d.host, d.port) for d in devices.values()}) == len(devices)
        for dev_id in ("gw-1", "dist-1", "ap-1"):
            dev = devices[dev_id]
            while True:
                code, text, _err = await run_tool(
                    "snmpget", "-v2c", "-c", "public", "-t", "0.5", "-r", "0", *NUMERIC,
                    f"{dev.host}:{dev.port}", ".1.3.6.1.2.1.1.5.0")
                if code == 0:
                    break
                assert time.monotonic() < deadline, "simulator never answered"
                await asyncio.sleep(0.2)
            assert parse_values(text)[".1.3.6.1.2.1.1.5.0"] == dev_id
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _stdout, stderr = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, stderr.decode()
    assert b'msg="simulator listening" devices=3 ' in stderr
