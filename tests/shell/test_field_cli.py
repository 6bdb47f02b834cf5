"""The CLI as technicians use it in the field (issue 10, items 8, 10 and 11): database
commands without the daemon's secrets, outputs that cannot be written, and ``pubnet poll``
on devices that are not polled over SNMP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pubnet.cli import main
from tests.alerting.test_cli import seed

INVENTORY = """\
sites:
  - {site_id: S-1, name: บ้านหนองบัว, kind: village_wifi, province_code: "50",
     district_code: "5001", subdistrict_code: "500101", village: "3", lat: 18.78, lon: 98.98}
devices:
  - {device_id: core-1, role: core, address: 127.0.0.3, profile: router, credential: noc-v3}
  - {device_id: gw-icmp, site_id: S-1, role: site_gateway, address: 127.0.0.1, profile: icmp,
     upstream: core-1}
  - {device_id: gw-mqtt, site_id: S-1, role: site_gateway, address: 127.0.0.2, profile: mqtt,
     upstream: core-1}
"""

CONFIG = """\
inventory: inventory.yaml
credentials:
  village-v2: {version: 2c, community: "${I10_FIELD_COMMUNITY}"}
  noc-v3: {version: 3, user: noc, auth_protocol: sha, auth_key: "${I10_FIELD_AUTH}"}
alerting:
  database: state/alerts.db
  channels:
    noc: {type: webhook, url: "https://noc.example.th/hook", secret: "${I10_FIELD_HOOK}"}
  routes:
    - {channels: [noc]}
icmp: {count: 1, timeout: 1s}
"""


@pytest.fixture
def field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config whose daemon secrets are not set in this (technician's) shell."""
    for name in ("I10_FIELD_COMMUNITY", "I10_FIELD_AUTH", "I10_FIELD_HOOK"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "inventory.yaml").write_text(INVENTORY, encoding="utf-8")
    config = tmp_path / "pubnet.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


# -- item 8 ----------------------------------------------------------------------------


def test_database_commands_work_without_daemon_secrets(
        field: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ["--config", str(field)]
    seed(field.parent / "state" / "alerts.db")
    assert main(["alerts", "list", *cfg, "--format", "json"]) == 0
    assert [i["incident_id"] for i in json.loads(capsys.readouterr().out)] == ["INC-2", "INC-1"]
    assert main(["alerts", "ack", "INC-1", "--by", "somchai", "--note", "on my way", *cfg]) == 0
    assert "INC-1 acknowledged by somchai" in capsys.readouterr().out
    assert main(["maintenance", "add", "--scope", "province:50", "--from", "now", "--to", "+2h",
                 *cfg]) == 0
    capsys.readouterr()
    assert main(["maintenance", "list", *cfg, "--format", "json"]) == 0
    windows = json.loads(capsys.readouterr().out)
    assert [w["scope"] for w in windows] == ["province:50"]
    assert main(["maintenance", "end", str(windows[0]["id"]), *cfg]) == 0
    assert main(["inventory", "validate", str(field.parent / "inventory.yaml"), *cfg]) == 0
    assert "I10_FIELD" not in capsys.readouterr().err


def test_daemon_commands_still_report_missing_secrets(
        field: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["config", "check", str(field)], ["run", "--config", str(field)],
                 ["poll", "--config", str(field), "--once"]):
        capsys.readouterr()
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert "credentials.village-v2.community: environment variable I10_FIELD_COMMUNITY " \
               "is not set" in err, argv


# -- item 10 ---------------------------------------------------------------------------


def test_generate_refuses_a_folder_that_is_not_empty(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "inventory"
    assert main(["inventory", "generate", "--sites", "20", "--out", str(out)]) == 0
    before = (out / "sites.csv").read_bytes()
    capsys.readouterr()
    assert main(["inventory", "generate", "--sites", "30", "--seed", "2", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{out}: folder is not empty") and "--force" in err
    assert (out / "sites.csv").read_bytes() == before
    assert main(["inventory", "generate", "--sites", "30", "--seed", "2", "--out", str(out),
                 "--force"]) == 0
    assert (out / "sites.csv").read_bytes() != before


@pytest.mark.parametrize("command", [["inventory", "generate", "--sites", "5"],
                                     ["alerts", "export-rules"]], ids=" ".join)
def test_unwritable_output_is_one_line_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way\n", encoding="utf-8")
    out = blocker / "out"  # a folder inside a file: fails for root too
    capsys.readouterr()
    assert main([*command, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0, err
    assert err.startswith(f"{blocker}") and ": " in err and "Traceback" not in err


# -- item 11 ---------------------------------------------------------------------------


def test_poll_explains_an_mqtt_device(field: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("I10_FIELD_COMMUNITY", "x")
    monkeypatch.setenv("I10_FIELD_AUTH", "authkey-123")
    monkeypatch.setenv("I10_FIELD_HOOK", "y")
    capsys.readouterr()
    assert main(["poll", "--config", str(field), "--device", "gw-mqtt", "--once"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "gw-mqtt: profile mqtt: not polled" in captured.err
    assert "pubnet/v1/telemetry/S-1/gw-mqtt" in captured.err


def test_poll_probes_an_icmp_device_once(field: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """127.0.0.1 answers echo requests on Linux; the probe goes through the daemon's pinger
    (a ping socket or, as root, a raw one)."""
    monkeypatch.setenv("I10_FIELD_COMMUNITY", "x")
    monkeypatch.setenv("I10_FIELD_AUTH", "authkey-123")
    monkeypatch.setenv("I10_FIELD_HOOK", "y")
    capsys.readouterr()
    code = main(["poll", "--config", str(field), "--device", "gw-icmp", "gw-mqtt", "--once"])
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    up = [x for x in lines if x["metric"] == "pubnet_device_up"]
    assert up and up[0]["device"] == "gw-icmp", captured
    if "cannot open an ICMP socket" in captured.err:  # no ping rights: said, and exit 3
        assert code == 3 and up[0]["value"] == 0
    else:
        assert code == 0 and up[0]["value"] == 1, captured.err
        assert any(x["metric"] == "pubnet_probe_rtt_seconds" for x in lines)
    assert "gw-mqtt: profile mqtt: not polled" in captured.err
