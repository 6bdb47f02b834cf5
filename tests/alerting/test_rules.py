"""Exported Prometheus rules and Alertmanager config: promtool, amtool and a live inhibition."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.rules import export_rules
from pubnet.cli import main
from tests.alerting.builders import district_inventory
from tests.alerting.servers import wait_port
from tests.support import find_binary, free_port, require_binary, stop_process

UNIT_TESTS: dict[str, Any] = {
    "rule_files": ["pubnet-rules.yml", "pubnet-topology.yml"],
    "evaluation_interval": "1m",
    "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": 'pubnet_device_up{device="da-5001",site="S-1",'
                       'role="district_aggregation",province="50"}', "values": "0x10"},
            {"series": 'pubnet_device_up{device="S-2-gw",site="S-2",role="site_gateway",'
                       'province="50"}', "values": "0x10"},
            {"series": 'pubnet_device_up{device="S-4-gw",site="S-4",role="site_gateway",'
                       'province="50"}', "values": "1x10"},
            {"series": 'pubnet_site_up{site="S-2",province="50",district="5001",'
                       'kind="village_wifi"}', "values": "0x10"},
            {"series": 'pubnet_site_info{site="S-2",province="50",district="5001",'
                       'kind="village_wifi"}', "values": "1x10"},
            {"series": 'pubnet_site_info{site="S-4",province="50",district="5002",'
                       'kind="village_wifi"}', "values": "1x10"},
            {"series": 'pubnet_link_up{link="ln-da-5002",medium="fiber",owner="NT"}',
             "values": "0x10"},
        ],
        "alert_rule_test": [
            {"eval_time": "2m", "alertname": "PubnetDistrictRouterDown", "exp_alerts": []},
            {"eval_time": "5m", "alertname": "PubnetDistrictRouterDown", "exp_alerts": [{
                "exp_labels": {"severity": "major", "level": "district", "device": "da-5001",
                               "site": "S-1", "role": "district_aggregation",
                               "province": "50", "district": "5001", "core": "core-1"},
                "exp_annotations": {"summary": "District router da-5001 (district 5001) is "
                                               "down"},
            }]},
            {"eval_time": "5m", "alertname": "PubnetSiteDeviceDown", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "level": "site", "device": "S-2-gw",
                               "site": "S-2", "role": "site_gateway", "province": "50",
                               "district": "5001"},
                "exp_annotations": {"summary": "site_gateway S-2-gw at site S-2 is down"},
            }]},
            {"eval_time": "5m", "alertname": "PubnetSiteDown", "exp_alerts": [{
                "exp_labels": {"severity": "minor", "level": "site", "site": "S-2",
                               "province": "50", "district": "5001",
                               "kind": "village_wifi"},
                "exp_annotations": {"summary": "Site S-2 (district 5001) is down"},
            }]},
            {"eval_time": "5m", "alertname": "PubnetBackboneLinkDown", "exp_alerts": [{
                "exp_labels": {"severity": "major", "level": "district", "link": "ln-da-5002",
                               "medium": "fiber", "owner": "NT", "device": "da-5002",
                               "core": "core-1", "province": "50", "district": "5002"},
                "exp_annotations": {"summary": "Backbone link ln-da-5002 to da-5002 is down"},
            }]},
            {"eval_time": "5m", "alertname": "PubnetProvincialNodeDown", "exp_alerts": []},
        ],
    }],
}


SELF = 'instance="noc-1:9108",job="pubnet"'
"""pubnet's own series as Prometheus scrapes them (device="pubnet" as pubnet labels them)."""

def quiet(at: str, alert: str) -> dict[str, Any]:
    """A promtool expectation: ``alert`` not firing at ``at``."""
    return {"eval_time": at, "alertname": alert, "exp_alerts": []}


