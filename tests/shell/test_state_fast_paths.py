"""The store's fast paths against the simplest store that could work (hypothesis): a
device's poll republished in the same order is stored as slices, and each metric filter
sees a batch through one shared list of its metrics; any batch, however it is shaped,
leaves the same series, versions and deliveries as a dict per device and a filter per
observation would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pubnet.model import Batch, Observation, Source
from pubnet.state import StateStore, Subscription

METRICS = ["up", "rx", "tx", "oper", "dur"]
FILTERS = [None, frozenset(), frozenset({"oper"}), frozenset({"dur"}),
           frozenset({"up", "oper", "rx"}), frozenset(METRICS)]

_observation = st.builds(
    Observation,
    st.sampled_from(["d1", "d2", "d3"]),
    st.sampled_from(METRICS),
    st.one_of(st.floats(allow_nan=False), st.integers(-5, 5)),
    st.floats(0, 1e10, allow_nan=False),
    st.sampled_from([Source.SNMP, Source.MQTT]),
    st.sampled_from([(), (("ifname", "eth0"),), (("ifname", "eth1"),)]),
)


def _poll(device: str, order: list[int], value: float, source: Source) -> list[Observation]:
    """One device's poll: its series in the given order (the usual case repeats one)."""
    series = [(metric, (("ifname", f"eth{n}"),)) for metric in METRICS for n in range(2)]
    return [Observation(device, series[i][0], value + i, value, source, series[i][1])
            for i in order]


_batch = st.one_of(
    st.lists(_observation, max_size=12),
    st.builds(_poll, st.sampled_from(["d1", "d2"]),
              st.sampled_from([list(range(10)), list(range(10)), [3, 4, 5], [9, 8, 7, 0]]),
              st.floats(0, 1e6, allow_nan=False), st.sampled_from([Source.SNMP, Source.MQTT])),
)


def _reference_view(batch: Batch, wanted: frozenset[str] | None) -> list[Observation]:
    return [o for o in batch.observations if wanted is None or o.metric in wanted]


@settings(max_examples=300, deadline=None)
@given(st.lists(_batch, max_size=12))
def test_any_batches_leave_what_a_dict_per_device_and_a_plain_filter_leave(
        batches: list[list[Observation]]) -> None:
    store = StateStore()
    subs: list[Subscription] = [store.subscribe(f"s{n}", 1 << 30, metrics=wanted)
                                for n, wanted in enumerate(FILTERS)]
    latest: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], Observation]] = {}
    versions: dict[str, int] = {}
    for observations in batches:
        before = {d: store.device_version(d) for d in ("d1", "d2", "d3")}
        store.publish(observations)
        touched = {o.device for o in observations}
        for device in ("d1", "d2", "d3"):
            moved = store.device_version(device) != before[device]
            assert moved == (device in touched)
            versions[device] = store.device_version(device)
        for obs in observations:
            latest.setdefault(obs.device, {})[(obs.metric, obs.labels)] = obs
        batch = Batch(tuple(observations))
        for sub, wanted in zip(subs, FILTERS, strict=True):
            got = sub.drain()
            expected = _reference_view(batch, wanted)
            assert [o for b in got for o in b.observations] == expected
            assert len(got) == (1 if expected else 0)
            if got and wanted is not None and len(expected) == len(observations):
                assert got[0].observations == batch.observations
    for device, series in latest.items():
        view = store.device_series(device)
        assert list(view) == list(series), "keys in the order they first came"
        for key, obs in series.items():
            got = view[key]
            assert (got.value, got.ts, got.source) == (float(obs.value), obs.ts, obs.source)
    assert store.observations_total == sum(len(b) for b in batches)


def test_a_republished_poll_takes_the_fast_path_and_a_reordered_one_does_not() -> None:
    """The slices are only taken for one device's series in their stored order."""
    store = StateStore()
    store.publish(_poll("d1", list(range(10)), 1.0, Source.SNMP))
    columns_taken = []
    republish = store._republish

    def spy(columns: object) -> bool:
        taken = republish(columns)  # type: ignore[arg-type]
        columns_taken.append(taken)
        return taken

    store._republish = spy  # type: ignore[method-assign]
    store.publish(_poll("d1", list(range(10)), 2.0, Source.SNMP))
    store.publish(_poll("d1", [3, 4, 5], 3.0, Source.MQTT))
    store.publish(_poll("d1", [9, 8], 4.0, Source.SNMP))
    store.publish(_poll("d1", [0], 5.0, Source.SNMP) + _poll("d2", [0], 5.0, Source.SNMP))
    assert columns_taken == [True, True, False, False]
    values = [o.value for o in store.device_series("d1").values()]
    assert values == [5.0, 3.0, 4.0, 6.0, 7.0, 8.0, 8.0, 9.0, 12.0, 13.0]
