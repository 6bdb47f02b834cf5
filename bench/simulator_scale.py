"""The fleet simulator at national scale: start-up time, memory, descriptors and CPU per request.

Generates an inventory of ``--sites`` sites, starts ``python -m simulator`` on it in a child
process, waits until every device is bound, then asks every SNMP device for sysName once
per round from one client socket (a raw v2c GET, so the client costs little), ``--rounds``
times at ``--rate`` requests per second. Every device must answer from its own address.

    .venv/bin/python bench/simulator_scale.py --sites 40000 --rate 5000 --rounds 2

Prints one JSON line: devices, start-up seconds, peak RSS, open descriptors, requests
answered, and the child's CPU seconds per 1,000 requests while answering.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inventory.generate import generate
from inventory.loader import load_inventory
from inventory.model import NON_SNMP_PROFILES
from inventory.writer import write_inventory
from pubnet.ber import PduType, Version, encode_message, encode_oid, varbind
from pubnet.ports import free_port

SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)


def proc_status(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def ask_all(targets: list[tuple[str, int]], rate: float) -> int:
    """One GET sysName.0 to every target at ``rate``/s; the number of right answers."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    waiting = set(targets)
    answered = 0
    all_in = asyncio.Event()

    def readable() -> None:
        nonlocal answered
        while True:
            try:
                _data, addr = sock.recvfrom(65535)
            except BlockingIOError:
                return
            if addr in waiting:
                waiting.discard(addr)
                answered += 1
                if not waiting:
                    all_in.set()

    loop.add_reader(sock.fileno(), readable)
    try:
        started = time.monotonic()
        for n, target in enumerate(targets):
            request = encode_message(Version.V2C, b"public", PduType.GET, n + 1, 0, 0,
                                     varbind(encode_oid(SYS_NAME), b"\x05\x00"))
            sock.sendto(request, target)
            if n % 100 == 99:
                ahead = started + (n + 1) / rate - time.monotonic()
                await asyncio.sleep(max(0.0, ahead))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), 10)
    finally:
        loop.remove_reader(sock.fileno())
        sock.close()
    return answered


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=40000)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "inv", Path(tmp) / "sim"
        write_inventory(generate(sites=args.sites, seed=1), source)
        port = free_port(socket.SOCK_DGRAM, "0.0.0.0")
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "simulator", "--inventory", str(source), "--out", str(out),
            "--port", str(port), "--stats-every", "3600s", stderr=asyncio.subprocess.PIPE)
        assert proc.stderr is not None
        while b"simulator listening" not in (line := await proc.stderr.readline()):
            if not line:
                raise SystemExit("the simulator exited before listening")
        startup = time.monotonic() - started
        devices = load_inventory(out).inventory.devices
        targets = [(d.host, d.port or 161) for d in devices.values()
                   if d.profile not in NON_SNMP_PROFILES]
        fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
        cpu_before = proc_cpu(proc.pid)
        answered = 0
        asked_for = time.monotonic()
        for _ in range(args.rounds):
            answered += await ask_all(targets, args.rate)
        seconds = time.monotonic() - asked_for
        cpu = proc_cpu(proc.pid) - cpu_before
        memory = proc_status(proc.pid)
        proc.terminate()
        await proc.wait()
    asked = len(targets) * args.rounds
    print(json.dumps({
        "sites": args.sites, "snmp_devices": len(targets), "startup_s": round(startup, 1),
        "rss_mb": round(memory["VmRSS"] / 1e6), "peak_rss_mb": round(memory["VmHWM"] / 1e6),
        "open_fds": fds, "asked": asked, "answered": answered,
        "cpu_s_per_1000_requests": round(1000 * cpu / max(1, answered), 3),
        "cores_while_answering": round(cpu / seconds, 2),
    }))


if __name__ == "__main__":
    asyncio.run(main())
