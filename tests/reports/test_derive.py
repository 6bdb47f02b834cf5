"""The one site/link rule: table of cases, agreement with ``pubnet_site_up`` as exported,
and the incremental state against a from-scratch derivation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporters.prometheus.inventory_metrics import InventoryMetrics
from inventory.model import Device, Inventory, Link, Medium, Role, Site, SiteKind
from pubnet.derive import (
    Derivation,
    DerivedState,
    ElementKind,
    Health,
    SiteMembers,
    link_health,
    site_health,
)
from pubnet.model import PollStatus, Source
from pubnet.state import StateStore

U, D, N = Health.UP, Health.DOWN, Health.UNKNOWN


@pytest.mark.parametrize(
    ("gateways", "aps", "others", "expected"),
    [
        ((U,), (U, D), (), U),
        ((U,), (D, D), (), D),
        ((D,), (U,), (), D),
        ((U,), (), (), U),
        ((D,), (), (), D),
        ((N,), (), (), N),
        ((U,), (N, N), (), N),
        ((N,), (D,), (), D),
        ((N,), (U,), (), N),
        ((U,), (N, D), (), D),
        ((), (U,), (), U),
        ((), (), (D, U), U),
        ((), (), (D,), D),
        ((), (), (), N),
    ],
    ids=["gw-up-one-ap", "aps-dark", "gw-down", "no-aps-up", "no-aps-down", "never-heard",
         "aps-unheard", "gw-unheard-ap-down", "gw-unheard-ap-up", "ap-unheard-other-down",
         "no-gateway", "others-any-up", "others-down", "no-devices"],
)
def test_site_rule(gateways: tuple[Health, ...], aps: tuple[Health, ...],
                   others: tuple[Health, ...], expected: Health) -> None:
    health = {f"g{i}": h for i, h in enumerate(gateways)}
    health |= {f"a{i}": h for i, h in enumerate(aps)}
    health |= {f"o{i}": h for i, h in enumerate(others)}
    members = SiteMembers("S", tuple(f"g{i}" for i in range(len(gateways))),
                          tuple(f"a{i}" for i in range(len(aps))),
                          tuple(f"o{i}" for i in range(len(others))))
    assert site_health(members, health.__getitem__) is expected


@pytest.mark.parametrize(
    ("device", "oper", "expected"),
    [(U, 1.0, U), (U, 0.0, D), (D, 1.0, D), (N, None, N), (U, None, N), (N, 1.0, D)],
    ids=["up", "oper-down", "device-down", "never-read", "no-interface", "read-then-lost"],
)
def test_link_rule(device: Health, oper: float | None, expected: Health) -> None:
    assert link_health(device, oper) is expected


def _inventory() -> Inventory:
    inv = Inventory()
    for s in range(4):
        inv.sites[f"S{s}"] = Site(f"S{s}", f"site {s}", SiteKind.VILLAGE_WIFI, "50", "5001",
                                  "500101", f"v{s}", 18.0, 99.0)
    inv.devices["core"] = Device("core", "", Role.CORE, "10.0.0.1", None, "router", "c", "")
    devices = [("gw0", "S0", Role.SITE_GATEWAY), ("ap0a", "S0", Role.ACCESS_POINT),
               ("ap0b", "S0", Role.ACCESS_POINT), ("gw1", "S1", Role.SITE_GATEWAY),
               ("ap2", "S2", Role.ACCESS_POINT), ("x3", "S3", Role.DISTRICT_AGGREGATION)]
    for i, (dev, site, role) in enumerate(devices):
        inv.devices[dev] = Device(dev, site, role, f"10.0.1.{i}", None, "router", "c", "core")
    inv.links["L0"] = Link("L0", "core", "eth0", "gw0", "wan", Medium.FIBER, 10**9, "NT")
    return inv


STATUSES = [None, PollStatus.OK, PollStatus.TIMEOUT, PollStatus.AUTH_FAILED]
DEVICES = ["gw0", "ap0a", "ap0b", "gw1", "ap2", "x3", "core"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(DEVICES), st.sampled_from(STATUSES)), max_size=30))
def test_incremental_agrees_with_exporter(steps: list[tuple[str, PollStatus | None]]) -> None:
    """After any sequence of status changes the incremental state equals a derivation from
    scratch, and (for the statuses a store can hold) a site is UP exactly where the
    exporter's ``pubnet_site_up`` is 1."""
    inv = _inventory()
    derivation = Derivation(inv)
    state = DerivedState(derivation)
    current: dict[str, PollStatus | None] = {}
    for ts, (device, status) in enumerate(steps):
        state.set_device(device, status, float(ts))
        current[device] = status
    fresh = DerivedState(derivation)
    for device, status in current.items():
        fresh.set_device(device, status, 0.0)
    assert dict(state.sites()) == dict(fresh.sites())
    assert dict(state.links()) == dict(fresh.links())

    store = StateStore()
    stored = DerivedState(derivation)
    for ts, (device, status) in enumerate(steps):
        if status is not None:  # a store never goes back to "no status"
            store.set_status(device, status, float(ts), Source.SNMP)
            stored.set_device(device, status, float(ts))
    exported = {}
    metrics = InventoryMetrics(inv, store)
    metrics.recompute()
    for line in b"".join(metrics.site_up()).decode().splitlines():
        exported[line.split('site="')[1].split('"')[0]] = line.endswith(" 1")
    for site_id in inv.sites:
        assert (stored.site(site_id) is Health.UP) == exported[site_id], site_id


def test_changes_name_the_site_and_link_they_cause() -> None:
    state = DerivedState(Derivation(_inventory()))
    # read before the device's first status: observed, and down until the device answers
    assert [(c.element, c.current) for c in state.set_interface("core", "eth0", 1.0, 1.0)] == [
        ("L0", D)]
    first = state.set_device("core", PollStatus.OK, 2.0)
    assert [(c.kind, c.element, c.previous, c.current) for c in first] == [
        (ElementKind.DEVICE, "core", N, U), (ElementKind.LINK, "L0", D, U)]
    state.set_device("gw0", PollStatus.OK, 3.0)
    changes = state.set_device("ap0a", PollStatus.OK, 4.0)
    assert [(c.kind, c.element, c.current) for c in changes] == [
        (ElementKind.DEVICE, "ap0a", U), (ElementKind.SITE, "S0", U)]
    assert [c.element for c in state.set_device("ap0b", PollStatus.TIMEOUT, 5.0)] == ["ap0b"]
    down = state.set_device("ap0a", PollStatus.UNREACHABLE, 6.0)
    assert (down[-1].element, down[-1].previous, down[-1].current) == ("S0", U, D)
    assert [(c.element, c.current) for c in state.set_interface("core", "eth0", 0.0, 7.0)] == [
        ("L0", D)]
    gone = state.forget_all(8.0)
    assert {(c.element, c.current) for c in gone if c.kind is not ElementKind.DEVICE} == {
        ("S0", N), ("L0", N)}