def fired(at: str, alert: str, summary: str, **labels: str) -> dict[str, Any]:
    """A promtool expectation: one ``alert`` of pubnet's own (instance ``noc-1:9108``)
    firing at ``at``."""
    return {"eval_time": at, "alertname": alert, "exp_alerts": [{
        "exp_labels": {"instance": "noc-1:9108", **labels},
        "exp_annotations": {"summary": summary}}]}


SELF_TESTS: dict[str, Any] = {
    "rule_files": ["pubnet-rules.yml"],
    "evaluation_interval": "1m",
    "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": f'up{{{SELF}}}', "values": "1 1 0 0 0 0 0"},
            # the kernel dropped 40 traps at minute 3; nothing from the ICMP socket
            {"series": f'pubnet_socket_receive_drops_total{{{SELF},device="pubnet",'
                       'socket="traps"}', "values": "0 0 0 40 40 40 40"},
            {"series": f'pubnet_socket_receive_drops_total{{{SELF},device="pubnet",'
                       'socket="icmp"}', "values": "0x6"},
            # LINE fails and delivers nothing; the webhook failed once, then got through
            {"series": f'pubnet_alerting_delivery_failures_total{{{SELF},device="pubnet",'
                       'channel="line"}', "values": "0 2 4 6 8 10 12"},
            {"series": f'pubnet_alerting_messages_delivered_total{{{SELF},device="pubnet",'
                       'channel="line"}', "values": "5x6"},
            {"series": f'pubnet_alerting_delivery_failures_total{{{SELF},device="pubnet",'
                       'channel="webhook"}', "values": "0 1 1 1 1 1 1"},
            {"series": f'pubnet_alerting_messages_delivered_total{{{SELF},device="pubnet",'
                       'channel="webhook"}', "values": "0 0 3 4 5 6 7"},
            # a device's NaN values are rejected, not lost: no alert for them
            {"series": f'pubnet_influx_points_dropped_total{{{SELF},device="pubnet",'
                       'reason="non_finite_value"}', "values": "0 5 10 15 20 25 30"},
            {"series": f'pubnet_influx_points_dropped_total{{{SELF},device="pubnet",'
                       'reason="buffer_full"}', "values": "0 0 0 0 900 900 900"},
        ],
        "alert_rule_test": [
            quiet("3m", "PubnetDown"),
            fired("5m", "PubnetDown", "pubnet at noc-1:9108 does not answer scrapes: outages "
                  "there go unseen", severity="critical", job="pubnet"),
            quiet("2m", "PubnetDatagramsDropped"),
            fired("4m", "PubnetDatagramsDropped", "The kernel dropped 40 datagrams from "
                  "pubnet's traps socket at noc-1:9108 in 10 minutes: traps or echo replies "
                  "lost (docs/metrics.md)", severity="warning", socket="traps"),
            fired("6m", "PubnetAlertDeliveryFailing", "pubnet at noc-1:9108 cannot deliver "
                  "alert messages on line: technicians are not being told (messages wait in "
                  "its outbox)", severity="critical", channel="line"),
            quiet("3m", "PubnetInfluxPointsLost"),
            fired("5m", "PubnetInfluxPointsLost", "pubnet at noc-1:9108 lost 900 points for "
                  "InfluxDB in 10 minutes (buffer_full)", severity="warning",
                  reason="buffer_full"),
        ],
    }],
}


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    out = tmp_path / "rules"
    export_rules(district_inventory(), out)
    return out


