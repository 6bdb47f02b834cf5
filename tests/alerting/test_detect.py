"""Detection trackers: attempts, flapping, sustained thresholds, reboots, quiet APs."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from alerting.correlate import Correlator
from alerting.detect import (
    AttemptCounter,
    FlapTracker,
    Sustained,
    Transition,
    opening_start,
)
from alerting.impact import AlertTopology
from alerting.intake import Intake
from alerting.model import Kind
from alerting.readings import ReadingWatch
from inventory.topology import Topology
from pubnet.config import AlertingConfig, ThresholdSettings
from pubnet.model import Attempt, Batch, Observation, PollStatus, Source
from tests.alerting.builders import district_inventory
from tests.memory import kept_by


@given(st.integers(1, 6), st.lists(st.booleans(), max_size=40))
def test_down_exactly_after_n_consecutive_failures(down_after: int, results: list[bool]) -> None:
    counter = AttemptCounter(down_after)
    down = False
    run = 0
    for n, ok in enumerate(results):
        got = counter.attempt("d", ok, float(n))
        run = 0 if ok else run + 1
        if not down and run >= down_after:
            assert got is Transition.DOWN
            down = True
        elif down and ok:
            assert got is Transition.UP
            down = False
        else:
            assert got is None
        assert counter.is_down("d") == down


def test_down_since_is_the_first_failed_attempt_of_the_run() -> None:
    counter = AttemptCounter(2)
    assert counter.attempt("d", False, 10.0) is None
    assert counter.failures("d") == 1
    assert counter.attempt("d", False, 11.0) is Transition.DOWN
    assert counter.down_since("d") == 10.0
    assert counter.attempt("d", True, 12.0) is Transition.UP
    assert counter.down_since("d") is None
    assert counter.attempt("d", False, 13.0) is None
    assert counter.down_since("d") == 13.0


def test_immediate_attempt_confirms_at_once() -> None:
    counter = AttemptCounter(5)
    assert counter.attempt("m", False, 1.0, immediate=True) is Transition.DOWN


def test_flapping_starts_above_limit_and_ends_after_quiet_window() -> None:
    flaps = FlapTracker(limit=3, window=60.0)
    assert [flaps.change("x", t) for t in (0.0, 10.0, 20.0)] == [None, None, None]
    assert flaps.change("x", 30.0) is Transition.DOWN
    assert flaps.change("x", 35.0) is None  # once
    assert flaps.expire(90.0) == []  # last change 55 s ago
    assert flaps.expire(95.1) == ["x"]
    assert not flaps.is_flapping("x")


def test_slow_changes_never_flap() -> None:
    flaps = FlapTracker(limit=3, window=60.0)
    assert all(flaps.change("x", t * 30.0) is None for t in range(20))


def test_sustained_needs_duration_and_clears_once() -> None:
    hold = Sustained(100.0)
    assert hold.update("k", True, 0.0) is None
    assert hold.update("k", True, 99.0) is None
    assert hold.update("k", True, 100.0) is Transition.DOWN
    assert hold.update("k", True, 150.0) is None
    assert hold.update("k", False, 160.0) is Transition.UP
    assert hold.update("k", False, 170.0) is None
    assert hold.update("k", True, 180.0) is None  # starts over


def bangkok(hour: int, minute: int = 0) -> float:
    # 2026-11-26 hh:mm in Thailand is hh-7 UTC
    return datetime(2026, 11, 26, hour, minute, tzinfo=UTC).timestamp() - 7 * 3600


def test_opening_hours_are_thailand_time() -> None:
    assert opening_start(bangkok(7, 59), (8, 20)) is None
    assert opening_start(bangkok(12), (8, 20)) == bangkok(8)
    assert opening_start(bangkok(20), (8, 20)) is None


def watch(**settings: float) -> ReadingWatch:
    return ReadingWatch(district_inventory(), ThresholdSettings.model_validate(settings))


def obs(device: str, metric: str, value: float, ts: float, ifname: str | None = None) -> (
    Observation
):
    labels = (("ifname", ifname),) if ifname else ()
    return Observation(device, metric, value, ts, Source.SNMP, labels)


def test_link_utilisation_above_threshold_for_duration() -> None:
    w = watch(utilisation=0.8, utilisation_for=120)
    # ln-S-4-gw: 100 Mbit/s, watched on da-5002 ge-0/0/1
    metric = "pubnet_interface_transmit_bytes_total"
    events = []
    total = 0.0
    for minute in range(6):
        events += w.observe(obs("da-5002", metric, total, minute * 60.0, "ge-0/0/1"))
        total += 90e6 / 8 * 60  # 90 Mbit/s
    assert [(e.kind, e.transition, e.element) for e in events] == [
        (Kind.LINK_UTILISATION, Transition.DOWN, "link:ln-S-4-gw")]
    assert "90%" in events[0].detail
    cleared = w.observe(obs("da-5002", metric, total + 1e6, 400.0, "ge-0/0/1"))
    assert [e.transition for e in cleared] == [Transition.UP]


def test_interface_errors_and_unwatched_interfaces() -> None:
    w = watch(errors_per_second=2, errors_for=60)
    metric = "pubnet_interface_receive_errors_total"
    got = []
    for n in range(4):
        got += w.observe(obs("da-5002", metric, n * 300.0, n * 60.0, "ge-0/0/1"))
        got += w.observe(obs("da-5002", metric, n * 300.0, n * 60.0, "ge-9/9/9"))
    assert [(e.kind, e.element) for e in got] == [(Kind.INTERFACE_ERRORS, "link:ln-S-4-gw")]


def test_quiet_access_point_only_in_opening_hours() -> None:
    w = watch(quiet_after=3600, opening_hours=(8, 20))
    got = []
    for hour in range(4, 12):
        got += w.observe(obs("S-2-ap1", "pubnet_ap_clients", 0.0, bangkok(hour)))
    # zero since 04:00, but only the hours from 08:00 count: raised at 09:00
    assert [(e.kind, e.ts) for e in got] == [(Kind.QUIET_ACCESS_POINT, bangkok(9))]
    back = w.observe(obs("S-2-ap1", "pubnet_ap_clients", 3.0, bangkok(12)))
    assert [e.transition for e in back] == [Transition.UP]


def intake(down_after: int = 2) -> tuple[Intake, Correlator]:
    inventory = district_inventory()
    config = AlertingConfig.model_validate({"down_after": down_after,
                                            "thresholds": {"reboot_clear": 300}})
    correlator = Correlator(AlertTopology(inventory, Topology.build(inventory)),
                            iter(f"INC-{n}" for n in range(1, 100)).__next__)
    return Intake(config, inventory, correlator, lambda: 0.0), correlator


def attempt(ok: bool, ts: float, *, rebooted: bool = False, at_once: bool = False,
            previous: PollStatus | None = PollStatus.OK) -> Batch:
    status = PollStatus.OK if ok else PollStatus.TIMEOUT
    return Batch(attempts=(Attempt("S-3-gw", status, ts, Source.SNMP, "uptime 5000s -> 3s"
                                   if rebooted else "", at_once, rebooted, previous),))


def test_reboot_after_outage_is_not_reported() -> None:
    """The collector says the device rebooted: reported, unless it comes back from an
    outage (the outage was the news)."""
    feed, correlator = intake()
    for ts in (0.0, 60.0):
        feed.ingest(attempt(False, ts))
    feed.ingest(attempt(True, 120.0, rebooted=True, previous=PollStatus.TIMEOUT))
    assert not correlator.condition_open(Kind.DEVICE_REBOOTED, "device:S-3-gw")
    feed.ingest(attempt(True, 1000.0, rebooted=True))
    assert correlator.condition_open(Kind.DEVICE_REBOOTED, "device:S-3-gw")
    feed.expire(1000.0 + 300.0)
    assert not correlator.condition_open(Kind.DEVICE_REBOOTED, "device:S-3-gw")


def test_each_attempt_counts_and_at_once_confirms_alone() -> None:
    """No de-duplication: two attempts with one timestamp are two attempts."""
    feed, correlator = intake(down_after=2)
    feed.ingest(attempt(False, 5.0))
    assert not correlator.is_down("device:S-3-gw")
    feed.ingest(attempt(False, 5.0, previous=PollStatus.TIMEOUT))
    assert correlator.is_down("device:S-3-gw")
    feed2, correlator2 = intake(down_after=5)
    feed2.ingest(attempt(False, 5.0, at_once=True))
    assert correlator2.is_down("device:S-3-gw")


def test_link_state_changes_reported_once() -> None:
    w = watch()
    events = w.link_state(obs("da-5002", "pubnet_interface_oper_up", 0.0, 1.0, "ge-0/0/1"))
    assert [(e.link_id, e.down) for e in events] == [("ln-S-4-gw", True)]
    assert w.link_state(obs("da-5002", "pubnet_interface_oper_up", 0.0, 2.0, "ge-0/0/1")) == []
    up = w.link_state(obs("da-5002", "pubnet_interface_oper_up", 1.0, 3.0, "ge-0/0/1"))
    assert [(e.link_id, e.down) for e in up] == [("ln-S-4-gw", False)]


def test_link_is_judged_by_its_a_side_as_the_exporter_does() -> None:
    """Issue 11 §3: alerting took a link down when either end read down while
    ``pubnet_link_up`` reads only the a-side; now both follow pubnet.derive."""
    w = watch()
    b_side = w.link_state(obs("S-4-gw", "pubnet_interface_oper_up", 0.0, 1.0, "eth0"))
    assert b_side == []
    a_side = w.link_state(obs("da-5002", "pubnet_interface_oper_up", 0.0, 2.0, "ge-0/0/1"))
    assert [(e.link_id, e.down) for e in a_side] == [("ln-S-4-gw", True)]


def test_reading_watch_keeps_under_260_bytes_per_watched_counter() -> None:
    """What alerting keeps per interface counter it follows (4 per watched link, ~80,000
    at 20,000 devices): the last reading, and per link the last rate each way. ~200 bytes
    (it was ~370 with a string key per counter, a new record per reading and a dict per
    link and tracker); ~115 bytes counted with what the watch sets up per link when it
    is built."""
    from inventory.generate import generate
    from pubnet.derive import Derivation

    inventory = generate(sites=300, seed=1)
    derivation = Derivation(inventory)
    sides = [derivation.link_side(link) for link in derivation.link_ids]
    metrics = ("pubnet_interface_receive_bytes_total", "pubnet_interface_transmit_bytes_total",
               "pubnet_interface_receive_errors_total", "pubnet_interface_transmit_errors_total")

    def build() -> ReadingWatch:
        watch = ReadingWatch(inventory, ThresholdSettings())
        for ts in (60.0, 120.0):
            for device, ifname in sides:
                for metric in metrics:  # labels and strings new at every poll
                    watch.observe(obs("".join(device), metric, 1000.0, ts, "".join(ifname)))
        return watch

    # from before the watch is built: it sets its per-link arrays up then (traced from
    # its first reading on, it kept 0 bytes, and the test checked nothing)
    _, size = kept_by(build)
    per_counter = size / (len(sides) * len(metrics))
    assert per_counter < 260, per_counter
