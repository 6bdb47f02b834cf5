"""``coverage.pdf``: the HTML printed by headless Chromium.

Chromium, not WeasyPrint: WeasyPrint breaks Thai lines correctly but its PDF text layer
garbles Thai (ประจำ extracts as ประจĺา), so planners could not search or copy the report;
Chromium's PDF embeds the font subset with a correct text layer. It runs as a subprocess
with a throw-away profile, no network use beyond the file itself, and a deadline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
TIMEOUT = 120.0
ENV_BROWSER = "PUBNET_CHROMIUM"
"""Environment variable naming the browser binary when it is not on PATH."""


class PdfError(Exception):
    """The PDF could not be made; the message says why."""


def find_chromium() -> str | None:
    named = os.environ.get(ENV_BROWSER)
    if named:
        return named if Path(named).is_file() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_args(binary: str, profile: Path) -> list[str]:
    return [binary, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--no-first-run",
            "--disable-default-apps", "--mute-audio", f"--user-data-dir={profile}",
            "--run-all-compositor-stages-before-draw", "--virtual-time-budget=10000"]


def html_to_pdf(html: Path, pdf: Path, timeout: float = TIMEOUT) -> None:
    """Print ``html`` to ``pdf`` (A4, as its ``@page`` rule says, no header or footer).
    Raises :class:`PdfError`."""
    binary = find_chromium()
    if binary is None:
        raise PdfError("--pdf needs Chromium (apt-get install chromium, or set "
                       f"{ENV_BROWSER} to the browser binary)")
    with tempfile.TemporaryDirectory(prefix="pubnet-chromium-") as profile:
        args = [*chromium_args(binary, Path(profile)), "--no-pdf-header-footer",
                f"--print-to-pdf={pdf.absolute()}", html.absolute().as_uri()]
        try:
            done = subprocess.run(args, capture_output=True, timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not print the report within {timeout:g}s") from None
        except OSError as exc:
            raise PdfError(f"cannot run {binary}: {exc.strerror or exc}") from None
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise PdfError(f"Chromium failed to print the report (exit {done.returncode}): "
                       + " | ".join(tail))
