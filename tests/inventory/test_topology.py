"""Paths to the root, downstream sets of devices and links, and upstream cycles."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from inventory import Device, Inventory, Link, Medium, Role, Site, SiteKind, Topology
from inventory.topology import find_cycles


def _site(site_id: str) -> Site:
    return Site(site_id, site_id, SiteKind.VILLAGE_WIFI, "50", "5001", "", "", 18.8, 98.9)


def _device(device_id: str, upstream: str, role: Role, site_id: str = "") -> Device:
    return Device(device_id, site_id, role, "10.0.0.1", None, "router", "c", upstream)


def _link(link_id: str, a: str, b: str) -> Link:
    return Link(link_id, a, "ge-0/0/0", b, "ge-0/0/1", Medium.FIBER, 10**9, "NT")


def _inventory(
    devices: Sequence[Device], links: Sequence[Link] = (), sites: Sequence[str] = ()
) -> Inventory:
    return Inventory(
        sites={s: _site(s) for s in sites},
        devices={d.device_id: d for d in devices},
        links={k.link_id: k for k in links},
    )


# core ─ pn ─ da (S1) ─┬─ gw1 (S1) ─┬─ ap1a
#                      │            └─ ap1b
#                      └─ gw2 (S2) ── ap2a
# core2 ─ pn2 (a second tree)
@pytest.fixture
def topology() -> Topology:
    devices = [
        _device("core", "", Role.CORE),
        _device("core2", "", Role.CORE),
        _device("pn", "core", Role.PROVINCIAL_NODE),
        _device("pn2", "core2", Role.PROVINCIAL_NODE),
        _device("da", "pn", Role.DISTRICT_AGGREGATION, "S1"),
        _device("gw1", "da", Role.SITE_GATEWAY, "S1"),
        _device("ap1a", "gw1", Role.ACCESS_POINT, "S1"),
        _device("gw2", "da", Role.SITE_GATEWAY, "S2"),
        _device("ap2a", "gw2", Role.ACCESS_POINT, "S2"),
        _device("ap1b", "gw1", Role.ACCESS_POINT, "S1"),  # listed out of order on purpose
    ]
    links = [
        _link("core-pn", "core", "pn"),
        _link("da-gw1", "da", "gw1"),
        _link("gw1-da-reversed", "gw1", "da"),  # written from the far end
        _link("ap-ap", "ap1a", "ap2a"),  # a cross-connect: neither end above the other
        _link("pn-pn2", "pn", "pn2"),  # between two trees
    ]
    return Topology.build(_inventory(devices, links, sites=("S1", "S2", "S3")))


@pytest.mark.parametrize(
    ("device", "path"),
    [
        ("ap1b", ["ap1b", "gw1", "da", "pn", "core"]),
        ("gw2", ["gw2", "da", "pn", "core"]),
        ("core", ["core"]),
        ("pn2", ["pn2", "core2"]),
    ],
    ids=["access-point", "gateway", "root", "second-tree"],
)
def test_path_to_root(topology: Topology, device: str, path: list[str]) -> None:
    assert topology.path_to_root(device) == path
    assert topology.depth(device) == len(path) - 1


@pytest.mark.parametrize(
    ("device", "devices", "sites"),
    [
        ("da", {"gw1", "ap1a", "ap1b", "gw2", "ap2a"}, {"S1", "S2"}),
        ("gw1", {"ap1a", "ap1b"}, {"S1"}),
        ("ap2a", set(), {"S2"}),
        ("core", {"pn", "da", "gw1", "ap1a", "ap1b", "gw2", "ap2a"}, {"S1", "S2"}),
        ("pn2", set(), set()),
    ],
    ids=["district", "gateway", "leaf", "core", "siteless-leaf"],
)
def test_downstream_of_a_device(
    topology: Topology, device: str, devices: set[str], sites: set[str]
) -> None:
    assert topology.downstream_devices(device) == devices
    assert topology.downstream_sites(device) == sites
    assert all(topology.is_upstream_of(device, d) for d in devices)
    assert not topology.is_upstream_of(device, device)


@pytest.mark.parametrize(
    ("link", "root", "devices", "sites"),
    [
        ("da-gw1", "gw1", {"gw1", "ap1a", "ap1b"}, {"S1"}),
        ("gw1-da-reversed", "gw1", {"gw1", "ap1a", "ap1b"}, {"S1"}),
        ("core-pn", "pn", {"pn", "da", "gw1", "ap1a", "ap1b", "gw2", "ap2a"}, {"S1", "S2"}),
        ("ap-ap", None, set(), set()),
        ("pn-pn2", None, set(), set()),
    ],
    ids=["b-is-downstream", "a-is-downstream", "backbone", "cross-connect", "between-trees"],
)
def test_downstream_of_a_link(
    topology: Topology, link: str, root: str | None, devices: set[str], sites: set[str]
) -> None:
    assert topology.link_downstream_root(link) == root
    assert topology.link_downstream_devices(link) == devices
    assert topology.link_downstream_sites(link) == sites


def test_children_parents_and_roots(topology: Topology) -> None:
    assert topology.children("gw1") == ("ap1a", "ap1b")
    assert topology.children("da") == ("gw1", "gw2")
    assert topology.children("ap1a") == ()
    assert topology.parent("gw1") == "da"
    assert topology.parent("core") is None
    assert topology.roots == ("core", "core2")


def test_site_devices(topology: Topology) -> None:
    assert topology.site_devices("S1") == ["da", "gw1", "ap1a", "ap1b"]
    assert topology.site_gateway("S1") == "gw1"
    assert topology.site_access_points("S1") == ["ap1a", "ap1b"]
    assert topology.site_gateway("S3") is None  # a site with no devices yet
    assert topology.site_access_points("S3") == []


def test_unknown_ids_raise_key_error(topology: Topology) -> None:
    with pytest.raises(KeyError):
        topology.path_to_root("nope")
    with pytest.raises(KeyError):
        topology.downstream_devices("nope")
    with pytest.raises(KeyError):
        topology.link_downstream_devices("nope")
    with pytest.raises(KeyError):
        topology.site_devices("nope")


def test_orphans_are_roots() -> None:
    topo = Topology.build(_inventory([_device("a", "missing", Role.ACCESS_POINT)]))
    assert topo.roots == ("a",)
    assert topo.path_to_root("a") == ["a"]
    assert topo.find_cycles() == []


@pytest.mark.parametrize(
    ("upstream", "cycles"),
    [
        ({"a": "b", "b": "c", "c": "a"}, [["a", "b", "c"]]),
        ({"b": "c", "c": "a", "a": "b"}, [["b", "c", "a"]]),  # starts at the first listed
        ({"a": "a"}, [["a"]]),
        ({"x": "a", "a": "b", "b": "a", "y": "x", "c": "c", "r": ""}, [["a", "b"], ["c"]]),
        ({"a": "b", "b": "c", "c": ""}, []),
        ({"a": "ghost"}, []),
    ],
    ids=["triangle", "rotation", "self-loop", "two-cycles-with-tails", "chain", "dangling"],
)
def test_find_cycles(upstream: dict[str, str], cycles: list[list[str]]) -> None:
    assert find_cycles(upstream) == cycles
    devices = [_device(d, up, Role.ACCESS_POINT) for d, up in upstream.items()]
    assert Topology.build(_inventory(devices)).find_cycles() == cycles


def test_cycle_members_get_terminating_answers() -> None:
    devices = [
        _device("core", "", Role.CORE),
        _device("a", "c", Role.SITE_GATEWAY),
        _device("b", "a", Role.SITE_GATEWAY),
        _device("c", "b", Role.SITE_GATEWAY),
        _device("tail", "a", Role.ACCESS_POINT),
    ]
    topo = Topology.build(_inventory(devices))
    assert topo.find_cycles() == [["a", "c", "b"]]
    assert topo.path_to_root("tail") == ["tail", "a", "c", "b"]
    assert topo.downstream_devices("a") == {"b", "c", "tail"}
    assert topo.depth("tail") == 3


def test_deep_chains_need_no_recursion() -> None:
    depth = 20_000  # far beyond the recursion limit
    devices = [_device("d0", "", Role.CORE)]
    devices += [_device(f"d{i}", f"d{i - 1}", Role.ACCESS_POINT) for i in range(1, depth)]
    topo = Topology.build(_inventory(devices))
    assert len(topo.path_to_root(f"d{depth - 1}")) == depth
    assert len(topo.downstream_devices("d0")) == depth - 1
    assert topo.is_upstream_of("d10", f"d{depth - 1}")
    assert topo.find_cycles() == []
    assert find_cycles({d.device_id: d.upstream for d in devices}) == []
    looped = [*devices[1:], _device("d0", f"d{depth - 1}", Role.ACCESS_POINT)]
    assert [len(c) for c in find_cycles({d.device_id: d.upstream for d in looped})] == [depth]
