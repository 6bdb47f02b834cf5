"""The generator: deterministic, valid, and shaped like the national network."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from inventory import Inventory, Medium, Role, Topology, generate, load_inventory, validate
from inventory.generate import CORE_NODES
from inventory.geography import THAILAND_BBOX, provinces
from inventory.writer import write_inventory

from .conftest import CREDENTIALS

FILES = ("sites.csv", "devices.csv", "links.csv")


def _files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    write_inventory(generate(300, seed=7), tmp_path / "a")
    write_inventory(generate(300, seed=7), tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    text = (tmp_path / "a" / "sites.csv").read_bytes()
    assert not text.startswith(b"\xef\xbb\xbf") and b"\r\n" not in text


def test_different_seeds_differ(tmp_path: Path) -> None:
    write_inventory(generate(300, seed=1), tmp_path / "a")
    write_inventory(generate(300, seed=2), tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert all(a[name] != b[name] for name in FILES)


@pytest.fixture(scope="module", params=[77, 500, 2000], ids=lambda n: f"{n}-sites")
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, Inventory, Path]:
    sites: int = request.param
    folder = tmp_path_factory.mktemp(f"gen{sites}")
    inventory = generate(sites, seed=sites)
    write_inventory(inventory, folder)
    return sites, inventory, folder


def test_generated_inventory_validates(generated: tuple[int, Inventory, Path]) -> None:
    sites, inventory, folder = generated
    result = load_inventory(folder)
    assert validate(result, known_credentials=CREDENTIALS) == []
    assert len(result.inventory.sites) == sites
    assert result.inventory.devices == inventory.devices
    assert result.inventory.sites == inventory.sites


def test_every_province_has_sites(generated: tuple[int, Inventory, Path]) -> None:
    _, inventory, _ = generated
    assert {s.province_code for s in inventory.sites.values()} == {p.code for p in provinces()}


def test_network_shape(generated: tuple[int, Inventory, Path]) -> None:
    sites, inv, _ = generated
    devices = inv.devices
    roles = Counter(d.role for d in devices.values())
    assert roles[Role.CORE] == len(CORE_NODES)
    assert roles[Role.PROVINCIAL_NODE] == 77
    assert roles[Role.SITE_GATEWAY] == sites
    assert sites <= roles[Role.ACCESS_POINT] <= 2 * sites
    for device in devices.values():
        up = devices.get(device.upstream)
        if device.role is Role.ACCESS_POINT:
            assert up is not None and up.role is Role.SITE_GATEWAY
            assert up.site_id == device.site_id
        elif device.role is Role.SITE_GATEWAY:
            assert up is not None and up.role is Role.DISTRICT_AGGREGATION
            assert inv.sites[up.site_id].district_code == inv.sites[device.site_id].district_code
        elif device.role is Role.DISTRICT_AGGREGATION:
            assert up is not None and up.role is Role.PROVINCIAL_NODE
            assert up.device_id == f"pn-{inv.sites[device.site_id].province_code}"
        elif device.role is Role.PROVINCIAL_NODE:
            assert up is not None and up.role is Role.CORE
    assert len({d.address for d in devices.values()}) == len(devices)
    topology = Topology.build(inv)
    assert topology.find_cycles() == []
    assert {
        len(topology.path_to_root(d)) for d, x in devices.items() if x.role is Role.ACCESS_POINT
    } == {5}


def test_links_follow_the_tree(generated: tuple[int, Inventory, Path]) -> None:
    _, inv, _ = generated
    topology = Topology.build(inv)
    downstream = {topology.link_downstream_root(link_id) for link_id in inv.links}
    non_core = {d for d, x in inv.devices.items() if x.role is not Role.CORE}
    assert downstream == non_core  # one link up from every device below the cores
    for link in inv.links.values():
        assert link.owner == "NT"
        assert inv.devices[link.b_device].upstream == link.a_device
        role = inv.devices[link.b_device].role
        if role is Role.PROVINCIAL_NODE:
            assert link.medium is Medium.FIBER and link.capacity_bps in (10**10, 10**11)
        elif role is Role.DISTRICT_AGGREGATION:
            assert 10**9 <= link.capacity_bps <= 10**10
        elif role is Role.SITE_GATEWAY:
            assert 20 * 10**6 <= link.capacity_bps <= 10**9
            assert link.medium in (Medium.FIBER, Medium.MICROWAVE, Medium.SATELLITE)
        else:
            assert link.medium is Medium.COPPER and link.a_interface != "ge-0/0/0"
    # a device's downlinks use distinct interfaces
    ports = Counter((k.a_device, k.a_interface) for k in inv.links.values())
    assert max(ports.values()) == 1


def test_sites_are_in_thailand_and_named_in_thai(generated: tuple[int, Inventory, Path]) -> None:
    _, inv, _ = generated
    for site in inv.sites.values():
        assert THAILAND_BBOX.contains(site.lat, site.lon)
        assert site.village.startswith("บ้าน") and " หมู่ " in site.village
        assert site.subdistrict_code.startswith(site.district_code)
        assert site.district_code.startswith(site.province_code)
        assert site.province_name_th and site.subdistrict_name_en


def test_small_and_empty_inventories() -> None:
    inv = generate(5, seed=1)
    assert len(inv.sites) == 5
    assert len(generate(0, seed=1).sites) == 0
    with pytest.raises(ValueError, match="sites must be 0 or more"):
        generate(-1, seed=1)
