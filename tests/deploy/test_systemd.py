"""deploy/systemd/pubnet.service: systemd accepts every line, and the unit is hardened."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import require_binary

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "pubnet.service"
VENV = Path(sys.executable).parent.parent


def local_unit(tmp_path: Path, text: str | None = None) -> Path:
    """The unit with /opt/pubnet/.venv pointing at this checkout's venv (``verify`` checks
    that ExecStart's binary exists)."""
    path = tmp_path / "pubnet.service"
    text = UNIT.read_text(encoding="utf-8") if text is None else text
    path.write_text(text.replace("/opt/pubnet/.venv", str(VENV)), encoding="utf-8")
    return path


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_binary("systemd-analyze"), "verify", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_systemd_analyze_verify_accepts_every_line(tmp_path: Path) -> None:
    result = verify(local_unit(tmp_path))
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("broken", [
    ("ProtectSystem=strict", "ProtectSystem=strictt"),
    ("ExecReload=", "ExecRelod="),
], ids=["bad-value", "unknown-key"])
def test_verify_would_catch_a_mistake(tmp_path: Path, broken: tuple[str, str]) -> None:
    text = UNIT.read_text(encoding="utf-8").replace(*broken)
    assert verify(local_unit(tmp_path, text)).stderr != ""


def test_unit_is_hardened_and_reloads_with_hup(tmp_path: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None,
                                       delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    service = parser["Service"]
    assert service["User"] == "pubnet" and service["Group"] == "pubnet"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/pubnet" == "/var/lib/" + service[
        "StateDirectory"]
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert re.fullmatch(r"\S+/pubnet run --config /etc/pubnet/pubnet\.yaml",
                        service["ExecStart"])
    assert int(service["TimeoutStopSec"].removesuffix("s")) > 10  # pubnet exits within 10 s
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert service[key] == "yes", key
    security = subprocess.run(
        [require_binary("systemd-analyze"), "security", "--offline=yes",
         str(local_unit(tmp_path))], capture_output=True, text=True, timeout=60)
    score = re.search(r"Overall exposure level for pubnet\.service: ([\d.]+)",
                      security.stdout)
    assert score is not None, security.stdout + security.stderr
    assert float(score.group(1)) <= 2.5, security.stdout  # systemd calls < 3 "OK"


def test_the_start_check_command_exists() -> None:
    """ExecStartPre runs ``pubnet config check``: a command pubnet has."""
    result = subprocess.run([str(VENV / "bin" / "pubnet"), "config", "check", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
