"""A real Mosquitto for the MQTT tests (and the benchmark): generated config, free port.

:class:`Mosquitto` writes a config into a folder, starts ``mosquitto -c`` on 127.0.0.1,
waits until the port accepts connections, and can be stopped and started again with the
same persistence folder, which is how the tests restart the broker under pubnet.
"""

from __future__ import annotations

import getpass
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from testbed.process import stop_process
from testbed.tls import LOCAL_NAMES, builder, common_name, new_key, write_cert, write_key


@dataclass
class Tls:
    """File paths of a CA, a server certificate for 127.0.0.1 and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@dataclass
class Mosquitto:
    binary: str
    folder: Path
    port: int
    extra_ports: list[int] = field(default_factory=list)
    """More plain listeners (same settings), e.g. a port only the publisher uses."""
    tls: Tls | None = None
    password_file: Path | None = None
    max_queued_messages: int = 100_000
    extra_config: str = ""
    config_text: str | None = None
    """A complete config to use instead of the generated one (e.g. the shipped one)."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.folder / "mosquitto.log"

    def write_config(self, ports: list[int]) -> Path:
        path = self.folder / "mosquitto.conf"
        if self.config_text is not None:
            path.write_text(self.config_text, encoding="utf-8")
            return path
        lines = [
            # mosquitto started as root switches to the "mosquitto" user, which then cannot
            # write its persistence file into a test's folder: stay who we are.
            f"user {getpass.getuser()}",
            "per_listener_settings false",
            f"persistence true\npersistence_location {self.folder}/",
            f"max_queued_messages {self.max_queued_messages}",
            "log_dest stderr",
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information",
            f"allow_anonymous {'false' if self.password_file else 'true'}",
        ]
        if self.password_file is not None:
            lines.append(f"password_file {self.password_file}")
        for port in ports:
            lines.append(f"listener {port} 127.0.0.1")
            if port == self.port and self.tls is not None:
                lines += [
                    f"cafile {self.tls.ca}",
                    f"certfile {self.tls.server_cert}",
                    f"keyfile {self.tls.server_key}",
                    "require_certificate true",
                ]
        lines.append(self.extra_config)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def start(self, ports: list[int] | None = None, timeout: float = 15.0) -> None:
        """Start listening on ``ports`` (default: the main port and the extra ones)."""
        if ports is None:
            ports = [self.port, *self.extra_ports]
        config = self.write_config(ports)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([self.binary, "-c", str(config)], stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        for port in ports:
            while not _accepts(port):
                if self.process.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {self.log_path.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"mosquitto did not listen on {port}")
                time.sleep(0.02)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (mosquitto saves its persistence file) and wait."""
        process, self.process = self.process, None
        if process is None:
            return
        stop_process(process, timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def password_file(binary_passwd: str, path: Path, users: dict[str, str]) -> Path:
    """A Mosquitto password file made with ``mosquitto_passwd -b``."""
    for index, (user, password) in enumerate(users.items()):
        args = [binary_passwd, "-b", *(["-c"] if index == 0 else []), str(path), user, password]
        subprocess.run(args, check=True, capture_output=True, timeout=30)
    return path


def make_tls(folder: Path) -> Tls:
    """A throw-away CA, a server certificate for 127.0.0.1/localhost and a client one."""
    ca_key = new_key()
    ca_name = common_name("pubnet test CA")
    ca = (
        builder(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(name: str, server: bool) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        leaf_key = new_key()
        leaf_builder = (
            builder(common_name(name), ca_name, leaf_key)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server
                 else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        if server:
            leaf_builder = leaf_builder.add_extension(LOCAL_NAMES, critical=False)
        return leaf_builder.sign(ca_key, hashes.SHA256()), leaf_key

    server_cert, server_key = leaf("127.0.0.1", server=True)
    client_cert, client_key = leaf("pubnet-test-client", server=False)
    return Tls(
        ca=write_cert(ca, folder / "ca.pem"),
        server_cert=write_cert(server_cert, folder / "server.pem"),
        server_key=write_key(server_key, folder / "server.key"),
        client_cert=write_cert(client_cert, folder / "client.pem"),
        client_key=write_key(client_key, folder / "client.key"),
    )
