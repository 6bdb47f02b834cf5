"""The state store: latest values, status changes, and subscribers that never block."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pubnet.model import Observation, PollStatus, Source
from pubnet.state import StateStore
from tests.memory import kept_by


def obs(device: str, value: float, metric: str = "pubnet_ap_clients", ts: float = 1.0,
        labels: tuple[tuple[str, str], ...] = ()) -> Observation:
    return Observation(device, metric, value, ts, Source.SNMP, labels)


def test_latest_value_per_series_wins() -> None:
    store = StateStore()
    store.publish([obs("ap-1", 3, labels=(("radio", "2g"),)), obs("ap-1", 5, ts=2.0,
                   labels=(("radio", "2g"),)), obs("ap-1", 7, labels=(("radio", "5g"),))])
    assert store.latest("ap-1", "pubnet_ap_clients", (("radio", "2g"),)).value == 5  # type: ignore[union-attr]
    assert store.latest("ap-1", "pubnet_ap_clients", (("radio", "5g"),)).value == 7  # type: ignore[union-attr]
    assert store.latest("ap-2", "pubnet_ap_clients") is None
    assert store.series_count() == 2


def test_device_version_changes_only_for_touched_device() -> None:
    store = StateStore()
    store.publish([obs("a", 1), obs("b", 1)])
    a, b = store.device_version("a"), store.device_version("b")
    store.publish([obs("a", 2)])
    assert store.device_version("a") != a
    assert store.device_version("b") == b


def test_status_change_reported_once_per_change() -> None:
    store = StateStore()
    first = store.set_status("gw-1", PollStatus.OK, 10.0, Source.SNMP)
    assert first is not None and first.previous is None
    assert store.set_status("gw-1", PollStatus.OK, 20.0, Source.SNMP) is None
    down = store.set_status("gw-1", PollStatus.TIMEOUT, 30.0, Source.SNMP)
    assert down is not None and down.previous is PollStatus.OK
    state = store.status("gw-1")
    assert state is not None
    assert state.status is PollStatus.TIMEOUT
    assert state.since == 30.0
    assert state.last_seen == 20.0
    assert state.last_attempt == 30.0


async def test_subscriber_receives_batches_in_order() -> None:
    store = StateStore()
    with store.subscription("alerting") as sub:
        store.publish([obs("a", 1)])
        store.set_status("a", PollStatus.TIMEOUT, 2.0, Source.SNMP)
        first = await asyncio.wait_for(sub.get(), 1)
        second = await asyncio.wait_for(sub.get(), 1)
    assert [o.value for o in first.observations] == [1]
    assert second.status_changes[0].status is PollStatus.TIMEOUT


async def test_slow_subscriber_drops_and_counts_without_blocking_publisher() -> None:
    store = StateStore()
    slow = store.subscribe("slow", capacity=10)
    fast = store.subscribe("fast", capacity=1000)
    for i in range(20):
        store.publish([obs("a", i)])  # returns immediately even though nobody reads
    assert slow.pending == 10
    assert slow.dropped == 10
    assert fast.pending == 20 and fast.dropped == 0
    stats = {s.name: s for s in store.subscriber_stats()}
    assert stats["slow"].dropped == 10
    # after draining, the slow subscriber accepts again
    while slow.get_nowait() is not None:
        pass
    store.publish([obs("a", 99)])
    assert slow.pending == 1


async def test_metric_filter_keeps_status_changes() -> None:
    store = StateStore()
    sub = store.subscribe("status-only", metrics=())
    store.publish([obs("a", 1)])
    assert sub.pending == 0
    store.set_status("a", PollStatus.OK, 1.0, Source.SNMP, observations=[obs("a", 2)])
    batch = sub.get_nowait()
    assert batch is not None
    assert batch.observations == () and len(batch.status_changes) == 1


_FILTERS = {"all": None, "attempts": (), "a": ("m_a",), "a-again": ("m_a",),
            "a-and-b": ("m_a", "m_b"), "absent": ("m_z",)}


@given(st.lists(st.tuples(
    st.lists(st.tuples(st.sampled_from("xy"), st.sampled_from(["m_a", "m_b", "m_c"])),
             max_size=6),
    st.booleans()), max_size=8))
def test_each_subscriber_receives_the_observations_of_its_metrics(
        publishes: list[tuple[list[tuple[str, str]], bool]]) -> None:
    """Every subscriber gets each publish's attempts and the observations of its metrics in
    order, and nothing when that is empty; subscribers with the same filter get the same
    batch (filtered once per publish)."""
    store = StateStore()
    subs = {name: store.subscribe(name, metrics=metrics) for name, metrics in _FILTERS.items()}
    expected: dict[str, list[tuple[tuple[tuple[str, str], ...], int]]] = {
        name: [] for name in _FILTERS}
    for n, (series, with_attempt) in enumerate(publishes):
        observations = [obs(device, n, metric) for device, metric in series]
        if with_attempt:
            store.set_status("x", PollStatus.OK, float(n), Source.SNMP, observations=observations)
        else:
            store.publish(observations)
        for name, metrics in _FILTERS.items():
            kept = tuple((o.device, o.metric) for o in observations
                         if metrics is None or o.metric in metrics)
            if kept or with_attempt:
                expected[name].append((kept, int(with_attempt)))
    got = {name: sub.drain() for name, sub in subs.items()}
    for name in _FILTERS:
        assert [(tuple((o.device, o.metric) for o in b.observations), len(b.attempts))
                for b in got[name]] == expected[name], name
    assert all(a is b for a, b in zip(got["a"], got["a-again"], strict=True))


async def test_closed_subscription_ends_iteration() -> None:
    store = StateStore()
    sub = store.subscribe("x")
    store.publish([obs("a", 1)])
    store.unsubscribe(sub)
    seen = [b async for b in sub]
    assert len(seen) == 1
    store.publish([obs("a", 2)])
    assert sub.pending == 0


@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(allow_nan=False)), max_size=50))
def test_latest_matches_last_write(writes: list[tuple[str, float]]) -> None:
    store = StateStore()
    for device, value in writes:
        store.publish([obs(device, value)])
    expected: dict[str, float] = {}
    for device, value in writes:
        expected[device] = value
    for device, value in expected.items():
        latest = store.latest(device, "pubnet_ap_clients")
        assert latest is not None and latest.value == value


def test_forget_removes_series() -> None:
    store = StateStore()
    store.publish([obs("a", 1), obs("a", 2, metric="pubnet_device_up")])
    store.forget("a", "pubnet_ap_clients")
    assert store.latest("a", "pubnet_ap_clients") is None
    assert store.latest("a", "pubnet_device_up") is not None
    store.forget("a")
    assert store.series_count() == 0


@pytest.mark.parametrize("status", list(PollStatus), ids=lambda s: s.value)
def test_only_ok_is_up(status: PollStatus) -> None:
    assert status.is_up == (status is PollStatus.OK)


def test_series_are_kept_compactly_and_read_back_as_observations() -> None:
    """The store keeps values in arrays and one interned copy of each key: what comes back
    is what was published (value, time, source, labels), label sets shared by devices are
    one object, and forgetting one metric keeps the others in order."""
    store = StateStore()
    for device in ("a", "b"):
        for ts in (1.0, 2.0):
            store.publish([
                Observation(device, "pubnet_ap_clients", ts * 10, ts, Source.MQTT,
                            (("radio", "".join(["2", "g"])),)),
                Observation(device, "pubnet_device_up", 1.0, ts, Source.SNMP),
                Observation(device, "pubnet_device_poll_status", 0.0, ts, Source.SNMP,
                            (("status", PollStatus.TIMEOUT),)),
            ])
    got = store.latest("a", "pubnet_ap_clients", (("radio", "2g"),))
    assert got == Observation("a", "pubnet_ap_clients", 20.0, 2.0, Source.MQTT,
                              (("radio", "2g"),))
    keys_a, keys_b = list(store.device_series("a")), list(store.device_series("b"))
    assert keys_a == keys_b and all(x is y for x, y in zip(keys_a, keys_b, strict=True))
    assert dict(store.device_series("b").values_by_key()) == {
        k: o.value for k, o in store.device_series("b").items()}
    store.forget("a", "pubnet_ap_clients")
    assert [k[0] for k in store.device_series("a")] == ["pubnet_device_up",
                                                        "pubnet_device_poll_status"]
    assert store.latest("a", "pubnet_device_poll_status", (("status", "timeout"),)) == \
        Observation("a", "pubnet_device_poll_status", 0.0, 2.0, Source.SNMP,
                    (("status", PollStatus.TIMEOUT),))
    assert "pubnet_ap_clients" not in {k[0] for k in store.device_series("a")}
    assert len(store.device_series("nobody")) == 0


def _fleet_poll(device: str, ts: float) -> list[Observation]:
    """One poll of a device as a collector builds it: label tuples and strings new each
    time, a device-info series and an info series per interface with labels of the
    device's own (``sys_name``, ``ifalias``), the rest shared with other devices."""
    def fresh(text: str) -> str:
        return "".join(list(text))
    out = [Observation(device, "pubnet_device_info", 1.0, ts, Source.SNMP, (
        ("site", fresh("S-0001")), ("role", fresh("access_point")),
        ("profile", fresh("access-point")), ("province", fresh("10")),
        ("sys_name", fresh(device)), ("sys_descr", fresh("UAP-AC-Lite 6.6.55 Linux")),
    ))]
    for ifname in ("eth0", "wlan0", "wlan1"):
        out.append(Observation(device, "pubnet_interface_info", 1.0, ts, Source.SNMP, (
            ("ifname", fresh(ifname)), ("ifalias", fresh(f"{device} {ifname}")))))
        for metric in ("receive_bytes_total", "transmit_bytes_total", "receive_errors_total",
                       "transmit_errors_total", "oper_up", "admin_up", "speed_bps"):
            out.append(Observation(device, f"pubnet_interface_{metric}", ts, ts, Source.SNMP,
                                   (("ifname", fresh(ifname)),)))
    return out


