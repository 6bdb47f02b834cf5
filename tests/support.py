"""Helpers shared by the test suites: real binaries that must exist under CI, and
(re-exported, so that tests import them from one place) free ports from :mod:`pubnet.ports`
and the server and waiting helpers of :mod:`testbed`, which the benchmarks share.

Under ``CI=true`` a test that needs a missing binary fails instead of skipping, so a green
CI run always means the integration tests really ran.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pubnet.app.demo import demo_credentials
from pubnet.ports import free_port, free_udp_port
from testbed.process import find_binary, stop_process
from testbed.snmpd import snmp_answers
from testbed.waiting import eventually

__all__ = ["eventually", "find_binary", "free_port", "free_udp_port", "prometheus_query",
           "require_binary", "simulated_fleet_config", "snmp_answers", "start_pubnet",
           "stop_process", "stop_pubnet"]


def require_binary(name: str) -> str:
    """Return the binary's path; skip the test locally, fail it under CI, when missing."""
    path = find_binary(name)
    if path is None:
        message = f"{name} is not installed (scripts/test installs it with apt)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


async def prometheus_query(http: aiohttp.ClientSession, base: str,
                           promql: str) -> list[dict[str, Any]]:
    """The result vector of an instant query to the Prometheus (or VictoriaMetrics) at
    ``base``; fails the test when the server rejects the query."""
    async with http.get(base + "/api/v1/query", params={"query": promql}) as resp:
        data = await resp.json()
    assert data["status"] == "success", data
    result: list[dict[str, Any]] = data["data"]["result"]
    return result


def simulated_fleet_config(metrics_port: int, mqtt_port: int, **sections: Any) -> (
    dict[str, Any]
):
    """``pubnet run``'s config for a simulator fleet on loopback, everything every second:
    the demo's credentials (hand the simulator ``parse_config(config).credentials``), SNMP,
    ICMP, the embedded MQTT broker on ``mqtt_port``, ``/metrics`` on ``metrics_port``, no
    alerting. ``sections`` add or replace whole top-level sections."""
    return {
        "credentials": demo_credentials(),
        "snmp": {"interval": "1s", "timeout": "0.5s", "retries": 0},
        "icmp": {"interval": "1s", "timeout": "0.5s", "count": 1},
        "mqtt": {"embedded_port": mqtt_port, "heartbeat_interval": "2s"},
        "prometheus": {"listen": f"127.0.0.1:{metrics_port}"},
        "alerting": None,
        **sections,
    }


def start_pubnet(folder: Path) -> subprocess.Popen[bytes]:
    """``pubnet run`` on ``folder/pubnet.yaml`` in ``folder``, as a daemon beside the test;
    its log (stderr) is appended to ``folder/pubnet.log`` for the test to read."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with (folder / "pubnet.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "pubnet.cli", "run", "--config", str(folder / "pubnet.yaml")],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=log)


async def stop_pubnet(proc: subprocess.Popen[bytes]) -> None:
    """Stop a :func:`start_pubnet` daemon as an operator does (SIGINT), killing it after 20 s."""
    await asyncio.to_thread(stop_process, proc, 20, signal.SIGINT)
