"""``pubnet poll --once``: JSON lines or Prometheus text, a status line for a failing device,
exit 0 when all answered and 3 when some did not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from pubnet.cli import main
from testbed.snmpd import COMMUNITY, Agent
from tests.support import free_udp_port

pytestmark = pytest.mark.integration


def write_files(tmp_path: Path, agent: Agent, dead_port: int) -> tuple[Path, Path]:
    config = tmp_path / "pubnet.yaml"
    config.write_text(yaml.safe_dump({
        "credentials": {"village": {"version": "2c", "community": COMMUNITY}},
        "snmp": {"timeout": "1s", "retries": 0},
    }), encoding="utf-8")
    inventory = tmp_path / "inventory.yaml"
    site = {"site_id": "S-2204-0001", "name": "เน็ตประชารัฐ บ้านไร่แก", "kind": "village_wifi",
            "province_code": "22", "district_code": "2204", "subdistrict_code": "220409",
            "village": "บ้านไร่แก หมู่ 13", "lat": 12.47811, "lon": 102.14445}
    devices = [
        {"device_id": "gw-1", "site_id": "S-2204-0001", "role": "site_gateway",
         "address": f"{agent.host}:{agent.port}", "profile": "router",
         "credential": "village", "upstream": ""},
        {"device_id": "ap-1", "site_id": "S-2204-0001", "role": "access_point",
         "address": f"{agent.host}:{agent.port}", "profile": "auto",
         "credential": "village", "upstream": "gw-1"},
        {"device_id": "ap-dead", "site_id": "S-2204-0001", "role": "access_point",
         "address": f"127.0.0.1:{dead_port}", "profile": "access-point",
         "credential": "village", "upstream": "gw-1"},
    ]
    inventory.write_text(yaml.safe_dump({"sites": [site], "devices": devices},
                                        allow_unicode=True), encoding="utf-8")
    return config, inventory


def test_jsonl_all_answered(tmp_path: Path, snmpd_agent: Agent,
                            capsys: pytest.CaptureFixture[str]) -> None:
    config, inventory = write_files(tmp_path, snmpd_agent, free_udp_port())
    code = main(["poll", "--config", str(config), "--inventory", str(inventory),
                 "--device", "gw-1", "--device", "ap-1", "--once", "--format", "jsonl"])
    out = capsys.readouterr()
    assert code == 0, out.err
    records = [json.loads(line) for line in out.out.splitlines()]
    assert {r["device"] for r in records} == {"gw-1", "ap-1"}
    for record in records:
        assert set(record) == {"device", "metric", "labels", "value", "ts"}
    up = {r["device"]: r for r in records if r["metric"] == "pubnet_device_up"}
    assert up["gw-1"]["value"] == 1 and up["gw-1"]["labels"]["province"] == "22"
    info = [r for r in records if r["metric"] == "pubnet_device_info" and r["device"] == "ap-1"]
    assert info[0]["labels"]["profile"] == "auto"
    # auto chose `router` for net-snmp's sysObjectID: host metrics are there
    assert any(r["metric"] == "pubnet_host_memory_bytes" and r["device"] == "ap-1"
               for r in records)


def test_a_failing_device_prints_its_status_and_exits_3(
        tmp_path: Path, snmpd_agent: Agent, capsys: pytest.CaptureFixture[str]) -> None:
    config, inventory = write_files(tmp_path, snmpd_agent, free_udp_port())
    code = main(["poll", "--config", str(config), "--inventory", str(inventory), "--once",
                 "--format", "prom"])
    out = capsys.readouterr()
    assert code == 3
    assert "ap-dead: unreachable" in out.err
    lines = out.out.splitlines()
    assert ('pubnet_device_poll_status{device="ap-dead",status="unreachable"} 1.0' in lines)
    assert any(line.startswith('pubnet_device_up{device="ap-dead",') and line.endswith(" 0.0")
               for line in lines)
    assert any(line.startswith('pubnet_interface_oper_up{device="gw-1",ifname="lo"}')
               for line in lines)
    # the exporter's rendering: one HELP/TYPE per family, every family's samples together
    assert lines.count("# TYPE pubnet_device_up gauge") == 1
    assert "# TYPE pubnet_interface_receive_bytes_total counter" in lines
    assert "# HELP pubnet_device_poll_status 1 for the status the last poll of the device " \
           "ended in." in lines
    parsed = [family.name for family in text_string_to_metric_families(out.out)]
    assert len(parsed) == len(set(parsed)) == sum(line.startswith("# TYPE ") for line in lines)


@pytest.mark.parametrize(
    "argv",
    [["--device", "no-such-device"], ["--format", "xml"], []],
    ids=["unknown-device", "bad-format", "no-once"],
)
def test_bad_input(tmp_path: Path, snmpd_agent: Agent, argv: list[str]) -> None:
    config, inventory = write_files(tmp_path, snmpd_agent, free_udp_port())
    base = ["poll", "--config", str(config), "--inventory", str(inventory)]
    extra = argv if not argv or argv[0] != "--device" else [*argv, "--once"]
    if argv and argv[0] == "--format":
        extra = [*argv, "--once"]
    code = main(base + extra)
    assert code == (1 if argv[:1] == ["--device"] else 2)
