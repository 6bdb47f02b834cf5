"""Reading inventory folders and YAML files: encodings, Thai text, spreadsheet quirks, lines."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from inventory import (
    Device,
    InventoryError,
    Medium,
    Role,
    SiteKind,
    SourceLocation,
    generate,
    load_inventory,
    validate,
    write_inventory,
)
from inventory.records import (
    COLUMNS,
    DEVICE_COLUMNS,
    LINK_COLUMNS,
    SITE_COLUMNS,
    parse_device_row,
    parse_link_row,
    parse_site_row,
)

from .conftest import CREDENTIALS, DEVICES, LINKS, SITES, WriteFolder, line_of, write_csv


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bom": True},
        {"newline": "\r\n"},
        {"bom": True, "newline": "\r\n"},
        {"quoting": csv.QUOTE_ALL},  # quoted cells take the row-by-row path
    ],
    ids=["plain", "bom", "crlf", "bom-crlf", "quoted"],
)
def test_csv_variants_load_the_same(write_folder: WriteFolder, options: dict[str, object]) -> None:
    result = load_inventory(write_folder(**options))
    assert validate(result, known_credentials=CREDENTIALS) == []
    inv = result.inventory
    assert list(inv.sites) == ["S-1", "S-2"]
    assert len(inv.devices) == len(DEVICES) and len(inv.links) == len(LINKS)
    site = inv.sites["S-1"]
    assert site.name == "เน็ตประชารัฐ บ้านหนองบัว"
    assert site.village == "บ้านหนองบัว หมู่ 3"
    assert site.kind is SiteKind.VILLAGE_WIFI
    assert (site.lat, site.lon) == (18.7883, 98.9853)
    assert (site.province_name_th, site.province_name_en) == ("เชียงใหม่", "Chiang Mai")
    assert (site.district_name_th, site.district_name_en) == ("เมืองเชียงใหม่", "Mueang Chiang Mai")
    assert (site.subdistrict_name_th, site.subdistrict_name_en) == ("ศรีภูมิ", "Si Phum")
    assert inv.devices["S-1-ap2"] == Device(
        "S-1-ap2", "S-1", Role.ACCESS_POINT, "10.1.0.3", 161, "access-point", "village-v2", "S-1-gw"
    )
    assert (inv.devices["S-2-gw"].host, inv.devices["S-2-gw"].port) == ("2001:db8::1", 1161)
    assert inv.devices["S-2-gw"].address == "[2001:db8::1]:1161"
    assert inv.devices["S-2-ap1"].host == "ap1.s-2.example.net"
    assert inv.links["ln-S-2-gw"].medium is Medium.SATELLITE
    assert inv.links["ln-pn-50"].capacity_bps == 10_000_000_000
    assert result.location("device", "S-2-ap1") == SourceLocation(
        str(result.files["device"]), line_of(DEVICES, "S-2-ap1")
    )


def test_thai_text_round_trips(write_folder: WriteFolder, tmp_path: Path) -> None:
    first = load_inventory(write_folder(bom=True)).inventory
    out = tmp_path / "again"
    write_inventory(first, out)
    assert not (out / "sites.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert "บ้านโนนสว่าง หมู่ 11" in (out / "sites.csv").read_text(encoding="utf-8")
    second = load_inventory(out).inventory
    assert second.sites == first.sites
    assert second.devices == first.devices
    assert second.links == first.links


def test_column_and_row_paths_agree(tmp_path: Path) -> None:
    """Regular files are read column by column (split by hand, or with csv.reader when
    quoted); a blank line forces the row-by-row path. All three give the same result."""
    plain = tmp_path / "plain"
    write_inventory(generate(300, seed=3), plain)
    quoted, by_row = tmp_path / "quoted", tmp_path / "by_row"
    quoted.mkdir()
    by_row.mkdir()
    for name in ("sites.csv", "devices.csv", "links.csv"):
        with (plain / name).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        with (quoted / name).open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
        (by_row / name).write_text((plain / name).read_text(encoding="utf-8") + "\n")
    results = [load_inventory(folder) for folder in (plain, quoted, by_row)]
    first = results[0]
    for other in results[1:]:
        assert other.problems == []
        assert other.inventory.sites == first.inventory.sites
        assert other.inventory.devices == first.inventory.devices
        assert other.inventory.links == first.inventory.links
        for kind in ("site", "device", "link"):
            assert dict(other.lines_of(kind)) == dict(first.lines_of(kind))


def test_column_parsers_build_what_the_row_parsers_build() -> None:
    from inventory.records import devices_from_columns, links_from_columns, sites_from_columns

    devices = [dict(row, province_code="50" if row["role"] == "provincial_node" else "")
               for row in DEVICES]
    for columns, rows, by_column, by_row in (
        (SITE_COLUMNS, SITES, sites_from_columns, parse_site_row),
        (COLUMNS["device"], devices, devices_from_columns, parse_device_row),
        (LINK_COLUMNS, LINKS, links_from_columns, parse_link_row),
    ):
        built = by_column([[row[c] for row in rows] for c in columns])
        assert built is not None
        assert list(built) == [by_row([row[c] for c in columns]) for row in rows]


def test_cells_are_stripped_and_blank_rows_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "inv"
    folder.mkdir()
    header = ",".join(SITE_COLUMNS)
    body = [
        ",".join(f" {v} " for v in SITES[0].values()),
        "",
        ",,,,,,,,",
        ",".join(SITES[1].values()),
    ]
    (folder / "sites.csv").write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
    write_csv(folder / "devices.csv", DEVICE_COLUMNS, DEVICES)
    result = load_inventory(folder)
    assert validate(result) == []
    assert result.inventory.sites["S-1"].village == "บ้านหนองบัว หมู่ 3"
    assert result.location("site", "S-2") == SourceLocation(str(folder / "sites.csv"), 5)


def test_columns_may_come_in_any_order(write_folder: WriteFolder) -> None:
    folder = write_folder()
    write_csv(folder / "devices.csv", list(reversed(DEVICE_COLUMNS)), DEVICES)
    result = load_inventory(folder)
    assert validate(result) == []
    assert result.inventory.devices["pn-50"].upstream == "core-1"


def test_quoted_cell_spanning_lines_keeps_line_numbers(write_folder: WriteFolder) -> None:
    sites = [dict(SITES[0], name="บ้าน\nหนองบัว, ใหม่"), dict(SITES[1], lat="99")]
    folder = write_folder(sites=sites)
    problems = validate(load_inventory(folder))
    assert [str(p).split(" is ")[0] for p in problems] == [
        f"{folder / 'sites.csv'}:4: lat: lat 99.0"
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("S-3,x,school,50", "row has 4 cells but the header has 9 columns"),
        ("S-3,x,school,50,5001,,v,18.8,98.9,extra", "extra cells are ignored"),
    ],
    ids=["too-few-cells", "too-many-cells"],
)
def test_ragged_rows(write_folder: WriteFolder, row: str, message: str) -> None:
    folder = write_folder()
    with (folder / "sites.csv").open("a", encoding="utf-8") as handle:
        handle.write(row + "\n")
    problems = validate(load_inventory(folder))
    assert [(p.line, p.field) for p in problems] == [(4, "row")]
    assert message in problems[0].message


def test_not_a_path_raises(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="no such file or folder"):
        load_inventory(tmp_path / "nowhere")
    (tmp_path / "sites.csv").write_text("site_id\n", encoding="utf-8")
    with pytest.raises(InventoryError, match=r"expected a folder with sites\.csv and devices\.csv"):
        load_inventory(tmp_path / "sites.csv")


def test_locations_cite_every_row(write_folder: WriteFolder) -> None:
    result = load_inventory(write_folder())
    locations = result.locations
    assert len(locations) == len(SITES) + len(DEVICES) + len(LINKS)
    assert ("link", "ln-S-1-ap1") in locations
    assert str(locations[("link", "ln-S-1-ap1")]).endswith("links.csv:6")
    assert ("link", "nope") not in locations
    assert result.location("site", "nope") is None


# -- YAML ------------------------------------------------------------------------------

YAML_INVENTORY = """\
# A lab inventory: one village in Chiang Mai.
sites:
  - site_id: S-1
    name: เน็ตประชารัฐ บ้านหนองบัว
    kind: village_wifi
    province_code: 50
    district_code: 5001
    subdistrict_code: 500101
    village: บ้านหนองบัว หมู่ 3
    lat: 18.7883
    lon: 98.9853