def promtool_test(exported: Path, name: str, tests: dict[str, Any]
                  ) -> subprocess.CompletedProcess[str]:
    """``promtool test rules`` on ``tests``, written as ``name`` beside the exported rules
    (their ``rule_files`` are named relative to that folder)."""
    path = exported / name
    path.write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    return subprocess.run([require_binary("promtool"), "test", "rules", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=exported)


def test_promtool_checks_and_unit_tests_pass(exported: Path) -> None:
    promtool = require_binary("promtool")
    for name in ("pubnet-rules.yml", "pubnet-topology.yml"):
        check = subprocess.run([promtool, "check", "rules", str(exported / name)],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
    result = promtool_test(exported, "pubnet-rules.test.yml", UNIT_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pubnet_says_when_it_is_blind_or_losing_data(exported: Path) -> None:
    """The NOC's route learns that pubnet is down, cannot reach technicians, or loses
    datagrams or points, before a technician misses an outage because of it."""
    result = promtool_test(exported, "pubnet-self.test.yml", SELF_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_test_catches_a_wrong_expectation(exported: Path) -> None:
    broken = json.loads(json.dumps(UNIT_TESTS))
    broken["tests"][0]["alert_rule_test"][1]["exp_alerts"][0]["exp_labels"]["district"] = "9999"
    assert promtool_test(exported, "broken.test.yml", broken).returncode != 0


def test_topology_records_each_backbone_device_once_per_place(exported: Path) -> None:
    data = yaml.safe_load((exported / "pubnet-topology.yml").read_text(encoding="utf-8"))
    labels = [r["labels"] for r in data["groups"][0]["rules"]]
    devices = {(x.get("device"), x.get("link")): x for x in labels}
    assert devices[("da-5001", None)] == {"device": "da-5001", "level": "district",
                                          "core": "core-1", "province": "50",
                                          "district": "5001"}
    assert devices[("pn-50", None)]["level"] == "province"
    assert "district" not in devices[("pn-50", None)]
    assert devices[("pn-50", "ln-pn-50")]["level"] == "province"
    assert not any(x["device"].endswith("-gw") for x in labels)  # no per-village rules


def test_amtool_accepts_config_and_alertmanager_inhibits_children(
    exported: Path, tmp_path: Path,
) -> None:
    amtool = require_binary("amtool")
    check = subprocess.run([amtool, "check-config", str(exported / "alertmanager.yml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

    # Debian names the binary prometheus-alertmanager
    alertmanager = find_binary("prometheus-alertmanager") or require_binary("alertmanager")
    port = free_port()
    proc = subprocess.Popen(
        [alertmanager, f"--config.file={exported / 'alertmanager.yml'}",
         f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address="],  # no HA gossip: nothing else to bind
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, timeout=30)
        base = f"http://127.0.0.1:{port}/api/v2"
        common = {"province": "50", "core": "core-1"}
        alerts = [
            {"alertname": "PubnetDistrictRouterDown", "level": "district", "device": "da-5001",
             "district": "5001", **common},
            {"alertname": "PubnetSiteDown", "level": "site", "site": "S-2", "district": "5001",
             "province": "50"},
            {"alertname": "PubnetSiteDown", "level": "site", "site": "S-4", "district": "5002",
             "province": "50"},
        ]
        body = json.dumps([{"labels": a} for a in alerts]).encode()
        request = urllib.request.Request(f"{base}/alerts", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert response.status == 200
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

        def states() -> dict[str, list[str]]:
            with urllib.request.urlopen(f"{base}/alerts", timeout=5) as response:
                got = json.loads(response.read())
            return {a["labels"].get("site", a["labels"].get("device", "")):
                    a["status"]["inhibitedBy"] for a in got}

        deadline = time.monotonic() + 30
        seen = states()
        while not seen.get("S-2") and time.monotonic() < deadline:
            time.sleep(0.2)
            seen = states()
        assert seen["S-2"], "the site behind the dead district router is inhibited"
        assert seen["S-4"] == [], "a site in another district is not"
        assert seen["da-5001"] == []
    finally:
        stop_process(proc)


def test_export_rules_cli(tmp_path: Path) -> None:
    from inventory.writer import write_inventory

    inv_dir = tmp_path / "inv"
    write_inventory(district_inventory(), inv_dir)
    out = tmp_path / "out"
    assert main(["alerts", "export-rules", "--inventory", str(inv_dir), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["alertmanager.yml", "pubnet-rules.yml",
                                                     "pubnet-topology.yml"]
