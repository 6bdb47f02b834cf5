"""Input bounds (issue 10, item 19): text cells of at most 200 characters, numbers that fit
their field, and a runaway cell that costs megabytes, not gigabytes -- each reported as
``file:line: field: message``."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.csv_reader import lines
from inventory.loader import load_inventory
from inventory.validate import validate
from pubnet.cli import main
from tests.inventory.conftest import (
    DEVICES,
    LINKS,
    SITES,
    Row,
    WriteFolder,
    line_of,
    write_csv,
)

MAX_TEXT = 200
"""Characters in an id, name, village, interface, credential or owner (docs/inventory.md)."""
MAX_LINE_BYTES = 65536
"""Longest line read (docs/inventory.md)."""


def test_documented_limits_are_the_code_s() -> None:
    from inventory.bounded import MAX_LINE_BYTES as line_limit
    from inventory.records import MAX_TEXT as text_limit

    assert (text_limit, line_limit) == (MAX_TEXT, MAX_LINE_BYTES)


def with_change(rows: list[Row], record_id: str, **changes: str) -> list[Row]:
    return [{**row, **changes} if next(iter(row.values())) == record_id else row
            for row in rows]


def problems_of(folder: Path) -> list[str]:
    return [str(p) for p in validate(load_inventory(folder))]


@pytest.mark.parametrize(
    ("file", "rows", "record_id", "column"),
    [
        ("sites.csv", SITES, "S-2", "name"),
        ("sites.csv", SITES, "S-2", "village"),
        ("devices.csv", DEVICES, "S-1-ap2", "credential"),
        ("links.csv", LINKS, "ln-S-1-ap1", "owner"),
        ("links.csv", LINKS, "ln-S-1-gw", "b_interface"),
    ],
    ids=["site-name", "village", "credential", "owner", "interface"],
)
def test_text_longer_than_200_characters(write_folder: WriteFolder, file: str,
                                         rows: list[Row], record_id: str,
                                         column: str) -> None:
    long_text = "บ้าน" * 60  # 240 characters, a plausible runaway paste
    changed = with_change(rows, record_id, **{column: long_text})
    kind = {"sites.csv": "sites", "devices.csv": "devices", "links.csv": "links"}[file]
    folder = write_folder(**{kind: changed})
    line = line_of(rows, record_id)
    expected = (f"{folder / file}:{line}: {column}: {column} is 240 characters long; "
                f"at most {MAX_TEXT} are allowed")
    found = problems_of(folder)
    assert expected in found, found
    assert len(found) == 1, found  # the row is rejected, not cascaded


def test_exactly_200_characters_is_fine(write_folder: WriteFolder) -> None:
    folder = write_folder(sites=with_change(SITES, "S-1", name="ก" * MAX_TEXT))
    assert problems_of(folder) == []
    assert load_inventory(folder).inventory.sites["S-1"].name == "ก" * MAX_TEXT


def test_twenty_megabyte_site_name(write_folder: WriteFolder,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The line is not even read: the row is reported by column, left out, and devices at
    that site are not 'unknown site' errors."""
    folder = write_folder(sites=with_change(SITES, "S-2", name="x" * 20_000_000))
    capsys.readouterr()
    assert main(["inventory", "validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"{folder / 'sites.csv'}:{line_of(SITES, 'S-2')}: name: name is longer than "
        f"{MAX_TEXT} characters (the line has over {MAX_LINE_BYTES:,} bytes and was not "
        "read); the row is left out"]


@pytest.mark.parametrize("capacity", ["9" * 5000, str(2**63)], ids=["5000-digits", "2^63"])
def test_capacity_must_fit_64_bits(write_folder: WriteFolder, capacity: str) -> None:
    folder = write_folder(links=with_change(LINKS, "ln-S-1-gw", capacity_bps=capacity))
    found = problems_of(folder)
    assert len(found) == 1, found
    assert found[0].startswith(f"{folder / 'links.csv'}:{line_of(LINKS, 'ln-S-1-gw')}: "
                               "capacity_bps: capacity_bps '")
    assert "is not a positive whole number of bits per second up to 2^63-1" in found[0]
    assert len(found[0]) < 400  # the cell is not echoed whole


def test_messages_do_not_echo_a_runaway_value(write_folder: WriteFolder) -> None:
    folder = write_folder(devices=with_change(DEVICES, "S-1-ap2", upstream="u" * 5000))
    found = problems_of(folder)
    assert len(found) == 1 and "unknown upstream device 'uuuu" in found[0], found
    assert "(5,000 characters)" in found[0] and len(found[0]) < 400


def test_quoted_cell_over_the_csv_field_limit(tmp_path: Path) -> None:
    folder = tmp_path / "inv"
    folder.mkdir()
    write_csv(folder / "devices.csv", list(DEVICES[0]), DEVICES)
    write_csv(folder / "sites.csv", list(SITES[0]),
              with_change(SITES, "S-2", name="line\n" * 40_000))  # quoted, 200,000 chars
    found = problems_of(folder)
    assert any(p.startswith(f"{folder / 'sites.csv'}:") and "csv: cannot parse CSV: a quoted "
               "cell is longer than 131,072 characters" in p for p in found), found


def test_spaces_around_enums_and_numbers_still_read(tmp_path: Path) -> None:
    """The column path leaves kind/lat/lon/role/medium/capacity unstripped; a padded file
    must still read exactly like a clean one (through the row path)."""
    clean, padded = tmp_path / "clean", tmp_path / "padded"
    for folder, pad in ((clean, ""), (padded, " ")):
        folder.mkdir()
        for name, rows in (("sites.csv", SITES), ("devices.csv", DEVICES),
                           ("links.csv", LINKS)):
            write_csv(folder / name, list(rows[0]),
                      [{k: f"{pad}{v}{pad}" for k, v in row.items()} for row in rows])
    a, b = load_inventory(clean), load_inventory(padded)
    assert b.problems == [] and validate(b) == []
    assert a.inventory.sites == b.inventory.sites
    assert a.inventory.devices == b.inventory.devices
    assert a.inventory.links == b.inventory.links


def test_yaml_text_bounds(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(textwrap.dedent(f"""\
        sites:
          - site_id: S-1
            name: "{'ก' * 201}"
            kind: village_wifi
            province_code: "50"
            district_code: "5001"
            subdistrict_code: "500101"
            lat: 18.78
            lon: 98.98
        devices: []
        """), encoding="utf-8")
    found = problems_of(path)
    assert found == [f"{path}:3: name: name is 201 characters long; at most {MAX_TEXT} "
                     "are allowed"], found


def test_yaml_line_too_long_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("sites:\n  - site_id: S-1\n    village: " + "x" * 100_000 + "\n"
                    "devices: []\n", encoding="utf-8")
    result = load_inventory(path)
    assert [str(p) for p in result.problems] == [
        f"{path}:3: village: line has over {MAX_LINE_BYTES:,} bytes and was not read "
        f"(a value holds at most {MAX_TEXT} characters)"]


PEAK_SCRIPT = """
import json, sys
from inventory.csv_reader import lines
from inventory.loader import load_inventory
from inventory.validate import validate


def status_mb(key):
    with open("/proc/self/status") as handle:
        line = next(x for x in handle if x.startswith(key + ":"))
    return int(line.split()[1]) / 1024


validate(load_inventory(sys.argv[2]))  # warm up: reference data, imports
rss = status_mb("VmRSS")
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # reset the peak (VmHWM) to the current RSS
result = load_inventory(sys.argv[1])
problems = [str(p) for p in validate(result)]
print(json.dumps({"extra_mb": status_mb("VmHWM") - rss, "problems": problems,
                  "sites": sorted(result.inventory.sites)}))
"""


def test_a_200_mb_cell_costs_megabytes(write_folder: WriteFolder) -> None:
    """The issue's file: one 200 MB cell in an otherwise valid row. It used to pass
    validation at a 1.2 GB peak; now it is an error and the peak grows by < 100 MB. The
    child is capped at 1 GiB of address space so that a regression fails, not swaps."""
    folder = write_folder()
    clean = write_folder(name="clean")
    sites = folder / "sites.csv"
    row = ",".join(SITES[1].values()).replace(SITES[1]["village"], "ห" * (200_000_000 // 3))
    with sites.open("a", encoding="utf-8") as handle:
        handle.write(row.replace("S-2", "S-3") + "\n")
    try:
        done = subprocess.run(
            [sys.executable, "-c",
             "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));"
             + PEAK_SCRIPT, str(folder), str(clean)],
            capture_output=True, text=True, timeout=120, check=False)
    finally:
        sites.unlink()
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["problems"] == [
        f"{sites}:{len(SITES) + 2}: village: village is longer than {MAX_TEXT} characters "
        f"(the line has over {MAX_LINE_BYTES:,} bytes and was not read); the row is left out"]
    assert report["sites"] == ["S-1", "S-2"]
    print(f"peak grew by {report['extra_mb']:.0f} MB")
    assert report["extra_mb"] < 100, report["extra_mb"]


@given(st.lists(st.sampled_from(
    ["a", ",", "\n", "\r", "\r\n", '"', "ก", " ", "\u2028", "\x0c", "\x85"]), max_size=60)
    .map("".join))
def test_lines_read_like_stringio(text: str) -> None:
    """csv.reader gets the same rows (and errors) from lines() as from the io.StringIO it
    replaced, whatever line breaks a cell holds."""
    def rows(source: Iterable[str]) -> object:
        reader = csv.reader(source)
        try:
            return list(reader), reader.line_num
        except csv.Error as exc:
            return str(exc), reader.line_num

    assert rows(lines(text)) == rows(io.StringIO(text, newline=""))
