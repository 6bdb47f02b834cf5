"""The optional ``province_code`` of a device: where a provincial node or core stands."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory import generate, load_inventory, validate, write_inventory
from inventory.records import COLUMNS, DEVICE_COLUMNS

from .conftest import CREDENTIALS, DEVICES, WriteFolder, line_of, write_csv

WITH_PROVINCE = [dict(row, province_code="50" if row["device_id"] == "pn-50" else "")
                 for row in DEVICES]


@pytest.mark.parametrize(
    "columns",
    [COLUMNS["device"], tuple(reversed(COLUMNS["device"]))],
    ids=["in-order", "reversed"],
)
def test_province_code_column_is_read(write_folder: WriteFolder,
                                      columns: tuple[str, ...]) -> None:
    folder = write_folder()
    write_csv(folder / "devices.csv", columns, WITH_PROVINCE)
    result = load_inventory(folder)
    assert validate(result, known_credentials=CREDENTIALS) == []
    inv = result.inventory
    assert inv.devices["pn-50"].province_code == "50"
    assert inv.province_of(inv.devices["pn-50"]) == "50"
    assert inv.province_of(inv.devices["core-1"]) == ""
    assert inv.province_of(inv.devices["S-1-gw"]) == "50"  # from its site


def test_province_code_column_may_be_left_out(write_folder: WriteFolder) -> None:
    folder = write_folder()  # devices.csv written with the required columns only
    header = (folder / "devices.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(DEVICE_COLUMNS)
    result = load_inventory(folder)
    assert validate(result, known_credentials=CREDENTIALS) == []
    assert result.inventory.devices["pn-50"].province_code == ""


def test_row_by_row_path_reads_it_too(write_folder: WriteFolder) -> None:
    """A blank line sends the file down the row-by-row path, which must agree."""
    folder = write_folder()
    for columns, rows in ((COLUMNS["device"], WITH_PROVINCE), (DEVICE_COLUMNS, DEVICES)):
        write_csv(folder / "devices.csv", columns, rows)
        path = folder / "devices.csv"
        path.write_text(path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
        result = load_inventory(folder)
        assert validate(result, known_credentials=CREDENTIALS) == []
        expected = "50" if "province_code" in columns else ""
        assert result.inventory.devices["pn-50"].province_code == expected


def test_yaml_device_takes_province_code(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(
        "sites: []\n"
        "devices:\n"
        "  - {device_id: core-1, role: core, address: 10.0.0.1, profile: icmp,"
        " province_code: \"10\"}\n",
        encoding="utf-8",
    )
    result = load_inventory(path)
    assert [str(p) for p in validate(result)] == []
    assert result.inventory.devices["core-1"].province_code == "10"


def test_wrong_province_codes_are_errors(write_folder: WriteFolder) -> None:
    rows = [dict(row, province_code={"pn-50": "99", "S-1-gw": "57"}.get(row["device_id"], ""))
            for row in DEVICES]
    folder = write_folder()
    write_csv(folder / "devices.csv", COLUMNS["device"], rows)
    problems = [str(p) for p in validate(load_inventory(folder), known_credentials=CREDENTIALS)]
    file = folder / "devices.csv"
    assert problems == [
        f"{file}:{line_of(DEVICES, 'pn-50')}: province_code: unknown province_code '99' "
        "(2 digits, e.g. 50 for Chiang Mai)",
        f"{file}:{line_of(DEVICES, 'S-1-gw')}: province_code: province_code 57 differs from "
        "the province of its site S-1 (50); leave it empty for a device at a site",
    ]


def test_generated_nodes_say_their_province_and_survive_a_round_trip(tmp_path: Path) -> None:
    inv = generate(200, seed=3)
    assert inv.devices["pn-55"].province_code == "55"
    assert inv.devices["core-kkn"].province_code == "40"
    assert all(d.province_code == "" for d in inv.devices.values() if d.site_id)
    write_inventory(inv, tmp_path / "inv")
    loaded = load_inventory(tmp_path / "inv")
    assert validate(loaded, known_credentials={"village-v2", "noc-v3"}) == []
    assert loaded.inventory.devices == inv.devices
