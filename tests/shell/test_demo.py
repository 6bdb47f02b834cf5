"""``pubnet demo`` end to end: simulated fleet, poller, traps, /metrics and alerting in one run.

The demo is its own smoke test (exit 1 when an expectation fails); these tests check that
it passes on a small fleet, that what it prints matches the topology, that it leaves exactly
one resolved incident behind, that no demo secret is printed, and that a missed deadline
really exits 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alerting.db import IncidentDB
from alerting.model import State
from inventory.model import Role
from inventory.topology import Topology
from pubnet.app import demo
from pubnet.cli import main
from tests.support import free_port

SITES = 40


def _argv(workdir: Path, duration: int = 60) -> list[str]:
    return ["demo", "--sites", str(SITES), "--seed", "1", "--duration", str(duration),
            "--interval", "4", "--listen", f"127.0.0.1:{free_port()}",
            "--workdir", str(workdir)]


def _expected_cut() -> tuple[str, int, int]:
    """The router the demo should cut, with its site and device counts (device included)."""
    inventory = demo.demo_inventory(SITES, 1)
    topology = Topology.build(inventory)
    routers = [d for d, dev in inventory.devices.items()
               if dev.role is Role.DISTRICT_AGGREGATION]
    router = min(routers, key=lambda d: (-len(topology.downstream_sites(d)), d))
    return (router, len(topology.downstream_sites(router)),
            len(topology.downstream_devices(router)) + 1)


def test_demo_cuts_a_district_and_recovers(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_argv(tmp_path)) == 0
    captured = capsys.readouterr()
    out = captured.out
    router, sites, devices = _expected_cut()
    assert f"root: {router}" in out
    assert f"affected: {sites} sites" in out
    assert f"{devices} devices" in out
    assert "[แจ้งเหตุ]" in out and "[FIRING]" in out and "[RESOLVED]" in out
    assert "linkDown S-" in out
    # it says where everything it serves is, before anything else
    serving = out.split("== 1.")[0]
    for what in ("/metrics", "/healthz", "/readyz", "mqtt://127.0.0.1:", "udp://127.0.0.1:",
                 "/technician", "/noc", "SNMP devices on udp://127.77.", "MQTT gateways"):
        assert what in serving, what
    # an MQTT gateway outside the cut loses power: its last will marks it down, then it is up
    assert "power cut: MQTT gateway S-" in out
    assert "the broker published its last will (last will: offline)" in out
    assert "reconnected and published online" in out
    assert "scenario passed" in out
    for secret in (demo.VILLAGE_COMMUNITY, demo.NOC_AUTH_KEY, demo.NOC_PRIV_KEY,
                   demo.WEBHOOK_SECRET):
        assert secret not in out and secret not in captured.err
    with IncidentDB(tmp_path / demo.DATABASE_NAME) as db:
        incidents = db.list_incidents()
    assert [(row.incident.root, row.incident.state) for row in incidents] == [
        (f"device:{router}", State.RESOLVED)]
    assert (tmp_path / "inventory" / "devices.csv").is_file()


def test_missed_deadline_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo.Timing, "detect_deadline", property(lambda self: 1.0))
    assert main(_argv(tmp_path)) == 1
    assert "FAILED: no incident for da-" in capsys.readouterr().out
