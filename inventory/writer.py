"""Writing an inventory back to the three CSV files, byte-for-byte reproducibly.

Generated inventories are compared across runs and committed as fixtures, so the output
depends only on the inventory: records in the inventory's order, ``\\n`` line endings,
UTF-8 without a BOM, and floats in Python's shortest round-trip form.
"""

from __future__ import annotations

import csv
from pathlib import Path

from inventory.model import Inventory
from inventory.records import COLUMNS, FILE_NAMES, LINK_COLUMNS, SITE_COLUMNS

__all__ = ["write_inventory"]


def write_inventory(inventory: Inventory, out_dir: str | Path) -> list[Path]:
    """Write ``sites.csv``, ``devices.csv`` and ``links.csv`` into ``out_dir`` (created if
    missing, files overwritten) and return their paths.

    Raises:
        OSError: the folder or a file cannot be written.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tables: list[tuple[str, tuple[str, ...], list[tuple[object, ...]]]] = [
        (
            FILE_NAMES["site"],
            SITE_COLUMNS,
            [
                (
                    s.site_id,
                    s.name,
                    s.kind.value,
                    s.province_code,
                    s.district_code,
                    s.subdistrict_code,
                    s.village,
                    repr(s.lat),
                    repr(s.lon),
                )
                for s in inventory.sites.values()
            ],
        ),
        (
            FILE_NAMES["device"],
            COLUMNS["device"],
            [
                (
                    d.device_id,
                    d.site_id,
                    d.role.value,
                    d.address,
                    d.profile,
                    d.credential,
                    d.upstream,
                    d.province_code,
                )
                for d in inventory.devices.values()
            ],
        ),
        (
            FILE_NAMES["link"],
            LINK_COLUMNS,
            [
                (
                    k.link_id,
                    k.a_device,
                    k.a_interface,
                    k.b_device,
                    k.b_interface,
                    k.medium.value,
                    k.capacity_bps,
                    k.owner,
                )
                for k in inventory.links.values()
            ],
        ),
    ]
    written = []
    for name, columns, rows in tables:
        path = folder / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
        written.append(path)
    return written
