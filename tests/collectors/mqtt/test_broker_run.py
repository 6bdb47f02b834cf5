"""The embedded broker of a real ``pubnet run`` under hostile clients (issue 10, items 16, 17).

Each test starts ``pubnet run`` in a child process with an ``mqtt:`` section (so the embedded
broker runs) and a /metrics listener, on free loopback ports, and is bounded in time.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from testbed import rawmqtt
from tests.support import free_port, stop_process

pytestmark = pytest.mark.integration

MB = 1024 * 1024


@dataclass
class Pubnet:
    proc: subprocess.Popen[bytes]
    metrics_port: int
    mqtt_port: int
    log: Path

    def metrics(self) -> str:
        with socket.create_connection(("127.0.0.1", self.metrics_port), timeout=5) as sock:
            sock.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            data = bytearray()
            while chunk := sock.recv(65536):
                data += chunk
        return data.decode("utf-8", "replace")

    def sample(self, name: str) -> float | None:
        match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", self.metrics(), re.MULTILINE)
        return float(match.group(1)) if match else None


def write_config(folder: Path, mqtt_port: int) -> tuple[Path, int]:
    folder.mkdir(parents=True, exist_ok=True)
    metrics_port = free_port()
    config = folder / "pubnet.yaml"
    config.write_text(f"prometheus:\n  listen: 127.0.0.1:{metrics_port}\n"
                      f"mqtt:\n  embedded_port: {mqtt_port}\n", encoding="utf-8")
    return config, metrics_port


def start(folder: Path, mqtt_port: int) -> Pubnet:
    config, metrics_port = write_config(folder, mqtt_port)
    log = folder / "pubnet.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pubnet.cli", "run", "--config",
                                 str(config)], stdout=out, stderr=subprocess.STDOUT,
                                cwd=folder, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return Pubnet(proc, metrics_port, mqtt_port, log)


@contextlib.contextmanager
def running(folder: Path, mqtt_port: int | None = None) -> Iterator[Pubnet]:
    pubnet = start(folder, mqtt_port or free_port())
    try:
        connected = 'pubnet_mqtt_connected{device="pubnet"}'
        deadline = time.monotonic() + 60
        while True:
            assert pubnet.proc.poll() is None, pubnet.log.read_text()
            with contextlib.suppress(OSError):
                if pubnet.sample(connected) == 1.0:
                    break
            assert time.monotonic() < deadline, "pubnet run never connected to its broker"
            time.sleep(0.2)
        yield pubnet
    finally:
        stop_process(pubnet.proc)


class PeakRss:
    """Samples a process's resident memory every 20 ms from a thread; ``peak`` in bytes."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def publish_100mb(port: int) -> int:
    """An anonymous client publishes one 100 MB message; returns the bytes it got out."""
    topic = b"pubnet/v1/telemetry/S00001/gw-00001"
    size = 100 * MB
    body_length = 2 + len(topic) + 2 + size
    sock = rawmqtt.open_session(port, rawmqtt.connect_packet("hostile-100mb"))
    sent = 0
    chunk = b"x" * MB
    try:
        sock.sendall(b"\x32" + rawmqtt.remaining_length(body_length)
                     + len(topic).to_bytes(2, "big") + topic + b"\x00\x01")
        while sent < size:
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass  # the broker hung up: what the test wants
    finally:
        sock.close()
    return sent


def test_a_100mb_publish_does_not_grow_pubnet(tmp_path: Path) -> None:
    """One anonymous 100 MB PUBLISH took pubnet from 116 MB to 497 MB of resident memory.
    Now the broker refuses it from its fixed header: peak RSS grows by a few MB at most."""
    with running(tmp_path / "p") as pubnet:
        time.sleep(1.0)  # let start-up allocations settle
        with PeakRss(pubnet.proc.pid) as rss:
            before = rss.process.memory_info().rss
            sent = publish_100mb(pubnet.mqtt_port)
            time.sleep(1.0)
        refused = 'pubnet_mqtt_broker_refused_total{device="pubnet",reason="oversize"}'
        deadline = time.monotonic() + 20
        while pubnet.sample(refused) != 1.0:
            assert time.monotonic() < deadline, "the refusal was not counted"
            time.sleep(0.2)
        assert pubnet.proc.poll() is None
    growth = rss.peak - before
    print(f"pubnet RSS before {before / MB:.0f} MB, peak during a 100 MB publish "
          f"{rss.peak / MB:.0f} MB (+{growth / MB:.1f} MB); the client got {sent / MB:.0f} MB "
          "out before the broker hung up")
    assert growth < 20 * MB


def test_a_second_pubnet_on_the_same_port_stops_and_says_why(tmp_path: Path) -> None:
    """A second pubnet on the same host reached the first one's embedded broker with the
    same client id, reported itself connected and received nothing. Now it stops with an
    error naming the port and the setting to change, and the first one is undisturbed."""
    with running(tmp_path / "first") as first:
        second = start(tmp_path / "second", first.mqtt_port)
        try:
            code = second.proc.wait(60)
        finally:
            if second.proc.poll() is None:
                stop_process(second.proc)
        output = second.log.read_text(encoding="utf-8")
        assert code != 0, output
        assert f"127.0.0.1:{first.mqtt_port}" in output and "already in use" in output
        assert "mqtt.embedded_port" in output
        assert first.proc.poll() is None
        assert first.sample('pubnet_mqtt_connected{device="pubnet"}') == 1.0
        assert first.sample('pubnet_mqtt_reconnects_total{device="pubnet"}') == 0.0
