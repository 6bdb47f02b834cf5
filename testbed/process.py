"""Server binaries: find them (Debian puts several in sbin folders often not on PATH) and
stop them the way they flush (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

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


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0,
                 sig: signal.Signals = signal.SIGTERM) -> None:
    """SIGTERM (servers flush and save on it; ``sig`` for a program that stops on another,
    such as pubnet on SIGINT), then SIGKILL if it takes over ``timeout`` s."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