devices:
  - {device_id: core-1, role: core, address: 10.0.0.1, profile: router, credential: noc-v3}
  - device_id: pn-50
    role: provincial_node
    address: 10.0.0.3
    profile: router
    credential: noc-v3
    upstream: core-1
  - device_id: S-1-gw
    site_id: S-1
    role: site_gateway
    address: "[2001:db8::1]:161"
    profile: mqtt
    upstream: pn-50
links:
  - link_id: ln-pn-50
    a_device: core-1
    a_interface: xe-0/0/0
    b_device: pn-50
    medium: fiber
    capacity_bps: 10000000000
    owner: NT
"""


def _line(text: str, needle: str, after: int = 0) -> int:
    lines = text.splitlines()
    return next(i for i in range(after, len(lines)) if needle in lines[i]) + 1


def test_yaml_inventory_loads(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(YAML_INVENTORY, encoding="utf-8")
    result = load_inventory(path)
    assert validate(result, known_credentials=CREDENTIALS) == []
    inv = result.inventory
    assert inv.sites["S-1"].province_code == "50"
    assert inv.sites["S-1"].subdistrict_name_th == "ศรีภูมิ"
    assert inv.devices["core-1"].upstream == ""
    assert inv.devices["S-1-gw"].port == 161
    assert inv.links["ln-pn-50"].b_interface == ""
    assert result.location("device", "pn-50") == SourceLocation(
        str(path), _line(YAML_INVENTORY, "device_id: pn-50")
    )
    assert result.location("device", "pn-50", "upstream") == SourceLocation(
        str(path), _line(YAML_INVENTORY, "upstream: core-1")
    )


@pytest.mark.parametrize(
    ("old", "new", "needle", "field"),
    [
        pytest.param("lat: 18.7883", "lat: 99", "lat: 99", "lat", id="lat"),
        pytest.param("province_code: 50", "province_code: 99", "province_code: 99",
                     "province_code", id="province"),
        pytest.param("upstream: pn-50", "upstream: pn-51", "upstream: pn-51", "upstream",
                     id="unknown-upstream"),
        pytest.param("upstream: core-1", "upstream: S-1-gw", "upstream: S-1-gw", "upstream",
                     id="cycle"),
        pytest.param("role: site_gateway", "role: router", "role: router", "role", id="role"),
        pytest.param("medium: fiber", "medium: [fiber]", "medium: [fiber]", "medium",
                     id="not-a-scalar"),
        pytest.param("    owner: NT\n", "    owner: NT\n    colour: blue\n", "colour: blue",
                     "colour", id="unknown-key"),
        pytest.param("  - device_id: S-1-gw", "  - device_id: pn-50", "device_id: pn-50\n",
                     "device_id", id="duplicate-id"),
    ],
)
def test_yaml_problems_point_at_the_key(
    tmp_path: Path, old: str, new: str, needle: str, field: str
) -> None:
    text = YAML_INVENTORY.replace(old, new)
    assert text != YAML_INVENTORY
    path = tmp_path / "lab.yml"
    path.write_text(text, encoding="utf-8")
    problems = validate(load_inventory(path), known_credentials=CREDENTIALS)
    expected_line = text[: text.rindex(needle)].count("\n") + 1
    assert [f"{p.line}: {p.field}" for p in problems] == [f"{expected_line}: {field}"], problems
    assert str(problems[0]).startswith(f"{path}:{expected_line}: {field}: ")


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("sites: [\n", "yaml", 2),
        ("- just a list\n", "yaml", 1),
        ("", "yaml", 1),
        ("devices: []\n", "sites", 1),
        ("sites: []\ndevices: []\nrouters: []\n", "routers", 3),
        ("sites: nope\ndevices: []\n", "sites", 1),
    ],
    ids=["syntax-error", "not-a-mapping", "empty", "no-sites", "unknown-section", "not-a-list"],
)
def test_yaml_shape_problems(tmp_path: Path, text: str, field: str, line: int) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    problems = validate(load_inventory(path))
    assert [(p.field, p.line) for p in problems] == [(field, line)], problems


@pytest.mark.parametrize("enabled", [True, False], ids=["gc-on", "gc-off"])
def test_loading_leaves_the_garbage_collector_as_it_was(
    write_folder: WriteFolder, enabled: bool
) -> None:
    import gc

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        load_inventory(write_folder())
        assert gc.isenabled() is enabled
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable() if was else gc.disable()


def test_semicolon_separated_file_gets_a_hint(write_folder: WriteFolder) -> None:
    folder = write_folder()
    text = (folder / "sites.csv").read_text(encoding="utf-8").replace(",", ";")
    (folder / "sites.csv").write_text(text, encoding="utf-8")
    problems = validate(load_inventory(folder))
    headers = [p for p in problems if p.field == "header" and p.is_error]
    assert len(headers) == 1
    assert headers[0].message.endswith("cells must be separated by commas, not semicolons")
    assert all(p.field == "header" for p in problems)  # devices at S-1/S-2 do not cascade


@pytest.mark.parametrize(
    "pad",
    [" ", "\t", "\xa0", "\u3000", "\u2009"],
    ids=["space", "tab", "nbsp", "ideographic", "thin"],
)
def test_padding_is_stripped_on_the_fast_path_too(write_folder: WriteFolder, pad: str) -> None:
    clean = load_inventory(write_folder(name="clean")).inventory
    folder = write_folder(name="padded")
    lines = (folder / "devices.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = ",".join(f"{pad}{cell}{pad}" for cell in lines[3].split(","))
    (folder / "devices.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load_inventory(folder)
    assert validate(result) == []
    assert result.inventory.devices == clean.devices
