"""The table row loop reads a flat plan, shared label tuples and a GET's values by position:
the same observations, in the same order, with the same values (and value types) as the
straightforward loop over columns it replaced, which is kept here as the reference."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.snmp.client import Value, label_text, text
from collectors.snmp.collect import (
    DeviceMemory,
    LabelSets,
    _cells,
    _number,
    _row_observations,
    collect,
)
from collectors.snmp.counters import WRAP64, octet_bound
from collectors.snmp.layout import TableLayout, layout_from_walk
from collectors.snmp.profiles import INDEX, ColumnMetric, MetricKind, Table, load_profiles
from collectors.snmp.profiles import Source as ProfileSource
from pubnet.model import Labels, Observation, SeriesKey, Source
from testbed.scripted import ScriptedClient
from tests.collectors.snmp.layout_reference import layout_columns
from tests.collectors.snmp.test_poller import agent_state

_NO_COLUMN: dict[str, Value] = {}
PROFILES = load_profiles()
TABLES = {f"{profile}/{table.name}": table for profile in ("router", "access-point")
          for table in PROFILES.profiles[profile].tables}


def reference_labels(columns: Mapping[str, Mapping[str, Value]],
                     spec: tuple[tuple[str, tuple[str, ...]], ...], index: str) -> Labels:
    out = []
    for name, choices in spec:
        value: Value = None
        for oid in choices:
            if oid == INDEX:
                value = index
                break
            value = columns.get(oid, _NO_COLUMN).get(index)
            if value is not None and value != b"":
                break
        out.append((name, label_text(value)))
    return tuple(out)


def reference_gauge(columns: Mapping[str, Mapping[str, Value]], metric: ColumnMetric,
                    source: ProfileSource, raw: Value, index: str) -> float | None:
    number: float | None
    if metric.enum is not None:
        if not isinstance(raw, int):
            return None
        number = metric.enum.get(raw)
    else:
        number = _number(raw)
    if number is None:
        return None
    number *= source.scale
    if metric.multiply_by is not None:
        factor = _number(columns.get(metric.multiply_by, _NO_COLUMN).get(index))
        if factor is None:
            return None
        number *= factor
    return number


def reference_rows(table: Table, columns: Mapping[str, Mapping[str, Value]],
                   rows: Iterable[str], device: str, ts: float, memory: DeviceMemory,
                   reset: bool, elapsed: float, out: list[Observation]) -> None:
    """The row loop before the flat plan (collectors/snmp/collect.py at a6293e3): its own
    labels, gauges and loop, which the plan replaced, and the helpers the plan still calls
    (``label_text``, ``text``, ``_number``, ``octet_bound``, the counter bank) taken from
    the product."""
    if table.where is not None:
        where_oid, equals = table.where
        where_col = columns.get(where_oid, _NO_COLUMN)
        rows = [i for i in rows if text(where_col.get(i)) == equals]
    bank = memory.counters
    for index in rows:
        labels = reference_labels(columns, table.labels, index)
        row_gauges: dict[str, float] = {}
        for metric in table.metrics:
            value: float | None
            if metric.constant is not None:
                value = metric.constant
            else:
                raw: Value = None
                source = None
                for candidate in metric.sources:
                    raw = columns.get(candidate.oid, _NO_COLUMN).get(index)
                    if raw is not None:
                        source = candidate
                        break
                if source is None:
                    continue
                if metric.kind is MetricKind.COUNTER:
                    if not isinstance(raw, int) or not 0 <= raw < WRAP64:
                        continue
                    key: SeriesKey = (metric.name, labels)
                    slot = bank.slots.get(key)
                    if slot is None:
                        value = bank.add(key, raw, source.width) * source.scale
                    else:
                        bound = None
                        if metric.bound is not None and source.width == 32:
                            bound = octet_bound(row_gauges.get(metric.bound), elapsed)
                        value = bank.advance(slot, raw, source.width, reset=reset,
                                             max_delta=bound) * source.scale
                else:
                    value = reference_gauge(columns, metric, source, raw, index)
                    if value is None:
                        continue
                    row_gauges[metric.name] = value
            metric_labels = labels
            if metric.labels:
                metric_labels = labels + reference_labels(columns, metric.labels, index)
            out.append(Observation(device, metric.name, value, ts, Source.SNMP, metric_labels))


def column_oids(table: Table) -> list[str]:
    oids = [s.oid for m in table.metrics for s in m.sources]
    oids += [m.multiply_by for m in table.metrics if m.multiply_by is not None]
    oids += [o for _, choices in table.labels for o in choices if o != INDEX]
    oids += [o for m in table.metrics for _, choices in m.labels for o in choices
             if o != INDEX]
    if table.where is not None:
        oids.append(table.where[0])
    return list(dict.fromkeys(oids))


VALUES = (st.none() | st.just(b"") | st.sampled_from([b"eth0", b"wlan0", b"ath0", b"42", b"x"])
          | st.integers(-3, 2**64 + 3) | st.integers(0, 2**32 + 5) | st.integers(0, 9)
          | st.sampled_from([1, 1.0, 2.5, -0.0, "1.3.6.1.2.1.25.2.1.2", "eth0", 1e300])
          | st.floats(allow_nan=False))
INDEXES = ["1", "2", "3.4"]


@st.composite
def polls(draw: st.DrawFn) -> tuple[Table, list[tuple[dict[str, dict[str, Value]], bool]]]:
    table = TABLES[draw(st.sampled_from(sorted(TABLES)))]
    oids = column_oids(table)
    out = []
    for _ in range(draw(st.integers(1, 4))):
        columns: dict[str, dict[str, Value]] = {}
        for oid in oids:
            for index in INDEXES:
                value = draw(VALUES)
                if value is not None:
                    columns.setdefault(oid, {})[index] = value
        out.append((columns, draw(st.booleans())))
    return table, out


def identical(got: list[Observation], want: list[Observation]) -> bool:
    """The same observations with every value of the same type and repr (5 is not 5.0,
    -0.0 is not 0.0, and a NaN, from inf × 0, is one)."""
    def seen(observations: list[Observation]) -> list[tuple[object, ...]]:
        return [(o.device, o.metric, type(o.value), repr(o.value), o.ts, o.source, o.labels)
                for o in observations]
    return seen(got) == seen(want)


@settings(max_examples=300, deadline=None)
@given(case=polls(), devices=st.integers(1, 3))
def test_rows_give_what_the_reference_loop_gives(
        case: tuple[Table, list[tuple[dict[str, dict[str, Value]], bool]]],
        devices: int) -> None:
    """Every shipped router and access-point table, values of every type (absent, empty,
    names, numbers near 0, 2^32 and 2^64, floats, OIDs), polls with and without a reboot,
    several devices sharing their label tuples: the observations, the counters' totals."""
    table, answers = case
    label_sets: LabelSets = {}
    for device in range(devices):
        new, old = DeviceMemory(label_sets=label_sets), DeviceMemory()
        for poll, (columns, reset) in enumerate(answers):
            ts, elapsed = 1000.0 + 60 * poll, 60.0 if poll else 0.0
            got: list[Observation] = []
            want: list[Observation] = []
            # a walk's columns, as collect() hands them to the row loop
            _row_observations(table, _cells(table, columns, INDEXES), INDEXES, f"d{device}",
                              ts, new, reset, elapsed, got)
            reference_rows(table, columns, INDEXES, f"d{device}", ts, old, reset, elapsed,
                           want)
            assert identical(got, want)
        assert {k: new.counters.total(k) for k in new.counters} == {
            k: old.counters.total(k) for k in old.counters}


