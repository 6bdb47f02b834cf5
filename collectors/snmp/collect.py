"""One poll of one device: GET the scalars, walk the tables, turn values into observations.

Tables are walked on the first poll; later polls GET the instances that walk found together
with the scalars, usually in one PDU (:mod:`collectors.snmp.layout` says when a table is
walked again).

This is the hot path. Everything textual was resolved when the profile was loaded; here we
only slice OID strings, look up dicts and do counter arithmetic. Counter state and the last
sysUpTime live in a :class:`DeviceMemory` the poller keeps per device.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from collectors.snmp.client import SnmpClient, Value, label_text, text
from collectors.snmp.counterbank import CounterBank, SlotMaps, storable
from collectors.snmp.counters import WRAP32, WRAP64, octet_bound, uptime_went_back
from collectors.snmp.errors import SnmpNoSuchName
from collectors.snmp.layout import (
    MAX_GET_VARBINDS,
    REWALK_EVERY,
    LayoutParts,
    TableLayout,
    layout_from_walk,
    shared,
)
from collectors.snmp.profiles import (
    SYS_DESCR,
    SYS_NAME,
    SYS_OBJECT_ID,
    SYS_UPTIME,
    EntryWalk,
    MetricKind,
    Profile,
    ProfileSet,
    Table,
    WalkMode,
)
from pubnet.catalog import DEVICE_UPTIME
from pubnet.model import Labels, Observation, SeriesKey, Source

_SNMP = Source.SNMP
_COUNTER = MetricKind.COUNTER
_new = tuple.__new__
"""``_new(Observation, (device, metric, value, ts, source, labels))``: a NamedTuple built
without its generated ``__new__`` (a Python-level call with defaults): ~0.15 against
~0.6 µs, ~30 times per poll."""
MAX_SHARED_KEYS = 200_000
"""Beyond this many distinct counter keys (label values unique to each device, such as
free-text interface aliases) new ones are kept as they are, not shared."""

LabelSets = dict[tuple[tuple[str, tuple[str, ...]], ...], dict[object, Labels]]
"""Per label spec of a table, the label tuple of each distinct raw label value (one value,
or a tuple of them for several labels), shared by every device of a poller."""
MAX_SHARED_LABELS = 50_000
"""Distinct label values kept per label spec; beyond it new ones are built at every poll
(a spec whose values are unique to each device gains little from sharing)."""


@dataclass(slots=True)
class DeviceMemory:
    """What the poller remembers about a device between polls."""

    counters: CounterBank = field(default_factory=CounterBank)
    uptime_ticks: int | None = None
    uptime_rollovers: int = 0
    last_ts: float | None = None
    sys_object_id: str | None = None
    reboots: int = 0
    table_rows: dict[str, int] = field(default_factory=dict)
    """Rows each table had at its last walk (chooses entry or column walks)."""
    layouts: dict[str, TableLayout] = field(default_factory=dict)
    """Per table, the instances its last walk found; polls in between GET just those."""
    rewalk_every: int = REWALK_EVERY
    """Polls a layout serves before its table is walked again (``snmp.rewalk_every``)."""
    rewalk_phase: int = 0
    """Polls beyond ``rewalk_every`` the first walk's layouts serve, modulo
    ``rewalk_every`` (the poller derives it from the device id). A fleet is first walked
    in one round, when pubnet starts; without a phase every device walked again in the
    same later round, one in ``rewalk_every``: a round costing ~3 rounds of GET polls,
    late polls for minutes after it, every 30 minutes at national scale. With phases
    spread, about ``1/rewalk_every`` of the devices walk in each round."""
    max_get_varbinds: int = MAX_GET_VARBINDS
    """Varbinds per GET; lowered when the agent answers tooBig."""
    keys: dict[SeriesKey, SeriesKey] = field(default_factory=dict)
    """Counter keys already held, shared by every device of a poller: a new counter's key
    (metric, labels) is stored as the one other devices hold, so that 100,000 devices'
    ``ether1`` counters hold one key, one label tuple and one ``ether1`` between them."""
    get_oids: tuple[tuple[object, ...], tuple[str, ...]] | None = None
    """The last poll's GET list and what it was built from (:func:`_get_oids`)."""
    parts: LayoutParts = field(default_factory=dict)
    """Layout tuples already held, shared by every device of a poller the same way
    (:func:`collectors.snmp.layout.shared`)."""
    slot_maps: SlotMaps = field(default_factory=dict)
    """Counter slot maps already held, shared by every device of a poller the same way
    (:meth:`collectors.snmp.counterbank.CounterBank.share`)."""
    label_sets: LabelSets = field(default_factory=dict)
    """Table rows' label tuples already built, by their raw values, shared by every device
    of a poller: a row's labels are looked up, not decoded and built at every poll, and are
    the same tuple poll after poll and across devices of one model, so the counters' and
    the state store's key comparisons find them identical at once. Only values that are
    bytes, text or absent are keys (1 and 1.0 are equal keys but different labels)."""


