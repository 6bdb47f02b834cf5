"""The CLI's contract: subcommands, exit codes 0/1/2, and the done-when scenario of issue 2."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pubnet.cli import main


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("run", "inventory", "config"):
        assert command in out


@pytest.mark.parametrize(
    "argv",
    [[], ["frobnicate"], ["inventory"], ["inventory", "generate", "--sites", "0", "--out", "x"],
     ["inventory", "validate"], ["run", "--bogus"]],
    ids=["nothing", "unknown-command", "no-action", "zero-sites", "no-path", "unknown-flag"],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    assert main(argv) == 2


@pytest.mark.parametrize("sub", [["run"], ["inventory", "validate"], ["inventory", "generate"],
                                 ["inventory", "stats"], ["config", "check"]], ids=" ".join)
def test_every_subcommand_has_help(sub: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*sub, "--help"]) == 0
    assert "usage:" in capsys.readouterr().out


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("inv") / "national"
    assert main(["inventory", "generate", "--sites", "300", "--seed", "7", "--out", str(out)]) == 0
    return out


def test_generated_inventory_validates(generated: Path) -> None:
    assert main(["inventory", "validate", str(generated)]) == 0


def test_generate_is_deterministic(generated: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert main(["inventory", "generate", "--sites", "300", "--seed", "7", "--out",
                 str(again)]) == 0
    for name in ("sites.csv", "devices.csv", "links.csv"):
        assert (generated / name).read_bytes() == (again / name).read_bytes(), name


def _rewrite(path: Path, edit: dict[int, dict[str, str]]) -> None:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
        fields = list(rows[0].keys())
    for index, changes in edit.items():
        rows[index].update(changes)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_planted_errors_each_get_a_line(generated: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(generated, broken)
    sites = broken / "sites.csv"
    with sites.open(encoding="utf-8") as f:
        site_rows = list(csv.DictReader(f))
    devices = broken / "devices.csv"
    with devices.open(encoding="utf-8") as f:
        device_rows = list(csv.DictReader(f))
    gateways = [i for i, r in enumerate(device_rows) if r["role"] == "site_gateway"]
    aps = [i for i, r in enumerate(device_rows) if r["role"] == "access_point"]
    # rows are 0-based here; the file line is index + 2 (header is line 1)
    _rewrite(sites, {
        3: {"site_id": site_rows[2]["site_id"]},          # duplicate site_id
        5: {"lat": "99"},                                  # latitude outside Thailand
        7: {"province_code": "99"},                        # no such province
    })
    ap = aps[0]
    gw = gateways[-1]  # a gateway far from the AP above, so the cycle stays intact
    gw_ap = next(i for i in aps if device_rows[i]["upstream"] == device_rows[gw]["device_id"])
    assert gw_ap != ap
    _rewrite(devices, {
        ap: {"upstream": "no-such-device"},               # unknown upstream
        gw: {"upstream": device_rows[gw_ap]["device_id"]},  # gateway → its own AP: a cycle
    })
    capsys.readouterr()
    assert main(["inventory", "validate", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "sites.csv:5: site_id:" in out
    assert "sites.csv:7: lat:" in out
    assert "sites.csv:9: province_code:" in out
    assert f"devices.csv:{ap + 2}: upstream:" in out
    assert "cycle" in out


def test_validate_checks_credentials_with_config(generated: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "pubnet.yaml"
    config.write_text("credentials:\n  other:\n    version: 2c\n    community: x\n",
                      encoding="utf-8")
    capsys.readouterr()
    assert main(["inventory", "validate", str(generated), "--config", str(config)]) == 1
    assert "credential" in capsys.readouterr().out


def test_missing_inventory_is_bad_input(tmp_path: Path) -> None:
    assert main(["inventory", "validate", str(tmp_path / "nowhere")]) == 1


def test_stats_counts(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "stats", str(generated)]) == 0
    out = capsys.readouterr().out
    assert "เชียงใหม่" in out and "village_wifi" in out and "access_point" in out


def test_config_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("credentials:\n  v2:\n    version: 2c\n    community: s3cret-value\n",
                    encoding="utf-8")
    assert main(["config", "check", str(good)]) == 0
    assert "s3cret-value" not in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("snmp:\n  retries: many\n", encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 1
    assert "snmp.retries" in capsys.readouterr().err


def test_run_with_bad_config_is_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nonsense: 1\n", encoding="utf-8")
    assert main(["run", "--config", str(bad)]) == 1


def test_console_script_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "pubnet.cli", "--version"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "pubnet" in done.stdout
