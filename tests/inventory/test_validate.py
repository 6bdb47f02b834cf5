"""Every validation rule, planted one at a time into a valid inventory.

Each case asserts the exact ``file:line: field:`` prefix of the one problem it causes and
that nothing else is reported (a broken row must not cascade into more messages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from inventory import Severity, has_errors, load_inventory, validate
from inventory.records import DEVICE_COLUMNS, LINK_COLUMNS, SITE_COLUMNS

from .conftest import CREDENTIALS, DEVICES, LINKS, SITES, Row, WriteFolder, line_of, write_csv

_FILES = {
    "sites": (SITE_COLUMNS, SITES),
    "devices": (DEVICE_COLUMNS, DEVICES),
    "links": (LINK_COLUMNS, LINKS),
}


@dataclass(frozen=True)
class Plant:
    """One change to the baseline inventory."""

    file: str
    record: str | None = None
    changes: Row = field(default_factory=dict)
    append: Row | None = None
    drop_column: str | None = None
    extra_column: str | None = None
    missing: bool = False


@dataclass(frozen=True)
class Case:
    id: str
    plant: Plant
    file: str
    line: int
    field: str
    message: str
    severity: Severity = Severity.ERROR
    count: int = 1


def _site(site_id: str) -> int:
    return line_of(SITES, site_id)


def _dev(device_id: str) -> int:
    return line_of(DEVICES, device_id)


def _link(link_id: str) -> int:
    return line_of(LINKS, link_id)


CASES = [
    # -- sites.csv --
    Case(
        "duplicate-site",
        Plant("sites", append=SITES[0]),
        "sites.csv",
        len(SITES) + 2,
        "site_id",
        "duplicate site_id 'S-1' (first defined at line 2)",
    ),
    Case(
        "empty-site-id",
        Plant("sites", "S-2", {"site_id": ""}),
        "sites.csv",
        _site("S-2"),
        "site_id",
        "site_id is required",
        count=3,
    ),  # and S-2's two devices lose their site
    Case(
        "unknown-kind",
        Plant("sites", "S-2", {"kind": "park"}),
        "sites.csv",
        _site("S-2"),
        "kind",
        "unknown kind 'park'",
    ),
    Case(
        "lat-not-a-number",
        Plant("sites", "S-1", {"lat": "north"}),
        "sites.csv",
        _site("S-1"),
        "lat",
        "lat 'north' is not a number",
    ),
    Case(
        "lat-nan",
        Plant("sites", "S-1", {"lat": "nan"}),
        "sites.csv",
        _site("S-1"),
        "lat",
        "is not a number",
    ),
    Case(
        "lon-empty",
        Plant("sites", "S-1", {"lon": ""}),
        "sites.csv",
        _site("S-1"),
        "lon",
        "lon is required",
    ),
    Case(
        "lat-outside-thailand",
        Plant("sites", "S-1", {"lat": "99"}),
        "sites.csv",
        _site("S-1"),
        "lat",
        "lat 99.0 is outside Thailand (5.6 to 20.5)",
    ),
    Case(
        "lon-outside-thailand",
        Plant("sites", "S-2", {"lon": "120.5"}),
        "sites.csv",
        _site("S-2"),
        "lon",
        "lon 120.5 is outside Thailand",
    ),
    Case(
        "swapped-lat-lon",
        Plant("sites", "S-2", {"lat": "98.67", "lon": "18.41"}),
        "sites.csv",
        _site("S-2"),
        "lat",
        "lat 98.67 is outside Thailand",
        count=2,
    ),
    Case(
        "unknown-province",
        Plant("sites", "S-1", {"province_code": "99"}),
        "sites.csv",
        _site("S-1"),
        "province_code",
        "unknown province_code '99'",
    ),
    Case(
        "missing-province",
        Plant("sites", "S-1", {"province_code": ""}),
        "sites.csv",
        _site("S-1"),
        "province_code",
        "province_code is required",
    ),
    Case(
        "unknown-district",
        Plant("sites", "S-1", {"district_code": "5099"}),
        "sites.csv",
        _site("S-1"),
        "district_code",
        "unknown district_code '5099'",
    ),
    Case(
        "district-not-in-province",
        Plant("sites", "S-1", {"district_code": "4001", "subdistrict_code": "400101"}),
        "sites.csv",
        _site("S-1"),
        "district_code",
        "district 4001 (Mueang Khon Kaen) is not in province 50 (Chiang Mai) but in province 40",
    ),
    Case(
        "unknown-subdistrict",
        Plant("sites", "S-1", {"subdistrict_code": "500199"}),
        "sites.csv",
        _site("S-1"),
        "subdistrict_code",
        "unknown subdistrict_code '500199'",
    ),
    Case(
        "subdistrict-not-in-district",
        Plant("sites", "S-1", {"subdistrict_code": "500203"}),
        "sites.csv",
        _site("S-1"),
        "subdistrict_code",
        "subdistrict 500203 (Ban Luang) is not in district 5001 (Mueang Chiang Mai) but in "
        "district 5002",
    ),
    Case(
        "missing-site-column",
        Plant("sites", drop_column="lon"),
        "sites.csv",
        1,
        "header",
        "missing column: lon",
    ),
    Case(
        "unknown-site-column",
        Plant("sites", extra_column="notes"),
        "sites.csv",
        1,
        "header",
        "unknown column 'notes' is ignored",
        Severity.WARNING,
    ),
    Case(
        "missing-sites-file",
        Plant("sites", missing=True),
        "sites.csv",
        0,
        "file",
        "missing: an inventory folder needs sites.csv and devices.csv",
    ),
    # -- devices.csv --
    Case(
        "duplicate-device",
        Plant("devices", append=DEVICES[-1]),
        "devices.csv",
        len(DEVICES) + 2,
        "device_id",
        "duplicate device_id 'S-2-ap1' (first defined at line 10)",
    ),
    Case(
        "unknown-site",
        Plant("devices", "S-1-ap1", {"site_id": "S-9"}),
        "devices.csv",
        _dev("S-1-ap1"),
        "site_id",
        "unknown site 'S-9'",
    ),
    Case(
        "access-point-without-site",
        Plant("devices", "S-1-ap1", {"site_id": ""}),
        "devices.csv",
        _dev("S-1-ap1"),
        "site_id",
        "site_id is required for role access_point",
    ),
    Case(
        "unknown-role",
        Plant("devices", "S-1-ap1", {"role": "switch"}),
        "devices.csv",
        _dev("S-1-ap1"),
        "role",
        "unknown role 'switch' (expected one of: access_point,",
    ),
    Case(
        "unknown-upstream",
        Plant("devices", "S-1-ap1", {"upstream": "no-such-device"}),
        "devices.csv",
        _dev("S-1-ap1"),
        "upstream",
        "unknown upstream device 'no-such-device'",
    ),
    Case(
        "core-with-upstream",
        Plant("devices", "core-1", {"upstream": "core-2"}),
        "devices.csv",
        _dev("core-1"),
        "upstream",
        "a core device is a root and has no upstream",
    ),
    Case(
        "non-core-without-upstream",
        Plant("devices", "S-1-ap2", {"upstream": ""}),
        "devices.csv",
        _dev("S-1-ap2"),
        "upstream",
        "upstream is required for role access_point (only core devices are roots)",
    ),
    Case(
        "cycle",
        Plant("devices", "pn-50", {"upstream": "S-1-gw"}),
        "devices.csv",
        _dev("pn-50"),
        "upstream",
        "upstream cycle of 3 devices: pn-50 -> S-1-gw -> da-5001 -> pn-50 (no core above them)",
    ),
    Case(
        "self-cycle",
        Plant("devices", "S-1-ap1", {"upstream": "S-1-ap1"}),
        "devices.csv",
        _dev("S-1-ap1"),
        "upstream",
        "upstream cycle of 1 device: S-1-ap1 -> S-1-ap1",
    ),
    Case(
        "bad-ipv4",
        Plant("devices", "S-1-ap1", {"address": "10.1.0.300"}),
        "devices.csv",
        _dev("S-1-ap1"),
        "address",
        "'10.1.0.300' is not a valid IPv4 address",
    ),
    Case(
        "port-out-of-range",
        Plant("devices", "S-1-ap1", {"address": "10.1.0.2:70000"}),
        "devices.csv",
        _dev("S-1-ap1"),
        "address",
        "port 70000 is outside 1-65535",
    ),
    Case(
        "port-zero",
        Plant("devices", "S-1-ap1", {"address": "10.1.0.2:0"}),
        "devices.csv",
        _dev("S-1-ap1"),
        "address",
        "port 0 is outside 1-65535",
    ),
    Case(
        "port-not-a-number",
        Plant("devices", "S-1-ap1", {"address": "10.1.0.2:snmp"}),
        "devices.csv",
        _dev("S-1-ap1"),
        "address",
        "port 'snmp' is not a number",
    ),
    Case(
        "ipv6-without-brackets",
        Plant("devices", "S-2-gw", {"address": "2001:db8::1"}),
        "devices.csv",
        _dev("S-2-gw"),
        "address",
        "write IPv6 addresses in brackets",
    ),
    Case(
        "bad-hostname",
        Plant("devices", "S-2-ap1", {"address": "ap_1!.example"}),
        "devices.csv",
        _dev("S-2-ap1"),
        "address",
        "is not an IPv4 address or a valid hostname",
    ),
    Case(
        "empty-address",
        Plant("devices", "S-2-ap1", {"address": ""}),
        "devices.csv",
        _dev("S-2-ap1"),
        "address",
        "address is required",
    ),
    Case(
        "unknown-profile",
        Plant("devices", "S-1-ap1", {"profile": "cisco-magic"}),
        "devices.csv",
        _dev("S-1-ap1"),
        "profile",
        "unknown profile 'cisco-magic' (known: ",
    ),
    Case(
        "snmp-without-credential",
        Plant("devices", "S-1-ap1", {"credential": ""}),
        "devices.csv",
        _dev("S-1-ap1"),
        "credential",
        "profile 'access-point' polls SNMP and needs a credential",
    ),
    Case(
        "icmp-with-credential",
        Plant("devices", "S-2-ap1", {"credential": "village-v2"}),
        "devices.csv",
        _dev("S-2-ap1"),
        "credential",
        "profile 'icmp' uses no credential; 'village-v2' is ignored",
        Severity.WARNING,
    ),
    Case(
        "mqtt-with-credential",
        Plant("devices", "S-2-gw", {"credential": "noc-v3"}),
        "devices.csv",
        _dev("S-2-gw"),
        "credential",
        "profile 'mqtt' uses no credential",
        Severity.WARNING,
    ),
    Case(
        "unknown-credential",
        Plant("devices", "S-1-ap1", {"credential": "village-v9"}),
        "devices.csv",
        _dev("S-1-ap1"),
        "credential",
        "unknown credential 'village-v9'",
    ),
    Case(
        "shared-address",
        Plant("devices", "S-1-ap2", {"address": "10.1.0.2"}),
        "devices.csv",
        _dev("S-1-ap2"),
        "address",
        "address 10.1.0.2 is also used by device 'S-1-ap1'",
        Severity.WARNING,
    ),
    Case(
        "missing-device-column",
        Plant("devices", drop_column="upstream"),
        "devices.csv",
        1,
        "header",
        "missing column: upstream",
    ),
    Case(
        "missing-devices-file",
        Plant("devices", missing=True),
        "devices.csv",
        0,
        "file",
        "(devices.csv not found)",
    ),
    # -- links.csv --
    Case(
        "duplicate-link",
        Plant("links", append=LINKS[0]),
        "links.csv",
        len(LINKS) + 2,
        "link_id",
        "duplicate link_id 'ln-pn-50'",
    ),
    Case(
        "unknown-a-device",
        Plant("links", "ln-pn-50", {"a_device": "core-9"}),
        "links.csv",
        _link("ln-pn-50"),
        "a_device",
        "unknown device 'core-9'",
    ),
    Case(
        "unknown-b-device",
        Plant("links", "ln-da-5001", {"b_device": "da-9999"}),
        "links.csv",
        _link("ln-da-5001"),
        "b_device",
        "unknown device 'da-9999'",
    ),
    Case(
        "same-device-both-ends",
        Plant("links", "ln-pn-50", {"b_device": "core-1"}),
        "links.csv",
        _link("ln-pn-50"),
        "b_device",
        "both ends are 'core-1'",
    ),
    Case(
        "unknown-medium",
        Plant("links", "ln-pn-50", {"medium": "laser"}),
        "links.csv",
        _link("ln-pn-50"),
        "medium",
        "unknown medium 'laser' (expected one of: fiber,",
    ),
    Case(
        "capacity-with-unit",
        Plant("links", "ln-pn-50", {"capacity_bps": "10G"}),
        "links.csv",
        _link("ln-pn-50"),
        "capacity_bps",
        "capacity_bps '10G' is not a positive whole number",
    ),
    Case(
        "capacity-zero",
        Plant("links", "ln-pn-50", {"capacity_bps": "0"}),
        "links.csv",
        _link("ln-pn-50"),
        "capacity_bps",
        "capacity_bps '0' is not a positive whole number",
    ),
    Case(
        "capacity-negative",
        Plant("links", "ln-pn-50", {"capacity_bps": "-1"}),
        "links.csv",
        _link("ln-pn-50"),
        "capacity_bps",
        "capacity_bps '-1' is not",
    ),
    Case(
        "capacity-thai-digits",
        Plant("links", "ln-pn-50", {"capacity_bps": "๑๐๐"}),
        "links.csv",
        _link("ln-pn-50"),
        "capacity_bps",
        "capacity_bps '๑๐๐' is not",
    ),
    Case(
        "capacity-empty",
        Plant("links", "ln-pn-50", {"capacity_bps": ""}),
        "links.csv",
        _link("ln-pn-50"),
        "capacity_bps",
        "capacity_bps is required",
    ),
    Case(
        "no-a-interface",
        Plant("links", "ln-pn-50", {"a_interface": ""}),
        "links.csv",
        _link("ln-pn-50"),
        "a_interface",
        "a_interface is required",
    ),
    Case(
        "missing-link-column",
        Plant("links", drop_column="medium"),
        "links.csv",
        1,
        "header",
        "missing column: medium",
    ),
]


def _plant(plant: Plant) -> dict[str, tuple[Sequence[str], list[Row] | None]]:
    files: dict[str, tuple[Sequence[str], list[Row] | None]] = {
        name: (columns, [dict(row) for row in rows]) for name, (columns, rows) in _FILES.items()
    }
    columns, rows = files[plant.file]
    assert rows is not None
    if plant.record is not None:
        row = next(r for r in rows if next(iter(r.values())) == plant.record)
        row.update(plant.changes)
    if plant.append is not None:
        rows.append(dict(plant.append))
    if plant.drop_column is not None:
        columns = [c for c in columns if c != plant.drop_column]
        rows = [{k: v for k, v in r.items() if k != plant.drop_column} for r in rows]
    if plant.extra_column is not None:
        columns = [*columns, plant.extra_column]
        rows = [{**r, plant.extra_column: "เพิ่ม"} for r in rows]
    files[plant.file] = (columns, None if plant.missing else rows)
    return files


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_planted_problem(case: Case, tmp_path: Path) -> None:
    folder = tmp_path / "inv"
    folder.mkdir()
    for name, (columns, rows) in _plant(case.plant).items():
        if rows is not None:
            write_csv(folder / f"{name}.csv", columns, rows)

    problems = validate(load_inventory(folder), known_credentials=CREDENTIALS)

    text = [str(p) for p in problems]
    prefix = f"{folder / case.file}:{case.line}: {case.field}: "
    matching = [p for p in problems if str(p).startswith(prefix) and case.message in p.message]
    assert len(matching) == 1, "\n".join(text)
    assert matching[0].severity is case.severity
    assert len(problems) == case.count, "\n".join(text)
    assert has_errors(problems) == (case.severity is Severity.ERROR or case.count > 1)


def test_baseline_is_clean(write_folder: WriteFolder) -> None:
    assert validate(load_inventory(write_folder()), known_credentials=CREDENTIALS) == []


def test_credentials_are_not_checked_without_a_config(write_folder: WriteFolder) -> None:
    devices = [
        dict(d, credential="from-nowhere") if d["profile"] == "router" else d for d in DEVICES
    ]
    result = load_inventory(write_folder(devices=devices))
    assert validate(result) == []
    assert {p.field for p in validate(result, known_credentials=CREDENTIALS)} == {"credential"}


def test_extra_profiles_are_snmp_profiles(write_folder: WriteFolder) -> None:
    devices = [
        dict(d, profile="ubiquiti-ap") if d["role"] == "access_point" and d["credential"] else d
        for d in DEVICES
    ]
    result = load_inventory(write_folder(devices=devices))
    assert [p.field for p in validate(result)] == ["profile", "profile"]
    assert validate(result, extra_profiles={"ubiquiti-ap"}) == []


def test_links_file_is_optional(write_folder: WriteFolder) -> None:
    result = load_inventory(write_folder(links=None))
    assert validate(result) == []
    assert result.inventory.links == {}


def test_every_problem_is_reported_in_file_order(write_folder: WriteFolder) -> None:
    sites = [dict(SITES[0], lat="99", province_code="99"), SITES[1], SITES[0]]
    devices = [*DEVICES[:-1], dict(DEVICES[-1], upstream="nope", address="1.2.3.999")]
    folder = write_folder(sites=sites, devices=devices)
    problems = validate(load_inventory(folder))
    assert [(Path(p.file).name, p.line, p.field) for p in problems] == [
        ("sites.csv", 2, "province_code"),
        ("sites.csv", 2, "lat"),
        ("sites.csv", 4, "site_id"),
        ("devices.csv", 10, "address"),  # the bad address keeps the row out; upstream unchecked
    ]


def test_broken_rows_do_not_cascade(write_folder: WriteFolder) -> None:
    """A rejected gateway is still known: its access points and link get no extra errors."""
    devices = [dict(d, role="gateway") if d["device_id"] == "S-1-gw" else d for d in DEVICES]
    problems = validate(load_inventory(write_folder(devices=devices)))
    assert [(p.line, p.field) for p in problems] == [(line_of(DEVICES, "S-1-gw"), "role")]


def test_unreadable_sites_file_does_not_cascade(write_folder: WriteFolder) -> None:
    folder = write_folder()
    (folder / "sites.csv").write_bytes("site_id,name\nS-1,บ้าน\n".encode("cp874"))
    problems = validate(load_inventory(folder))
    assert [str(p).split(" (")[0] for p in problems] == [
        f"{folder / 'sites.csv'}:2: encoding: not UTF-8"
    ]


def test_problem_str_is_file_line_field_message() -> None:
    from inventory import Problem

    assert str(Problem("inv/sites.csv", 7, "lat", "lat 99.0 is outside Thailand")) == (
        "inv/sites.csv:7: lat: lat 99.0 is outside Thailand"
    )
    warning = Problem("d.csv", 3, "credential", "ignored", Severity.WARNING)
    assert str(warning) == "d.csv:3: credential: warning: ignored"
    assert not warning.is_error
