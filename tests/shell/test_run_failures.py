"""``pubnet run`` whose component cannot start says why in one log line and exits 1, with
no Python traceback on the console (issue 10, item 12): a port another program holds is an
operator's everyday mistake, not a crash."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("section", [
    "prometheus:\n  listen: 127.0.0.1:{port}\n",
    "mqtt:\n  embedded_port: {port}\n",
], ids=["metrics-listener", "embedded-broker"])
def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path, section: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = tmp_path / "pubnet.yaml"
        config.write_text("prometheus:\n  listen: 127.0.0.1:0\n" * ("prometheus" not in section)
                          + section.format(port=port), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "pubnet.cli", "run", "--config", str(config)],
            capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    failed = [line for line in done.stderr.splitlines() if "component failed" in line]
    assert len(failed) == 1, done.stderr
    assert str(port) in done.stderr