@dataclass(frozen=True, slots=True)
class PollResult:
    profile: Profile
    sys_name: str
    sys_descr: str
    sys_object_id: str
    rebooted: bool
    """sysUpTime went back (not a 32-bit rollover) since the previous poll."""
    observations: list[Observation]
    detail: str = ""
    """What the poll noticed, for the attempt record: how sysUpTime went back on a reboot."""


def _number(value: Value) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, bytes):
        try:
            return float(value.decode("ascii").strip("\x00 "))
        except (UnicodeDecodeError, ValueError):
            return None
    return None


class _TableReader:
    """Walks a table's columns lazily: first choices always, fallbacks only when a row
    lacks the first choice."""

    __slots__ = ("client", "columns", "reps")

    def __init__(self, client: SnmpClient, reps: int) -> None:
        self.client = client
        self.reps = reps
        self.columns: dict[str, dict[str, Value]] = {}

    async def column(self, oid: str) -> dict[str, Value]:
        col = self.columns.get(oid)
        if col is None:
            plen = len(oid) + 1
            col = {o[plen:]: v for o, v in await self.client.bulk_walk(oid, self.reps)}
            self.columns[oid] = col
        return col

    async def entry(self, walk: EntryWalk, reps: int) -> None:
        """Walk a whole table entry once and file its varbinds by column; columns past the
        last one needed are discarded, known columns that yielded nothing are empty."""
        parent = walk.parent
        plen = len(parent) + 1
        by_number: dict[str, dict[str, Value]] = {}
        last = walk.last
        for oid, value in await self.client.bulk_walk(parent, reps,
                                                       stop_after=f"{parent}.{last}"):
            number, _, index = oid[plen:].partition(".")
            col = by_number.get(number)
            if col is None:
                if int(number) > last:
                    break
                col = by_number[number] = {}
            col[index] = value
        columns = self.columns
        for number, column_oid in walk.known:
            if int(number) > last:
                break
            columns[column_oid] = by_number.get(number, {})

    async def complete(self, chains: tuple[tuple[str, ...], ...], rows: Iterable[str]) -> None:
        """Walk fallback columns, each only if some row lacks every column before it."""
        for chain in chains:
            missing = list(rows)
            for oid in chain:
                col = await self.column(oid)
                missing = [i for i in missing if col.get(i) in _ABSENT]
                if not missing:
                    break


_ABSENT: tuple[Value, ...] = (None, b"")
_NO_COLUMN: dict[str, Value] = {}


async def _walk_table(client: SnmpClient, table: Table, memory: DeviceMemory
                      ) -> tuple[dict[str, dict[str, Value]], dict[str, None]]:
    """Walk what ``table`` needs: ``(columns by OID, row indexes)``."""
    reader = _TableReader(client, table.max_repetitions)
    rows: dict[str, None] = {}
    if table.entries and (table.walk is WalkMode.ENTRY or (
            table.walk is WalkMode.AUTO
            and memory.table_rows.get(table.name, 0) <= table.entry_max_rows)):
        for walk in table.entries:
            await reader.entry(walk, table.entry_max_repetitions)
    for oid in table.first_walks:
        rows.update(dict.fromkeys(await reader.column(oid)))
    memory.table_rows[table.name] = len(rows)
    if table.fallback_chains:
        await reader.complete(table.fallback_chains, rows)
    return reader.columns, rows


_LABEL_KEY_TYPES = frozenset({type(None), bytes, str})
"""Raw label values that key :attr:`DeviceMemory.label_sets` (1 and 1.0 are equal keys but
different labels)."""