def test_a_series_costs_under_110_bytes_in_the_store() -> None:
    """Issue 15's budget at 100,000 devices is ~350 bytes per series for the whole service.
    In the store, with a sixth of the keys the device's own (``ifalias``, ``sys_name``;
    the generator's fleet has fewer), a series costs ~97 bytes here (it was ~140 with a
    key-to-slot dict per device and label pairs of each key's own, ~600 with an
    observation per series)."""
    devices = [f"S-{n:05d}-ap1" for n in range(400)]

    def build() -> StateStore:
        store = StateStore()
        for ts in (1.0, 2.0):
            for device in devices:
                store.publish(_fleet_poll(device, ts))
        return store

    store, size = kept_by(build)
    assert store.series_count() == 400 * 25
    assert size / store.series_count() < 110


def test_keys_of_a_device_share_the_label_pairs_other_devices_have() -> None:
    store = StateStore()
    store.publish(_fleet_poll("ap-1", 1.0) + _fleet_poll("ap-2", 1.0))
    info_1, info_2 = (next(k for k in store.device_series(d) if k[0] == "pubnet_device_info")
                      for d in ("ap-1", "ap-2"))
    assert info_1 != info_2
    shared = [a is b for a, b in zip(info_1[1], info_2[1], strict=True)]
    assert shared == [True, True, True, True, False, True]


