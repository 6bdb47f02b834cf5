"""Sharded polling (issue 15): rendezvous hashing on the site id keeps a site together, is
stable while N is unchanged, moves only ~1/N of the sites when N changes, and two real
``pubnet run --shard`` processes over the simulator poll every device exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import yaml

from inventory.generate import generate
from inventory.model import Inventory
from inventory.writer import write_inventory
from pubnet.cli import main
from pubnet.config import ConfigError, parse_config
from pubnet.shard import Shard, owner, select, shard_key
from simulator import AddressPlan, Fleet, plan_addresses, simulated_inventory
from tests.support import free_port, stop_process

UP = re.compile(r'^pubnet_device_up\{[^}]*device="([^"]+)"[^}]*\} (\S+)$', re.M)


@pytest.fixture(scope="module")
def national() -> Inventory:
    return generate(sites=4000, seed=3)


def test_shard_spec_is_checked() -> None:
    assert Shard.parse(" 2/3 ") == Shard(2, 3) and str(Shard(2, 3)) == "2/3"
    for bad in ("0/2", "3/2", "1/0", "1", "a/b", "1/2/3", "-1/2"):
        with pytest.raises(ValueError, match="I/N"):
            Shard.parse(bad)
    with pytest.raises(ConfigError, match=r"shard: .*I/N"):
        parse_config({"shard": "3/2"})
    assert parse_config({"shard": "2/2"}).shard == "2/2"
    assert main(["run", "--shard", "5/4"]) == 2  # a usage error, before anything starts


def test_the_score_does_not_depend_on_the_process() -> None:
    """Every machine must agree: no salted ``hash()`` (PYTHONHASHSEED differs per run)."""
    here = [owner(f"S-{n}", 5) for n in range(200)]
    code = ("from pubnet.shard import owner;"
            "print(*[owner(f'S-{n}', 5) for n in range(200)])")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={"PYTHONHASHSEED": seed, "PATH": ""}, check=True).stdout
        assert [int(x) for x in out.split()] == here


def test_every_device_in_exactly_one_shard_with_its_site(national: Inventory) -> None:
    for count in (1, 2, 3, 5):
        parts = [select(national, Shard(i, count)) for i in range(1, count + 1)]
        seen = Counter(d for part in parts for d in part.devices)
        assert set(seen) == set(national.devices) and set(seen.values()) == {1}
        sites = Counter(s for part in parts for s in part.sites)
        assert set(sites) == set(national.sites) and set(sites.values()) == {1}
        for part in parts:
            for device in part.devices.values():
                if device.site_id:
                    assert device.site_id in part.sites  # a site's devices stay together
            for link in part.links.values():
                assert link.a_device in part.devices
        assert sum(len(p.links) for p in parts) == len(national.links)
        # balanced: each shard within 10 % of its fair share of the sites
        for part in parts:
            assert abs(len(part.sites) - len(national.sites) / count) < \
                0.1 * len(national.sites) / count


def test_site_less_devices_are_placed_on_their_own_id(national: Inventory) -> None:
    cores = [d for d in national.devices.values() if not d.site_id]
    assert cores
    assert {shard_key(d) for d in cores} == {d.device_id for d in cores}
    assert len({owner(d.device_id, 4) for d in cores}) > 1  # spread, not all on one shard


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7], ids=lambda n: f"{n}-to-{n + 1}")
def test_only_about_one_nth_of_the_sites_move(national: Inventory, count: int) -> None:
    """N → N+1: the sites that move are those the new shard wins (~1/(N+1)), all to it; and
    asking twice gives the same answer (stable while N is unchanged)."""
    sites = list(national.sites)
    before = {s: owner(s, count) for s in sites}
    assert before == {s: owner(s, count) for s in sites}
    after = {s: owner(s, count + 1) for s in sites}
    moved = [s for s in sites if before[s] != after[s]]
    assert all(after[s] == count + 1 for s in moved)
    share = len(moved) / len(sites)
    assert abs(share - 1 / (count + 1)) < 0.03, share


def test_one_shard_of_one_is_the_whole_inventory(national: Inventory) -> None:
    assert select(national, Shard(1, 1)) is national


async def test_two_shards_poll_every_device_exactly_once(tmp_path: Path) -> None:
    base = generate(sites=60, seed=8)
    # every device answers SNMP here (MQTT gateways would need a broker per shard)
    base = Inventory(base.sites, {k: d if d.profile not in ("mqtt", "icmp") else replace(
        d, profile="router", credential="village-v2") for k, d in base.devices.items()},
        base.links)
    network = f"127.{random.randint(100, 250)}.0.0"
    plan = AddressPlan(network, free_port(socket.SOCK_DGRAM, network[:-1] + "1"))
    write_inventory(simulated_inventory(base, plan_addresses(base, plan)), tmp_path / "inv")
    config = parse_config({
        "credentials": {
            "village-v2": {"version": "2c", "community": "village-community"},
            "noc-v3": {"version": "3", "user": "noc", "auth_protocol": "sha256",
                       "auth_key": "noc-auth-key-1", "priv_protocol": "aes128",
                       "priv_key": "noc-priv-key-1"}}})
    ports = [free_port(), free_port()]
    procs: list[subprocess.Popen[bytes]] = []
    async with Fleet.from_inventory(base, plan, credentials=config.credentials):
        try:
            for n, port in enumerate(ports, 1):
                folder = tmp_path / f"shard-{n}"
                folder.mkdir()
                (folder / "pubnet.yaml").write_text(yaml.safe_dump({
                    "inventory": "../inv",
                    "credentials": {
                        "village-v2": {"version": "2c", "community": "village-community"},
                        "noc-v3": {"version": "3", "user": "noc", "auth_protocol": "sha256",
                                   "auth_key": "noc-auth-key-1", "priv_protocol": "aes128",
                                   "priv_key": "noc-priv-key-1"}},
                    "snmp": {"interval": "2s", "timeout": "1s", "retries": 0},
                    "prometheus": {"listen": f"127.0.0.1:{port}"},
                    "shard": "1/2" if n == 1 else None,
                }), encoding="utf-8")
                args = ["run", "--config", str(folder / "pubnet.yaml")]
                if n == 2:
                    args += ["--shard", "2/2"]  # the flag, the other one from its config
                with (folder / "pubnet.log").open("wb") as sink:
                    procs.append(await asyncio.to_thread(
                        subprocess.Popen, [sys.executable, "-m", "pubnet.cli", *args],
                        stdout=sink, stderr=subprocess.STDOUT))
            ups = await asyncio.gather(*(
                _until_up(port, proc, folder.parent / f"shard-{n}" / "pubnet.log")
                for n, (port, proc) in enumerate(zip(ports, procs, strict=True), 1)))
        finally:
            for proc in procs:
                await asyncio.to_thread(stop_process, proc)
    first, second = (set(u) for u in ups)
    assert first and second and not first & second
    assert first | second == set(base.devices)
    assert first == set(select(base, Shard(1, 2)).devices)
    for up in ups:
        assert set(up.values()) == {1.0}
    log = (tmp_path / "shard-1" / "pubnet.log").read_text(encoding="utf-8")
    assert f"shard=1/2 sites={len(select(base, Shard(1, 2)).sites)}" in log


async def _until_up(port: int, proc: subprocess.Popen[bytes], log: Path) -> dict[str, float]:
    """``pubnet_device_up`` of one shard once every device it exposes is up and the set has
    not changed for two scrapes."""
    deadline = time.monotonic() + 90
    previous: dict[str, float] = {}
    async with aiohttp.ClientSession() as http:
        while True:
            assert proc.poll() is None, _read(log)
            assert time.monotonic() < deadline, f"{previous}\n{_read(log)}"
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    text = await resp.text()
                up = {d: float(v) for d, v in UP.findall(text)}
                if up and up == previous and set(up.values()) == {1.0} and \
                        "first round" in _read(log):
                    return up
                previous = up
            await asyncio.sleep(1.0)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")