def _row_labels(values: Sequence[Value], spec: tuple[tuple[str, tuple[int, ...]], ...],
                index: str) -> Labels:
    """A row's labels of ``spec`` (``Table.label_cells``): each label's first choice with a
    non-empty value (-1 is the row index), as text."""
    out = []
    for name, choices in spec:
        value: Value = None
        for cell in choices:
            if cell < 0:
                value = index
                break
            value = values[cell]
            if value is not None and value != b"":
                break
        out.append((name, label_text(value)))
    return tuple(out)


def _cells(table: Table, columns: Mapping[str, Mapping[str, Value]], rows: Iterable[str]
           ) -> list[Value]:
    """A walk's values as the row loop reads them: row by row, each of ``table.cells``
    (None where the row has none), as :meth:`TableLayout.cells` gives a GET's."""
    by_cell = [columns.get(oid, _NO_COLUMN) for oid in table.cells]
    return [column.get(index) for index in rows for column in by_cell]


def _row_observations(
    table: Table,
    cells: Sequence[Value],
    rows: Sequence[str],
    device: str,
    ts: float,
    memory: DeviceMemory,
    reset: bool,
    elapsed: float,
    out: list[Observation],
) -> None:
    """Turn a table's values into observations (the same for walked and GET values).

    ``cells`` holds each row's values of ``table.cells`` in turn (:func:`_cells`,
    :meth:`TableLayout.cells`): the loop reads a row's values by position from one slice,
    not from a dict per column."""
    if not rows:
        return  # a vendor's table the device does not have (an AP answers one of two)
    bank = memory.counters
    slots = bank.slots
    raws = bank.raws
    offsets = bank.offsets
    widths = bank.widths
    keys = memory.keys
    append = out.append
    spec = table.label_cells
    label_cache = _label_cache(memory.label_sets, table.labels)
    single = spec[0][1] if len(spec) == 1 else None
    where = table.where_cell
    equals = table.where[1] if table.where is not None else ""
    width_of_row = len(table.cells)
    # The row loop reads a flat plan (Table.plan) with the usual cases inline (no attribute
    # lookups, no call per gauge, the counters' advance as before: it was ~5 % of the whole
    # service at 100,000 devices), and allocates little besides the observations: at
    # 20,000 access points the loop's CPU is mostly their allocation over a large heap
    # (py-spy over bench/poller_memory.py --profile access-point --hold --shuffle).
    plan = table.plan
    value: float | None
    raw: Value
    chosen: object
    stop = 0
    for index in rows:
        start = stop
        stop += width_of_row
        row = cells[start:stop]
        if where >= 0 and text(row[where]) != equals:
            continue
        # the row's labels: one shared tuple per distinct label values (see _label_cache)
        if single is not None:
            chosen = _chosen(row, single, index)
            cacheable = type(chosen) in _LABEL_KEY_TYPES
        elif spec:
            picked = [_chosen(row, choices, index) for _, choices in spec]
            chosen = tuple(picked)
            cacheable = all(type(one) in _LABEL_KEY_TYPES for one in picked)
        else:
            chosen = None
            cacheable = True
        labels = label_cache.get(chosen) if cacheable else None
        if labels is None:
            labels = _row_labels(row, spec, index)
            if cacheable and len(label_cache) < MAX_SHARED_LABELS:
                label_cache[chosen] = labels
        row_gauges: dict[str, float] | None = None
        for (name, is_counter, constant, cell, width, scale, fallbacks, enum, multiply_by,
             bound, keep, extra) in plan:
            if constant is not None:
                value = constant
            else:
                raw = row[cell]
                if raw is None:
                    for fallback, fallback_width, fallback_scale in fallbacks:
                        raw = row[fallback]
                        if raw is not None:
                            width, scale = fallback_width, fallback_scale
                            break
                    else:
                        continue
                if is_counter:
                    if not isinstance(raw, int) or not 0 <= raw < WRAP64:  # storable()
                        continue
                    key = (name, labels)
                    slot = slots.get(key)
                    if slot is None:
                        value = bank.add(_shared(keys, key), raw, width) * scale
                        slots = bank.slots  # a copy when it was shared
                    elif not reset and raw >= raws[slot] and widths[slot] == width:
                        # the usual case of counters.delta(), inline; the offset is
                        # usually 0 (raw + 0 would be one more int allocated)
                        raws[slot] = raw
                        offset = offsets[slot]
                        value = (raw + offset if offset else raw) * scale
                    else:
                        limit = None
                        if bound is not None and width == 32:
                            limit = octet_bound(
                                row_gauges.get(bound) if row_gauges is not None else None,
                                elapsed)
                        value = bank.advance(slot, raw, width, reset=reset,
                                             max_delta=limit) * scale
                else:
                    # a gauge: an enum, or a number, scaled and multiplied
                    if enum is not None:
                        if not isinstance(raw, int):
                            continue
                        value = enum.get(raw)
                    elif type(raw) is int:
                        value = float(raw)
                    else:
                        value = _number(raw)
                    if value is None:
                        continue
                    if scale != 1.0:  # x * 1.0 is x: an enum's value stays its own float
                        value *= scale
                    if multiply_by is not None:
                        factor = _number(row[multiply_by])
                        if factor is None:
                            continue
                        value *= factor
                    if keep:
                        if row_gauges is None:
                            row_gauges = {}
                        row_gauges[name] = value
            append(_new(Observation, (device, name, value, ts, _SNMP, labels if extra is None
                                      else labels + _row_labels(row, extra, index))))