def test_series_published_in_any_order_and_in_parts_keep_their_values_and_order() -> None:
    """The store looks a key up where the previous one left off, then searches: polls in
    another order, partial publishes (a trap's one series) and new keys in between all
    land on their own series, and iteration keeps the order keys first came in."""
    store = StateStore()
    names = [f"m{n}" for n in range(6)]
    store.publish([obs("a", n, metric=name) for n, name in enumerate(names)])
    store.publish([obs("a", 10 + n, metric=name, ts=2.0)
                   for n, name in reversed(list(enumerate(names)))])
    store.publish([obs("a", 99, metric="m3", ts=3.0)])
    store.publish([obs("a", 50, metric="new", ts=4.0), obs("a", 51, metric="m0", ts=4.0),
                   obs("a", 52, metric="m0", ts=5.0)])
    assert [k[0] for k in store.device_series("a")] == [*names, "new"]
    assert {k[0]: v for k, v in store.device_series("a").values_by_key()} == {
        "m0": 52, "m1": 11, "m2": 12, "m3": 99, "m4": 14, "m5": 15, "new": 50}
    assert ("m3", ()) in store.device_series("a")
    assert ("nope", ()) not in store.device_series("a")
    assert store.latest("a", "m0").ts == 5.0  # type: ignore[union-attr]


def test_reading_at_a_slot_holds_only_while_the_key_is_there() -> None:
    """``SeriesView.reading_at``: the value and time at a slot found by iterating the view,
    None once a forgotten metric moved the key or it left."""
    store = StateStore()
    labels = (("ifname", "eth0"),)
    store.publish([Observation("d", "pubnet_interface_speed_bps", 1e9, 1.0, Source.SNMP, labels),
                   Observation("d", "pubnet_interface_oper_up", 1.0, 2.0, Source.SNMP, labels)])
    view = store.device_series("d")
    slot, key = next((n, k) for n, k in enumerate(view) if k[0] == "pubnet_interface_oper_up")
    assert view.reading_at(slot, key) == (1.0, 2.0)
    store.publish([Observation("d", "pubnet_interface_oper_up", 0.0, 3.0, Source.SNMP, labels)])
    assert store.device_series("d").reading_at(slot, key) == (0.0, 3.0)
    store.forget("d", "pubnet_interface_speed_bps")
    assert store.device_series("d").reading_at(slot, key) is None, "moved to slot 0"
    assert store.device_series("d").reading_at(0, key) == (0.0, 3.0)
    store.forget("d")
    assert store.device_series("d").reading_at(0, key) is None
