"""What alerting keeps per device while nothing fails, and how it walks chains lazily.

Issue 15 asks for 100,000 devices in 2 GB for the whole service. Alerting used to lay out
every element's chain at start and keep a record per counter reading (~1,900 bytes per
device at 20,000 devices); what fails is worked out when it fails, and readings are kept
in one array (~370 bytes per device).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from alerting.correlate import Correlator
from alerting.detect import Sustained, Transition
from alerting.impact import AlertTopology
from alerting.intake import Intake
from alerting.model import Kind
from alerting.readings import Condition, LinkEvent, ReadingWatch
from inventory.generate import generate
from inventory.model import Device, Inventory, Role
from inventory.topology import Topology
from pubnet import catalog
from pubnet.config import AlertingConfig, ThresholdSettings
from pubnet.derive import Derivation
from pubnet.model import Attempt, Batch, Observation, PollStatus, Source
from tests.alerting.builders import district_inventory
from tests.memory import kept_by

COUNTERS = (catalog.IF_RX_BYTES, catalog.IF_TX_BYTES, catalog.IF_RX_ERRORS, catalog.IF_TX_ERRORS)
RADIOS = ((("radio", "ng"), ("vap", "ath0")), (("radio", "na"), ("vap", "ath1")))


def poll_round(inventory: Inventory, ts: float) -> list[Batch]:
    """What the store delivers to alerting for one poll of every device, all up: the
    interfaces its links name (either end) and one more, clients per radio of APs."""
    names: dict[str, list[str]] = {}
    for link in inventory.links.values():
        names.setdefault(link.a_device, []).append(link.a_interface)
        names.setdefault(link.b_device, []).append(link.b_interface)
    batches = []
    for device in inventory.devices.values():
        obs = []
        for ifname in [*names.get(device.device_id, []), "lo0"]:
            labels = (("ifname", ifname),)
            obs.append(Observation(device.device_id, catalog.IF_OPER_UP, 1.0, ts, Source.SNMP,
                                   labels))
            obs += [Observation(device.device_id, metric, ts * 1000.0, ts, Source.SNMP, labels)
                    for metric in COUNTERS]
        if device.role is Role.ACCESS_POINT:
            obs += [Observation(device.device_id, catalog.AP_CLIENTS, 3.0, ts, Source.SNMP, radio)
                    for radio in RADIOS]
        batches.append(Batch(tuple(obs), (Attempt(device.device_id, PollStatus.OK, ts,
                                                  Source.SNMP),)))
    return batches


def kept(build: Callable[[], object]) -> int:
    """Bytes still allocated after ``build`` returns, what it returns included."""
    return kept_by(build)[1]


def test_alert_topology_indexes_under_120_bytes_per_device() -> None:
    """Only the link to each device's upstream and the access points of each site are
    indexed up front (~50 bytes per device); chains were ~860 bytes per device."""
    inventory = generate(sites=400, seed=1)
    topology = Topology.build(inventory)
    per_device = kept(lambda: AlertTopology(inventory, topology)) / len(inventory.devices)
    assert per_device < 120, per_device


def test_alerting_keeps_under_600_bytes_per_device_after_two_polls() -> None:
    """The correlator, its topology and the intake after every device was polled twice
    (counter rates need two readings); the observations belong to the store, and the
    inventory's derivation to the app (one for every component)."""
    inventory = generate(sites=400, seed=1)
    topology = Topology.build(inventory)
    derivation = Derivation(inventory)
    rounds = [poll_round(inventory, 1_780_000_000.0 + 60.0 * n) for n in range(2)]
    numbers = itertools.count(1)

    def build() -> Intake:
        correlator = Correlator(AlertTopology(inventory, topology),
                                lambda: f"INC-{next(numbers)}")
        intake = Intake(AlertingConfig(), inventory, correlator, lambda: 0.0, derivation)
        for batches in rounds:
            for batch in batches:
                intake.ingest(batch)
        correlator.reconcile(1_780_000_120.0)
        return intake

    per_device = kept(build) / len(inventory.devices)
    assert per_device < 600, per_device


def test_chain_is_worked_out_when_asked_and_is_the_path_to_the_core() -> None:
    """Nothing is laid out at start; a chain asked for reuses the cached chain above."""
    inventory = district_inventory()
    topo = AlertTopology(inventory, Topology.build(inventory))
    assert topo.chain("device:S-2-gw") == (
        "link:ln-S-2-gw", "device:da-5001", "link:ln-da-5001", "device:pn-50",
        "link:ln-pn-50", "device:core-1")
    assert topo.chain("device:S-2-ap1") == (
        "link:ln-S-2-ap1", "site:S-2", "device:S-2-gw", *topo.chain("device:S-2-gw"))
    assert topo.root_of("device:S-2-ap1", {"device:S-2-ap1", "device:da-5001"}) == (
        "device:da-5001")
    assert topo.link_ends("ln-S-2-ap1") == ("S-2-gw", "S-2-ap1")
    assert topo.link_ends("nope") is None