def _chosen(row: Sequence[Value], choices: tuple[int, ...], index: str) -> Value:
    """A label's raw value in a row: its first choice with a non-empty value (-1 is the
    row index itself), as :func:`_row_labels` picks it."""
    raw: Value = None
    for cell in choices:
        if cell < 0:
            return index
        raw = row[cell]
        if raw is not None and raw != b"":
            break
    return raw


def _label_cache(sets: LabelSets, spec: tuple[tuple[str, tuple[str, ...]], ...]
                 ) -> dict[object, Labels]:
    """The shared label tuples of ``spec`` (see :attr:`DeviceMemory.label_sets`)."""
    cache = sets.get(spec)
    if cache is None:
        cache = sets[spec] = {}
    return cache


def _shared(keys: dict[SeriesKey, SeriesKey], key: SeriesKey) -> SeriesKey:
    """``key`` as another device already holds it (see :attr:`DeviceMemory.keys`)."""
    held = keys.get(key)
    if held is not None:
        return held
    if len(keys) < MAX_SHARED_KEYS:
        keys[key] = key
    return key


def _get_oids(profile: Profile, memory: DeviceMemory) -> tuple[str, ...]:
    """What this poll GETs: the profile's scalars, each table's row count and the instances
    of each layout still in use. The same list poll after poll between walks, so it is kept
    with what it was built from (the profile and the layouts in use, compared by identity)
    instead of being rebuilt and de-duplicated on every poll (and shared with the devices
    that GET the same, as layout tuples are)."""
    layouts = memory.layouts
    rewalk_every = memory.rewalk_every
    current: list[TableLayout | None] = []
    for table in profile.tables:
        layout = layouts.get(table.name)
        current.append(layout if layout is not None and not layout.due(rewalk_every) else None)
    used = (profile, *current)
    cached = memory.get_oids
    if cached is not None and len(cached[0]) == len(used) and all(
            a is b for a, b in zip(cached[0], used, strict=True)):
        return cached[1]
    oids = list(profile.get_oids)
    for table, layout in zip(profile.tables, current, strict=True):
        if table.row_count is not None:
            oids.append(table.row_count)
        if layout is not None:
            oids.extend(layout.oids())
    unique = shared(memory.parts, tuple(dict.fromkeys(oids)))
    memory.get_oids = (used, unique)
    return unique


