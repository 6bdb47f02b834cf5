"""Root cause through the topology: one incident per highest failed element."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.correlate import Correlator
from alerting.impact import AlertTopology
from alerting.model import Kind, Severity, State
from inventory.topology import Topology
from tests.alerting.builders import ROUTER_AND_GATEWAYS, district_inventory


def make() -> Correlator:
    inv = district_inventory()
    topo = AlertTopology(inv, Topology.build(inv))
    counter = itertools.count(1)
    return Correlator(topo, lambda: f"INC-{next(counter)}")


def open_incidents(c: Correlator) -> list:
    return [i for i in c.incidents.values() if i.is_open]


@pytest.mark.parametrize(
    "order",
    [ROUTER_AND_GATEWAYS, tuple(reversed(ROUTER_AND_GATEWAYS))],
    ids=["router-first", "gateways-first"],
)
def test_router_and_gateways_make_one_incident(order: tuple[str, ...]) -> None:
    c = make()
    for n, dev in enumerate(order):
        c.set_down(f"device:{dev}", 100.0 + n)
        c.reconcile(200.0 + n)  # separate passes: later roots must absorb earlier ones
    incidents = open_incidents(c)
    assert len(incidents) == 1
    (inc,) = incidents
    assert inc.root == "device:da-5001"
    assert inc.kind is Kind.DEVICE_DOWN
    assert inc.severity is Severity.MAJOR
    assert inc.members == {f"device:{d}" for d in ROUTER_AND_GATEWAYS}
    impact = c.topology.impact(inc.root)
    assert impact.sites == {"S-1", "S-2", "S-3"}
    assert len(impact.devices) == 6  # router, 3 gateways, 2 access points
    # the pending gateway incidents were dropped, not kept as closed records
    assert all(i.is_open for i in c.incidents.values())


def test_root_recovery_leaves_still_dead_child_as_own_incident() -> None:
    c = make()
    for dev in ROUTER_AND_GATEWAYS:
        c.set_down(f"device:{dev}", 100.0)
    c.reconcile(100.0)
    (root,) = open_incidents(c)
    c.update(replace(root, state=State.FIRING, announced_at=150.0))  # it was sent
    for dev in ("da-5001", "S-1-gw", "S-3-gw"):
        c.set_up(f"device:{dev}", 300.0)
    result = c.reconcile(300.0)
    assert root.incident_id in result.changed
    assert c.incidents[root.incident_id].state is State.RESOLVED
    assert c.incidents[root.incident_id].resolved_at == 300.0
    still = open_incidents(c)
    assert [i.root for i in still] == ["device:S-2-gw"]
    assert still[0].kind is Kind.SITE_DOWN
    assert still[0].started_at == 100.0  # since the gateway really went down
    assert still[0].created_at == 300.0  # group wait counts from its own creation


def test_link_cut_is_root_of_everything_behind_it() -> None:
    c = make()
    c.set_down("link:ln-da-5001", 50.0)
    c.reconcile(50.0)
    for dev in ROUTER_AND_GATEWAYS:
        c.set_down(f"device:{dev}", 60.0)
    c.reconcile(60.0)
    (inc,) = open_incidents(c)
    assert inc.members == {"link:ln-da-5001"} | {f"device:{d}" for d in ROUTER_AND_GATEWAYS}
    assert inc.root == "link:ln-da-5001"
    assert inc.kind is Kind.LINK_DOWN
    assert c.topology.impact(inc.root).sites == {"S-1", "S-2", "S-3"}


@pytest.mark.parametrize(("link", "severity"), [
    ("ln-S-2-ap1", Severity.MINOR),  # an access point's role says warning: floored at minor
    ("ln-S-1-gw", Severity.MINOR),
    ("ln-da-5001", Severity.MAJOR),
    ("ln-pn-50", Severity.CRITICAL),
], ids=["access-point-floored", "gateway", "district-router", "provincial-node"])
def test_a_link_outage_is_at_least_minor(link: str, severity: Severity) -> None:
    assert make().topology.classify(f"link:{link}") == (Kind.LINK_DOWN, severity)


def test_severities_rank_as_listed() -> None:
    assert sorted(Severity, key=lambda s: s.rank) == [
        Severity.INFO, Severity.WARNING, Severity.MINOR, Severity.MAJOR, Severity.CRITICAL]


def test_all_access_points_dark_is_a_site_incident() -> None:
    c = make()
    c.set_down("device:S-2-ap1", 10.0)
    c.reconcile(10.0)
    assert [i.root for i in open_incidents(c)] == ["device:S-2-ap1"]
    c.set_down("device:S-2-ap2", 11.0)
    c.reconcile(11.0)
    (inc,) = open_incidents(c)
    assert inc.root == "site:S-2"
    assert inc.kind is Kind.SITE_DOWN
    c.set_up("device:S-2-ap1", 20.0)
    c.reconcile(20.0)
    assert [i.root for i in open_incidents(c)] == ["device:S-2-ap2"]


def test_provincial_node_location_comes_from_its_sites() -> None:
    c = make()
    loc = c.topology.location("device:pn-50")
    assert loc.province_code == "50"
    assert loc.district_code == ""  # two districts below it
    assert c.topology.location("device:da-5002").district_code == "5002"


def test_flapping_replaces_the_outage_incident() -> None:
    c = make()
    c.set_down("device:S-4-gw", 10.0)
    c.reconcile(10.0)
    flap_id = c.start_flapping("device:S-4-gw", 20.0, down=True)
    c.reconcile(20.0)
    (inc,) = open_incidents(c)
    assert inc.incident_id == flap_id and inc.kind is Kind.FLAPPING
    c.set_up("device:S-4-gw", 25.0)
    c.set_down("device:S-4-gw", 26.0)
    c.reconcile(26.0)
    assert [i.incident_id for i in open_incidents(c)] == [flap_id]
    c.stop_flapping("device:S-4-gw", 100.0)
    c.reconcile(100.0)
    (after,) = open_incidents(c)
    assert after.kind is Kind.SITE_DOWN and after.root == "device:S-4-gw"


def test_conditions_open_once_and_clear() -> None:
    c = make()
    first = c.raise_condition(Kind.DEVICE_REBOOTED, "device:S-4-gw", 5.0, Severity.WARNING)
    assert first is not None
    assert c.raise_condition(Kind.DEVICE_REBOOTED, "device:S-4-gw", 6.0, Severity.WARNING) is None
    c.clear_condition(Kind.DEVICE_REBOOTED, "device:S-4-gw", 7.0)
    assert open_incidents(c) == []


def test_pending_child_recovering_is_dropped_silently() -> None:
    c = make()
    c.set_down("device:S-4-gw", 10.0)
    first = c.reconcile(10.0)
    assert len(first.changed) == 1
    c.set_up("device:S-4-gw", 12.0)
    second = c.reconcile(12.0)
    assert second.dropped == first.changed
    assert c.incidents == {}


ELEMENTS = sorted(
    [f"device:{d}" for d in district_inventory().devices]
    + [f"link:{ln}" for ln in district_inventory().links]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ELEMENTS), st.booleans()), max_size=60),
       st.lists(st.integers(0, 59), max_size=10))
def test_every_down_element_has_exactly_one_root_incident(
    events: list[tuple[str, bool]], passes: list[int],
) -> None:
    c = make()
    stops = set(passes)
    for n, (element, down) in enumerate(events):
        if down:
            c.set_down(element, float(n))
        else:
            c.set_up(element, float(n))
        if n in stops:  # reconcile after some events only: batches of any size
            c.reconcile(float(n))
    c.reconcile(1000.0)
    opened = [i for i in c.incidents.values() if i.is_open]
    roots = [i.root for i in opened]
    assert len(roots) == len(set(roots)), "one incident per root"
    for inc in opened:
        assert inc.root in c.down
        assert c.topology.root_of(inc.root, c.down) == inc.root, "the root is the highest"
        assert c.topology.impact(inc.root).devices  # something is cut off
    members = [m for inc in opened for m in inc.members]
    assert sorted(members) == sorted(c.down), "every down element in exactly one incident"
    for inc in opened:
        for member in inc.members:
            assert c.topology.root_of(member, c.down) == inc.root
