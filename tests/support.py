"""Helpers shared by the test suites: free ports and real binaries that must exist under CI.

Under ``CI=true`` a test that needs a missing binary fails instead of skipping, so a green
CI run always means the integration tests really ran.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

SBIN_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin")


def find_binary(name: str) -> str | None:
    """Locate a server binary, looking in sbin folders that are often not on PATH."""
    found = shutil.which(name)
    if found:
        return found
    for folder in SBIN_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require_binary(name: str) -> str:
    """Return the binary's path; skip the test locally, fail it under CI, when missing."""
    path = find_binary(name)
    if path is None:
        message = f"{name} is not installed (scripts/test installs it with apt)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on ``host`` (TCP by default, UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port that was free a moment ago on ``host`` (for agents and trap receivers)."""
    return free_port(socket.SOCK_DGRAM, host)


def snmp_answers(host: str, port: int, community: str) -> bool:
    """Send a hand-built SNMPv2c GET of sysUpTime.0; True when any datagram comes back.

    Fixtures use it to wait for an agent they started, without an SNMP library in the loop.
    """
    oid = bytes([0x2B, 6, 1, 2, 1, 1, 3, 0])
    varbind = b"\x30" + bytes([len(oid) + 4]) + b"\x06" + bytes([len(oid)]) + oid + b"\x05\x00"
    varbinds = b"\x30" + bytes([len(varbind)]) + varbind
    pdu_body = b"\x02\x01\x01\x02\x01\x00\x02\x01\x00" + varbinds
    pdu = b"\xa0" + bytes([len(pdu_body)]) + pdu_body
    name = community.encode()
    body = b"\x02\x01\x01\x04" + bytes([len(name)]) + name + pdu
    message = b"\x30" + bytes([len(body)]) + body
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        try:
            sock.sendto(message, (host, port))
            sock.recvfrom(65535)
        except OSError:
            return False
        return True


async def eventually(condition: Callable[[], object], within: float = 20.0,
                     what: str = "condition") -> None:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.01)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM (servers flush and save on it), then SIGKILL if it takes over ``timeout`` s."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
