"""A small, valid inventory (two sites in Chiang Mai) that tests copy and break.

Line numbers are part of the contract, so the rows are listed in file order: sites.csv
line 2 is S-1, devices.csv line 2 is core-1, and so on (line 1 is the header).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import pytest

from inventory.records import DEVICE_COLUMNS, LINK_COLUMNS, SITE_COLUMNS

Row = dict[str, str]

SITES: list[Row] = [
    {
        "site_id": "S-1",
        "name": "เน็ตประชารัฐ บ้านหนองบัว",
        "kind": "village_wifi",
        "province_code": "50",
        "district_code": "5001",
        "subdistrict_code": "500101",
        "village": "บ้านหนองบัว หมู่ 3",
        "lat": "18.7883",
        "lon": "98.9853",
    },
    {
        "site_id": "S-2",
        "name": "โรงเรียนบ้านโนนสว่าง",
        "kind": "school",
        "province_code": "50",
        "district_code": "5002",
        "subdistrict_code": "500203",
        "village": "บ้านโนนสว่าง หมู่ 11",
        "lat": "18.41",
        "lon": "98.67",
    },
]


def _device(*values: str) -> Row:
    return dict(zip(DEVICE_COLUMNS, values, strict=True))


DEVICES: list[Row] = [
    _device("core-1", "", "core", "10.0.0.1", "router", "noc-v3", ""),  # line 2
    _device("core-2", "", "core", "10.0.0.2", "router", "noc-v3", ""),  # 3
    _device("pn-50", "", "provincial_node", "10.0.0.3", "router", "noc-v3", "core-1"),  # 4
    _device("da-5001", "S-1", "district_aggregation", "10.0.0.4", "router", "noc-v3", "pn-50"),
    _device("S-1-gw", "S-1", "site_gateway", "10.1.0.1", "router", "village-v2", "da-5001"),  # 6
    _device("S-1-ap1", "S-1", "access_point", "10.1.0.2", "access-point", "village-v2", "S-1-gw"),
    _device(
        "S-1-ap2", "S-1", "access_point", "10.1.0.3:161", "access-point", "village-v2", "S-1-gw"
    ),  # 8
    _device("S-2-gw", "S-2", "site_gateway", "[2001:db8::1]:1161", "mqtt", "", "da-5001"),  # 9
    _device("S-2-ap1", "S-2", "access_point", "ap1.s-2.example.net", "icmp", "", "S-2-gw"),  # 10
]


def _link(*values: str) -> Row:
    return dict(zip(LINK_COLUMNS, values, strict=True))


LINKS: list[Row] = [
    _link("ln-pn-50", "core-1", "xe-0/0/0", "pn-50", "xe-0/1/0", "fiber", "10000000000", "NT"),
    _link("ln-da-5001", "pn-50", "ge-0/0/0", "da-5001", "ge-0/1/0", "fiber", "1000000000", "NT"),
    _link("ln-S-1-gw", "da-5001", "ge-0/0/1", "S-1-gw", "ge-0/0/0", "microwave", "100000000", "NT"),
    _link("ln-S-2-gw", "da-5001", "ge-0/0/2", "S-2-gw", "ge-0/0/0", "satellite", "20000000", "NT"),
    _link("ln-S-1-ap1", "S-1-gw", "ge-0/0/1", "S-1-ap1", "eth0", "copper", "1000000000", "NT"),
]

CREDENTIALS = frozenset({"village-v2", "noc-v3"})


def line_of(rows: Sequence[Row], record_id: str) -> int:
    """File line of the row with this id (header is line 1)."""
    return next(i for i, row in enumerate(rows) if next(iter(row.values())) == record_id) + 2


def write_csv(
    path: Path,
    columns: Sequence[str],
    rows: Sequence[Row],
    *,
    bom: bool = False,
    newline: str = "\n",
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_MINIMAL,
) -> None:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=list(columns), lineterminator=newline, quoting=quoting
        )
        writer.writeheader()
        writer.writerows(rows)


WriteFolder = Callable[..., Path]


@pytest.fixture
def write_folder(tmp_path: Path) -> WriteFolder:
    """Write an inventory folder; each of sites/devices/links defaults to the baseline,
    ``None`` leaves the file out."""

    def write(
        sites: Sequence[Row] | None = SITES,
        devices: Sequence[Row] | None = DEVICES,
        links: Sequence[Row] | None = LINKS,
        *,
        name: str = "inv",
        **options: object,
    ) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        for file, columns, rows in (
            ("sites.csv", SITE_COLUMNS, sites),
            ("devices.csv", DEVICE_COLUMNS, devices),
            ("links.csv", LINK_COLUMNS, links),
        ):
            if rows is not None:
                write_csv(folder / file, columns, rows, **options)  # type: ignore[arg-type]
        return folder

    return write