async def _get(client: SnmpClient, oids: Sequence[str], memory: DeviceMemory
               ) -> dict[str, Value]:
    """GET ``oids`` in as few PDUs as the device takes (usually one), of even sizes."""
    size = memory.max_get_varbinds
    count = len(oids)
    if count <= size:
        return await _get_chunk(client, oids, memory)
    # 99 varbinds at 60 go as 50 + 49, not 60 + 39: the same PDUs, the smaller answers
    size = -(-count // -(-count // size))
    values: dict[str, Value] = {}
    for start in range(0, count, size):
        values.update(await _get_chunk(client, oids[start:start + size], memory))
    return values


async def _get_chunk(client: SnmpClient, oids: Sequence[str], memory: DeviceMemory
                     ) -> dict[str, Value]:
    """One GET; an empty answer to several OIDs is split in halves.

    Small agents answer a GET whose response would exceed their message size with tooBig
    and no varbinds, which gufo-snmp shows as an empty answer. When the halves do answer,
    that was it: the device's GETs stay that small from now on.
    """
    values = await client.get(oids)
    if values or len(oids) == 1:
        return values
    half = len(oids) // 2
    values = await _get_chunk(client, oids[:half], memory)
    values.update(await _get_chunk(client, oids[half:], memory))
    if values:
        memory.max_get_varbinds = min(memory.max_get_varbinds, half)
    return values


async def collect(
    client: SnmpClient,
    profiles: ProfileSet,
    profile_name: str,
    device: str,
    memory: DeviceMemory,
    ts: float,
) -> PollResult:
    """Poll ``device`` once through an open ``client``.

    Raises the client's errors, and :class:`SnmpNoSuchName` when the agent has none of the
    scalars asked for.
    """
    profile = (profiles.select(profile_name, memory.sys_object_id)
               if profiles.is_auto(profile_name) else profiles.profiles[profile_name])
    layouts = memory.layouts
    values: Mapping[str, Value] = await _get(client, _get_oids(profile, memory), memory)
    if not any(oid in values for oid in profile.get_oids):
        raise SnmpNoSuchName("the agent has none of the system scalars")
    sys_object_id = text(values.get(SYS_OBJECT_ID))
    if profiles.is_auto(profile_name) and sys_object_id != memory.sys_object_id:
        chosen = profiles.select(profile_name, sys_object_id)
        if chosen is not profile:
            extra = [o for o in chosen.get_oids if o not in values]
            if extra:
                values = {**values, **await client.get(extra)}
            profile = chosen
            layouts.clear()  # another profile's tables: walk them
    memory.sys_object_id = sys_object_id

    out: list[Observation] = []
    elapsed = ts - memory.last_ts if memory.last_ts is not None else 0.0
    reset = False
    detail = ""
    ticks = values.get(SYS_UPTIME)
    if isinstance(ticks, int):
        prev = memory.uptime_ticks
        if prev is not None and ticks < prev:
            if uptime_went_back(prev, ticks, elapsed):
                reset = True
                detail = f"uptime {prev / 100:.0f}s -> {ticks / 100:.0f}s"
                memory.reboots += 1
                memory.uptime_rollovers = 0
            else:
                memory.uptime_rollovers += 1
        memory.uptime_ticks = ticks
        out.append(Observation(device, DEVICE_UPTIME,
                               (ticks + memory.uptime_rollovers * WRAP32) / 100.0, ts, _SNMP))
    for scalar in profile.scalars:
        raw = values.get(scalar.source.oid)
        if raw is None:
            continue
        if scalar.kind is MetricKind.COUNTER:
            if not isinstance(raw, int) or not storable(raw):
                continue
            key: SeriesKey = (scalar.name, ())
            bank = memory.counters
            slot = bank.slots.get(key)
            number: float | None = float(
                bank.add(_shared(memory.keys, key), raw, scalar.source.width) if slot is None
                else bank.advance(slot, raw, scalar.source.width, reset=reset))
        elif scalar.enum is not None:
            number = scalar.enum.get(raw) if isinstance(raw, int) else None
        else:
            number = _number(raw)
        if number is not None:
            out.append(Observation(device, scalar.name, number * scalar.source.scale, ts, _SNMP))
    for table in profile.tables:
        row_count = values.get(table.row_count) if table.row_count is not None else None
        layout = layouts.get(table.name)
        cells = None
        if (layout is not None and not layout.due(memory.rewalk_every)
                and row_count == layout.row_count):
            cells = layout.cells(values)
        if cells is not None and layout is not None:
            layout.polls += 1
            rows: Sequence[str] = layout.rows
        else:
            first = layout is None
            columns, walked = await _walk_table(client, table, memory)
            layout = layouts[table.name] = layout_from_walk(table, columns, walked, row_count,
                                                            memory.parts)
            if first:
                layout.grace = memory.rewalk_phase % memory.rewalk_every
            rows = layout.rows
            cells = _cells(table, columns, rows)
        _row_observations(table, cells, rows, device, ts, memory, reset, elapsed, out)
    memory.counters.share(memory.slot_maps)
    memory.last_ts = ts
    return PollResult(profile, label_text(values.get(SYS_NAME)),
                      label_text(values.get(SYS_DESCR)), sys_object_id, reset, out, detail)