def test_chain_in_an_upstream_cycle_stops_before_repeating() -> None:
    """An inventory with an upstream cycle is rejected by validation; should one reach
    alerting anyway, a chain still ends, without repeating an element (it used to run to
    64 entries, the cycle over and over)."""
    inventory = district_inventory()
    for device_id, upstream in (("cyc-a", "cyc-b"), ("cyc-b", "cyc-a"), ("cyc-c", "cyc-a")):
        inventory.devices[device_id] = Device(device_id, "", Role.SITE_GATEWAY, "127.0.0.1",
                                              None, "router", "c", upstream)
    topo = AlertTopology(inventory, Topology.build(inventory))
    below = topo.chain("device:cyc-c")
    assert below == ("device:cyc-a", "device:cyc-b")
    for element in ("device:cyc-a", "device:cyc-b"):
        chain = topo.chain(element)
        assert element not in chain
        assert len(set(chain)) == len(chain) <= 1
    assert topo.root_of("device:cyc-c", {"device:cyc-a", "device:cyc-c"}) == "device:cyc-a"


def test_sustained_holding_is_the_keys_that_hold_now() -> None:
    hold = Sustained(60.0)
    assert "k" not in hold.holding
    hold.update("k", True, 0.0)
    assert "k" in hold.holding  # holding, not raised yet
    assert hold.update("k", True, 60.0) is Transition.DOWN
    assert hold.update("k", False, 61.0) is Transition.UP
    assert "k" not in hold.holding


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    def link_changed(self, event: LinkEvent) -> None:
        self.seen.append(("link", (event.link_id, event.down)))

    def condition(self, condition: Condition) -> None:
        self.seen.append(("condition", (condition.kind, condition.element,
                                        condition.transition)))

    def other(self, obs: Observation) -> None:
        self.seen.append(("other", obs.metric))


def test_feed_reports_a_batch_in_the_order_of_its_readings() -> None:
    """The intake hands over whole batches; what they cause (link changes, conditions, a
    shard's liveness for the intake itself) comes back in reading order, as when readings
    were handed over one by one."""
    w = ReadingWatch(district_inventory(), ThresholdSettings.model_validate(
        {"errors_per_second": 1, "errors_for": 0}))
    ifname = (("ifname", "ge-0/0/1"),)

    def reading(metric: str, value: float, ts: float, labels: tuple[tuple[str, str], ...] = (
            ifname)) -> Observation:
        return Observation("da-5002", metric, value, ts, Source.SNMP, labels)

    sink = Recorder()
    w.feed([reading(catalog.IF_RX_ERRORS, 0.0, 0.0), reading(catalog.IF_OPER_UP, 0.0, 0.0)], sink)
    w.feed([
        reading(catalog.IF_RX_ERRORS, 600.0, 60.0),  # 10 errors/s: raised at once
        reading(catalog.SHARD_UP, 0.0, 60.0, (("shard", "1/2"),)),
        reading(catalog.IF_OPER_UP, 1.0, 60.0),
        reading(catalog.IF_OPER_UP, 1.0, 61.0, (("ifname", "ge-9/9/9"),)),  # judges no link
        reading(catalog.IF_RX_ERRORS, 600.0, 120.0),  # 0 errors/s: cleared
    ], sink)
    assert sink.seen == [
        ("link", ("ln-S-4-gw", True)),
        ("condition", (Kind.INTERFACE_ERRORS, "link:ln-S-4-gw", Transition.DOWN)),
        ("other", catalog.SHARD_UP),
        ("link", ("ln-S-4-gw", False)),
        ("condition", (Kind.INTERFACE_ERRORS, "link:ln-S-4-gw", Transition.UP)),
    ]


def test_quiet_access_point_counts_every_radio() -> None:
    """The clients of all radios add up: one radio at 0 is not a quiet access point."""
    w = ReadingWatch(district_inventory(), ThresholdSettings.model_validate(
        {"quiet_after": 600, "opening_hours": (0, 24)}))
    sink = Recorder()
    for n in range(4):
        w.feed([Observation("S-2-ap1", catalog.AP_CLIENTS, 0.0, n * 600.0, Source.SNMP, RADIOS[0]),
                Observation("S-2-ap1", catalog.AP_CLIENTS, 2.0, n * 600.0, Source.SNMP, RADIOS[1])],
               sink)
    assert sink.seen == []
    for n in range(4, 6):
        w.feed([Observation("S-2-ap1", catalog.AP_CLIENTS, 0.0, n * 600.0, Source.SNMP, radio)
                for radio in RADIOS], sink)
    assert sink.seen == [("condition", (Kind.QUIET_ACCESS_POINT, "device:S-2-ap1",
                                        Transition.DOWN))]


def test_flap_tracker_keeps_under_200_bytes_per_element_that_changed() -> None:
    """Over days nearly every device and link changes once; each keeps its recent change
    times (a deque per element was ~700 bytes)."""
    from alerting.detect import FlapTracker

    keys = [f"device:d-{n}" for n in range(2000)]

    def build() -> FlapTracker:
        flaps = FlapTracker(limit=6, window=600.0)
        for n, key in enumerate(keys):
            flaps.change(key, float(n))
        return flaps

    per_element = kept(build) / len(keys)
    assert per_element < 200, per_element


def test_access_points_back_up_leave_no_dark_set_behind() -> None:
    """A site whose access points went dark and came back keeps nothing (an empty set per
    such site would add up over a national fleet)."""
    inventory = district_inventory()
    correlator = Correlator(AlertTopology(inventory, Topology.build(inventory)),
                            lambda: "INC-1")
    correlator.set_down("device:S-2-ap1", 10.0)
    correlator.set_down("device:S-2-ap2", 10.0)
    assert correlator.is_down("site:S-2")
    correlator.set_up("device:S-2-ap1", 20.0)
    correlator.set_up("device:S-2-ap2", 20.0)
    assert not correlator.is_down("site:S-2")
    assert correlator._aps_down == {}
