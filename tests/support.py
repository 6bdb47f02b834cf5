"""Helpers shared by the test suites: free ports and real binaries that must exist under CI.

Under ``CI=true`` a test that needs a missing binary fails instead of skipping, so a green
CI run always means the integration tests really ran.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

SBIN_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin")


def find_binary(name: str) -> str | None:
    """Locate a server binary, looking in sbin folders that are often not on PATH."""
    found = shutil.which(name)
    if found:
        return found
    for folder in SBIN_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require_binary(name: str) -> str:
    """Return the binary's path; skip the test locally, fail it under CI, when missing."""
    path = find_binary(name)
    if path is None:
        message = f"{name} is not installed (scripts/test installs it with apt)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on ``host`` (TCP by default, UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
