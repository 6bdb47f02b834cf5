"""A real net-snmp ``snmpd`` for tests and benchmarks, on a free loopback UDP port.

The config is generated: a v2c community, and one v3 user per auth/priv combination net-snmp
supports, all read-only. snmpd runs in the foreground as the current user with its persistent
state in a temporary folder, and is stopped on exit.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pubnet import ber
from pubnet.ports import free_udp_port
from testbed.process import stop_process

COMMUNITY = "pubnet-test"
AUTH_PASS = "auth-pass-123"
PRIV_PASS = "priv-pass-456"
AUTH_PROTOCOLS = ("md5", "sha", "sha224", "sha256", "sha384", "sha512")
PRIV_PROTOCOLS = ("none", "des", "aes128", "aes192", "aes256")
_NETSNMP_AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256",
                 "sha384": "SHA-384", "sha512": "SHA-512"}
_NETSNMP_PRIV = {"des": "DES", "aes128": "AES", "aes192": "AES192", "aes256": "AES256"}
NOAUTH_USER = "u-noauth"
LIMITED_COMMUNITY = "pubnet-limited"
"""Sees only IF-MIB's ifTable: the system group answers noSuchObject."""


def user_name(auth: str, priv: str) -> str:
    return f"u-{auth}-{priv}"


@dataclass(frozen=True, slots=True)
class Agent:
    host: str
    port: int
    community: str
    process: subprocess.Popen[bytes]


def snmpd_config(addresses: Sequence[tuple[str, int]]) -> str:
    listen = ",".join(f"udp:{h}:{p}" for h, p in addresses)
    lines = [
        f"agentaddress {listen}",
        "engineId pubnettest",
        f"rocommunity {COMMUNITY} 127.0.0.0/8",
        f"rocommunity {LIMITED_COMMUNITY} 127.0.0.0/8 .1.3.6.1.2.1.2.2",
        "syslocation Ban Nong Khai, Thailand",
        "syscontact noc@example.org",
        "sysservices 72",
        f"createUser {NOAUTH_USER}",
        f"rouser {NOAUTH_USER} noauth",
    ]
    for auth in AUTH_PROTOCOLS:
        for priv in PRIV_PROTOCOLS:
            name = user_name(auth, priv)
            if priv == "none":
                lines.append(f"createUser {name} {_NETSNMP_AUTH[auth]} {AUTH_PASS}")
                lines.append(f"rouser {name} auth")
            else:
                lines.append(f"createUser {name} {_NETSNMP_AUTH[auth]} {AUTH_PASS} "
                             f"{_NETSNMP_PRIV[priv]} {PRIV_PASS}")
                lines.append(f"rouser {name} priv")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def run_snmpd(
    snmpd: str,
    addresses: Sequence[tuple[str, int]] | None = None,
    start_timeout: float = 30.0,
    state_dir: Path | None = None,
) -> Iterator[list[Agent]]:
    """Start one snmpd listening on ``addresses`` (default: one free 127.0.0.1 port).

    ``state_dir`` keeps snmpd's persistent state across restarts: a restart on the same
    ``state_dir`` is a reboot, snmpEngineBoots goes up by one and snmpEngineTime starts over.
    (``-C`` makes snmpd skip its persistent file, where it saved engineBoots and
    oldEngineID, unless ``-c`` names it: so it is named once it exists.)
    """
    if addresses is None:
        addresses = [("127.0.0.1", free_udp_port())]
    with tempfile.TemporaryDirectory(prefix="pubnet-snmpd-") as scratch:
        tmp = str(state_dir) if state_dir is not None else str(Path(scratch) / "state")
        Path(tmp).mkdir(exist_ok=True)
        conf = Path(scratch) / "agent.conf"
        conf.write_text(snmpd_config(addresses), encoding="utf-8")
        confs = str(conf)
        persisted = Path(tmp) / "snmpd.conf"
        if persisted.is_file():
            confs += f",{persisted}"
        env = dict(os.environ, SNMP_PERSISTENT_DIR=tmp, MIBS="", MIBDIRS="")
        proc = subprocess.Popen(
            [snmpd, "-f", "-Lo", "-C", "-c", confs, "-I",
             "-hrSWRunTable,hrSWInstalledTable"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        try:
            deadline = time.monotonic() + start_timeout
            host, port = addresses[0]
            while not snmp_answers(host, port, COMMUNITY):
                if proc.poll() is not None:
                    raise RuntimeError(f"snmpd exited with {proc.returncode}")
                if time.monotonic() > deadline:
                    raise TimeoutError("snmpd did not answer in time")
                time.sleep(0.05)
            yield [Agent(h, p, COMMUNITY, proc) for h, p in addresses]
        finally:
            stop_process(proc)


_SYS_UPTIME = ber.varbind(ber.encode_oid(ber.parse_oid("1.3.6.1.2.1.1.3.0")), ber.NULL)


def snmp_answers(host: str, port: int, community: str) -> bool:
    """Send an SNMPv2c GET of sysUpTime.0; True when any datagram comes back.

    :func:`run_snmpd` (and other fixtures) wait with it for an agent they started, without
    an SNMP library in the loop.
    """
    message = ber.encode_message(ber.Version.V2C, community.encode(), ber.PduType.GET, 1,
                                 0, 0, _SYS_UPTIME)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        try:
            sock.sendto(message, (host, port))
            sock.recvfrom(65535)
        except OSError:
            return False
        return True
