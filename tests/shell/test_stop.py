"""SIGTERM under load (issue 15): ``pubnet run`` polling thousands of simulated devices,
a fifth of them silent (polls in flight until their timeout), InfluxDB unreachable (points
queue), a webhook unreachable (messages queue), ``/metrics`` scraped meanwhile: it exits 0
within 10 s, with the Influx points on disk and the alerting database closed cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import yaml

from inventory.generate import generate
from inventory.writer import write_inventory
from tests.support import free_port, stop_process

SITES = 1500
"""About 4,000 devices (2.6 per site, plus the provincial nodes and cores)."""


def write_config(folder: Path, http_port: int) -> Path:
    config = folder / "pubnet.yaml"
    config.write_text(yaml.safe_dump({
        "inventory": "sim",
        "credentials": {
            "village-v2": {"version": "2c", "community": "village-community"},
            "noc-v3": {"version": "3", "user": "noc", "auth_protocol": "sha256",
                       "auth_key": "noc-auth-key-1", "priv_protocol": "aes128",
                       "priv_key": "noc-priv-key-1"},
        },
        "snmp": {"interval": "10s", "timeout": "4s", "retries": 2},
        "prometheus": {"listen": f"127.0.0.1:{http_port}"},
        "mqtt": {"embedded_port": free_port()},
        "influxdb": {"url": f"http://127.0.0.1:{free_port()}", "token": "t", "org": "o",
                     "bucket": "b", "buffer_dir": "influx-buffer", "timeout": "1s"},
        "alerting": {"down_after": 1, "tick": "500ms", "group_wait": "0s",
                     "channels": {"noc": {"type": "webhook",
                                          "url": f"http://127.0.0.1:{free_port()}/hook"}},
                     "routes": [{"channels": ["noc"]}]},
    }), encoding="utf-8")
    return config


def wait_for_file(path: Path, proc: subprocess.Popen[bytes], within: float = 120) -> None:
    deadline = time.monotonic() + within
    while not path.exists():
        assert proc.poll() is None, "the simulator exited"
        assert time.monotonic() < deadline, f"no {path}"
        time.sleep(0.2)


async def test_sigterm_under_load_exits_0_within_10s_after_flushing(tmp_path: Path) -> None:
    write_inventory(generate(sites=SITES, seed=5), tmp_path / "inv")
    http_port = free_port()
    config = write_config(tmp_path, http_port)
    network = f"127.{random.randint(100, 250)}.0.0"
    sim_port = free_port(socket.SOCK_DGRAM, network[:-1] + "1")
    sim_log = (tmp_path / "simulator.log").open("wb")
    simulator = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "simulator", "--inventory", str(tmp_path / "inv"), "--out",
         str(tmp_path / "sim"), "--config", str(config), "--network", network, "--port",
         str(sim_port), "--fault", "silent=0.2"], stdout=sim_log, stderr=subprocess.STDOUT)
    log_path = tmp_path / "pubnet.log"
    pubnet: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.to_thread(wait_for_file, tmp_path / "sim" / "links.csv", simulator)
        await asyncio.sleep(1.0)  # the simulator binds after writing its inventory
        with log_path.open("wb") as sink:
            pubnet = await asyncio.to_thread(
                subprocess.Popen, [sys.executable, "-m", "pubnet.cli", "run", "--config",
                                   str(config)], stdout=sink, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{http_port}/metrics"
        in_flight = 0.0
        deadline = time.monotonic() + 120
        async with aiohttp.ClientSession() as http:
            # under load: polls in flight (silent devices hold theirs for 12 s), points
            # queued for the unreachable InfluxDB, a message queued for the webhook
            while True:
                assert pubnet.poll() is None, log_path.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, log_path.read_text(encoding="utf-8")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(url) as resp:
                        text = await resp.text()
                    in_flight = _value(text, "pubnet_polls_in_flight")
                    queued = _value(text, "pubnet_influx_points_dropped_total") + _value(
                        text, "pubnet_influx_buffer_points")
                    pending = _value(text, "pubnet_alerting_outbox_pending")
                    if in_flight >= 100 and pending >= 1 and queued > 0:
                        break
                await asyncio.sleep(0.5)
            scraper = asyncio.create_task(_scrape_forever(http, url))
            started = time.monotonic()
            pubnet.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(pubnet.wait, 30)
            took = time.monotonic() - started
            scraper.cancel()
        log = log_path.read_text(encoding="utf-8")
        assert code == 0, log
        assert took < 10.0, f"took {took:.1f} s\n{log}"
        print(f"SIGTERM to exit: {took:.2f} s with {in_flight:g} polls in flight")
        # the Influx writer's queue reached its on-disk buffer
        segments = list((tmp_path / "influx-buffer").rglob("*"))
        assert sum(p.stat().st_size for p in segments if p.is_file()) > 0, log
        assert 'msg="component stopped" component=influxdb' in log
        # the process ends without the interpreter's teardown, but after the last line
        assert log.rstrip().splitlines()[-1].endswith("msg=exiting code=0"), log[-2000:]
        # the alerting database was closed cleanly: no WAL left behind, the outbox in it
        assert not (tmp_path / "pubnet.db-wal").exists() or \
            (tmp_path / "pubnet.db-wal").stat().st_size == 0
        with contextlib.closing(sqlite3.connect(tmp_path / "pubnet.db")) as db:
            tables = {row[0] for row in db.execute(
                "select name from sqlite_master where type='table'")}
        assert tables
    finally:
        if pubnet is not None and pubnet.poll() is None:
            stop_process(pubnet)
        stop_process(simulator)
        sim_log.close()


def _value(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.M))


async def _scrape_forever(http: aiohttp.ClientSession, url: str) -> None:
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url) as resp:
                await resp.read()
        await asyncio.sleep(0.05)


def test_the_fast_exit_still_lets_a_worker_thread_finish_its_write(tmp_path: Path) -> None:
    """``pubnet run`` skips the interpreter's teardown, but not the wait for a write that a
    cancelled task left running in a worker thread (a buffer segment, a database commit)."""
    marker = tmp_path / "written"
    script = f"""
import time
from concurrent.futures import ThreadPoolExecutor
from pubnet.cli import _exit_now

def write() -> None:
    time.sleep(0.5)
    open({str(marker)!r}, "w").write("done")

executor = ThreadPoolExecutor(max_workers=1)
executor.submit(write)
executor.shutdown(wait=False)
_exit_now(3)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert done.returncode == 3, done.stderr
    assert marker.read_text() == "done"
