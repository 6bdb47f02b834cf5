"""Real servers for channel tests: Mosquitto on a free port, an aiosmtpd STARTTLS server."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import snmp_answers


def wait_port(port: int, proc: subprocess.Popen[bytes] | None = None,
              timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def start_mosquitto(binary: str, folder: Path, port: int, *,
                    persistence: bool = False) -> subprocess.Popen[bytes]:
    conf = folder / "mosquitto.conf"
    persist = (f"persistence true\npersistence_location {folder}/\n" if persistence
               else "persistence false\n")
    # started as root, mosquitto would switch to the "mosquitto" user and then could not
    # write its persistence file or log into the test's folder: stay who we are.
    conf.write_text(
        f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
        f"{persist}log_dest file {folder / 'mosquitto.log'}\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


@dataclass
class MailSink:
    """aiosmtpd handler: keeps every accepted message with its envelope."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    tls_seen: list[bool] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append({
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "content": envelope.original_content or envelope.content,
        })
        self.tls_seen.append(session.ssl is not None)
        return "250 OK"


SNMP_COMMUNITY = "pubnet-alerting"


def start_snmpd(binary: str, folder: Path, port: int,
                timeout: float = 30.0) -> subprocess.Popen[bytes]:
    """A net-snmp agent on 127.0.0.1:port (v2c, read-only), answering before this returns."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "snmpd.conf"
    conf.write_text(f"agentaddress udp:127.0.0.1:{port}\n"
                    f"rocommunity {SNMP_COMMUNITY} 127.0.0.0/8\n"
                    "syslocation Ban Thot Sop, Chiang Mai\n", encoding="utf-8")
    env = dict(os.environ, SNMP_PERSISTENT_DIR=str(folder), MIBS="", MIBDIRS="")
    log = folder / "snmpd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary, "-f", "-Lo", "-C", "-c", str(conf)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout
    while not snmp_answers("127.0.0.1", port, SNMP_COMMUNITY):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            code = proc.wait()
            said = log.read_text(encoding="utf-8", errors="replace")[-400:]
            raise RuntimeError(f"snmpd on port {port} did not start (exit {code}): {said}")
        time.sleep(0.05)
    return proc


