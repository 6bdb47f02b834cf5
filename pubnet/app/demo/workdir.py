"""The demo's work folder: what it leaves behind (the simulated inventory and a config for
``pubnet alerts list``) so the incident can be inspected after the run, and a clean alerting
database at the start so a second run does not restore the first one's incidents."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pubnet.app.demo.config import DATABASE_NAME

if TYPE_CHECKING:
    from inventory.model import Inventory


@contextlib.contextmanager
def prepared_workdir(given: Path | None) -> Iterator[Path]:
    """The given folder (stale demo database removed) or a temporary one."""
    if given is None:
        with tempfile.TemporaryDirectory(prefix="pubnet-demo-") as tmp:
            yield Path(tmp)
        return
    given.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        (given / f"{DATABASE_NAME}{suffix}").unlink(missing_ok=True)
    yield given


def write_files(workdir: Path, inventory: Inventory) -> None:
    """The simulated inventory, and a config for ``pubnet alerts list`` (no secrets in it)."""
    from inventory.writer import write_inventory

    write_inventory(inventory, workdir / "inventory")
    (workdir / "pubnet-demo.yaml").write_text(
        "# Written by `pubnet demo` for `pubnet alerts list --config` (no credentials).\n"
        f"inventory: inventory\nalerting:\n  database: {DATABASE_NAME}\n", encoding="utf-8")