async def test_devices_of_one_model_share_their_rows_label_tuples() -> None:
    """Poll after poll and device after device, a row's labels are one tuple (so the
    counters' and the state store's key comparisons find them identical at once)."""
    label_sets: LabelSets = {}
    memories = [DeviceMemory(label_sets=label_sets) for _ in range(2)]
    labels: dict[str, set[int]] = {}
    for poll in range(2):
        for number, memory in enumerate(memories):
            state = agent_state(100_000 + 6_000 * poll, 5_000 + 1_000 * poll, 7 + poll)
            result = await collect(ScriptedClient(state), PROFILES,
                                   "if-mib", f"d{number}", memory, 1000.0 + 60 * poll)
            for obs in result.observations:
                if obs.metric == "pubnet_interface_receive_bytes_total":
                    labels.setdefault(dict(obs.labels)["ifname"], set()).add(id(obs.labels))
    assert labels and all(len(ids) == 1 for ids in labels.values())


@st.composite
def get_polls(draw: st.DrawFn) -> tuple[Table, TableLayout, list[dict[str, Value]]]:
    """A table walked once, then GETs of what its layout asks for: each instance the walked
    value, another one or none (stale), each probe mostly without a value."""
    table = TABLES[draw(st.sampled_from(sorted(TABLES)))]
    columns: dict[str, dict[str, Value]] = {}
    for oid in column_oids(table):
        for index in INDEXES:
            value = draw(VALUES)
            if value is not None:
                columns.setdefault(oid, {})[index] = value
    rows = dict.fromkeys(i for oid in table.first_walks for i in columns.get(oid, {}))
    layout = layout_from_walk(table, columns, rows, None, {})
    walked = {f"{oid}.{index}": value for oid, column in columns.items()
              for index, value in column.items()}
    gets = []
    for _ in range(draw(st.integers(1, 3))):
        values: dict[str, Value] = {}
        for oid in layout.oids():
            how = draw(st.sampled_from(["walked"] * 6 + ["new", "absent"]))
            value = (walked.get(oid) if how == "walked" else draw(VALUES) if how == "new"
                     else None)
            if value is not None:
                values[oid] = value
        gets.append(values)
    return table, layout, gets


@settings(max_examples=300, deadline=None)
@given(case=get_polls())
def test_get_values_by_position_give_what_columns_give(
        case: tuple[Table, TableLayout, list[dict[str, Value]]]) -> None:
    """A GET poll hands the row loop its values by position (TableLayout.cells, no dict per
    column): stale exactly when the columns rebuilt from them (layout_columns) say so,
    otherwise the same observations and counters as the columns through the reference
    loop."""
    table, layout, gets = case
    new, old = DeviceMemory(), DeviceMemory()
    for poll, values in enumerate(gets):
        ts, elapsed = 1000.0 + 60 * poll, 60.0 if poll else 0.0
        columns = layout_columns(layout, values)
        cells = layout.cells(values)
        assert (cells is None) == (columns is None)
        if cells is None or columns is None:
            continue
        got: list[Observation] = []
        want: list[Observation] = []
        _row_observations(table, cells, layout.rows, "d", ts, new, False, elapsed, got)
        reference_rows(table, columns, layout.rows, "d", ts, old, False, elapsed, want)
        assert identical(got, want)
    assert {k: new.counters.total(k) for k in new.counters} == {
        k: old.counters.total(k) for k in old.counters}
