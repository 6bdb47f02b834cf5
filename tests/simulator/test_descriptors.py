"""More devices than file descriptors: devices sharing a port share one socket.

The simulator once opened a socket per device and died with ``[Errno 24] Too many open
files`` past the descriptor limit (~19,000 devices under a limit of 20,000). Here a limit of
256 descriptors serves over 1,000 devices, each answering from its own address.
"""

from __future__ import annotations

import asyncio
import shlex
import signal
import sys
import time
from pathlib import Path

import pytest

from inventory.generate import generate
from inventory.loader import load_inventory
from inventory.model import NON_SNMP_PROFILES
from inventory.writer import write_inventory
from simulator import Fleet
from tests.simulator.conftest import loopback_plan

pytestmark = pytest.mark.integration

DESCRIPTOR_LIMIT = 256


async def test_serves_more_devices_than_its_descriptor_limit(tmp_path: Path) -> None:
    from gufo.snmp.aio.client import SnmpSession

    source, out = tmp_path / "inv", tmp_path / "sim"
    write_inventory(generate(sites=450, seed=3), source)
    plan = loopback_plan()
    # the shell lowers the limit for itself and the simulator it becomes (exec)
    command = shlex.join([sys.executable, "-m", "simulator", "--inventory", str(source),
                          "--out", str(out), "--network", plan.network, "--port",
                          str(plan.port), "--stats-every", "1s"])
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", f"ulimit -n {DESCRIPTOR_LIMIT} && exec {command}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (out / "devices.csv").exists():
            assert proc.returncode is None, "the simulator exited"
            assert time.monotonic() < deadline, "no inventory written"
            await asyncio.sleep(0.1)
        devices = load_inventory(out).inventory.devices
        snmp = sorted(d for d, dev in devices.items() if dev.profile not in NON_SNMP_PROFILES)
        assert len(snmp) > 4 * DESCRIPTOR_LIMIT
        limit = asyncio.Semaphore(100)

        async def name_of(device_id: str) -> object:
            dev = devices[device_id]
            async with limit, SnmpSession(addr=dev.host, port=dev.port or 161, community="public",
                                          timeout=5, allow_bulk=False) as session:
                return await session.get("1.3.6.1.2.1.1.5.0")

        while True:  # the inventory is written before every device is bound
            try:
                await name_of(snmp[-1])
                break
            except TimeoutError:
                assert time.monotonic() < deadline, "the simulator never answered"
        names = await asyncio.gather(*(name_of(d) for d in snmp))
        assert [n.decode() if isinstance(n, bytes) else n for n in names] == snmp
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert f"devices={len(snmp)} sockets=1 ".encode() in stderr
    assert f"descriptors={DESCRIPTOR_LIMIT}".encode() in stderr


async def test_answers_from_the_address_asked_and_drops_the_rest() -> None:
    """Each answer leaves from the device's own address (a poller matching replies by source
    would drop it otherwise); a datagram to an address no device owns gets nothing."""
    fleet = Fleet.from_inventory(generate(sites=3, seed=1), loopback_plan(), seed=1)
    async with fleet:
        assert fleet.sockets == 1
        loop = asyncio.get_running_loop()
        received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                received.put_nowait((data, addr))

        transport, _ = await loop.create_datagram_endpoint(Client, local_addr=("127.0.0.1", 0))
        try:
            from pubnet.ber import PduType, Version, encode_message, encode_oid, varbind

            request = encode_message(Version.V2C, b"public", PduType.GET, 7, 0, 0,
                                     varbind(encode_oid((1, 3, 6, 1, 2, 1, 1, 5, 0)),
                                             b"\x05\x00"))
            for device_id in list(fleet.devices)[:5]:
                address = fleet.address_of(device_id)
                transport.sendto(request, address)
                data, source = await asyncio.wait_for(received.get(), 5)
                assert source == address
                assert device_id.encode() in data
            host, port = fleet.address_of(list(fleet.devices)[-1])
            nobody = host.rsplit(".", 1)[0] + ".250"
            assert nobody not in {d.host for d in fleet.devices.values()}
            transport.sendto(request, (nobody, port))
            await asyncio.sleep(0.3)
            assert received.empty()
            assert fleet.agent.stats.dropped["no_device"] == 1
        finally:
            transport.close()
