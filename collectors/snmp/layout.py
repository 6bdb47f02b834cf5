"""What the last walk of a table found, so that later polls GET exactly those instances.

Walking a table costs GETBULK round trips and, worse, decoding every varbind the walk
passes over: an ifEntry walk decodes all ~20 columns of each row to keep the 6 a profile
needs. Interfaces and radios rarely change, so after one walk pubnet knows the rows and
which columns each has, and the next polls fetch those instances with the scalars in one
GET (chunked for big tables): one round trip and no wasted varbinds, the approach NMS
pollers call cached-index polling.

The table is walked again when its layout may be wrong: an instance it lists is gone, a row
gained a preferred column it lacked (a 64-bit counter after a firmware upgrade), the table's
row-count scalar (``ifNumber`` for if-mib) changed, or it is the ``snmp.rewalk_every``-th
poll (so rows added to tables without a row count show up within that many polls; a
device's first walk serves a few polls more, so that a fleet does not walk all at once). A
reboot alone is no reason: labels come from the same GET as the values, so even a device
that renumbered its interfaces is read correctly. The values are processed exactly as a
walk's are.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar, cast

from collectors.snmp.client import Value, text
from collectors.snmp.profiles import Table

REWALK_EVERY = 30
"""Default ``snmp.rewalk_every``: one poll in 30 walks (every 30 min at 60 s intervals)."""
MAX_SHARED_PARTS = 50_000
"""Distinct layout tuples kept for sharing between devices; beyond it new ones are kept as
they are (a fleet of that many distinct interface sets gains little from sharing)."""
MAX_GET_VARBINDS = 60
"""Varbinds per GET: answers stay well under the 64 KiB an agent may send and usually
within one Ethernet frame (short values: counters, statuses, names; the simulator's access
point answers its 48 in ~1.1 KB). At 40, every poll of an access point (48 varbinds), a
site gateway (49) or an ``if-mib`` device with 4 interfaces (45) took two round trips: two
requests encoded, sent, received, screened and decoded where one does."""

_ABSENT: tuple[Value, ...] = (None, b"")


@dataclass(slots=True)
class TableLayout:
    """One table's rows and the instances a poll needs, as the last walk found them.

    Instance ``k`` is column ``instance_columns[k]``, row ``instance_indexes[k]``, asked for
    as ``instance_oids[k]``: three flat tuples of interned strings (~24 bytes an instance)
    rather than a tuple per instance (~72), kept per device for every polled row.
    """

    rows: tuple[str, ...]
    """Row indexes, before any ``where`` filter (the filter is applied on every poll)."""
    instance_columns: tuple[str, ...]
    instance_indexes: tuple[str, ...]
    instance_oids: tuple[str, ...]
    """``column OID + "." + index``: what a poll GETs."""
    probes: tuple[str, ...]
    """Preferred columns a row lacked at the walk (a 64-bit counter, ifName), asked for
    along with its fallback: a value there means the row now has it, so walk again."""
    row_count: Value
    """The table's row-count scalar at the walk (None when the profile names none)."""
    unchanged: tuple[tuple[str, Value], ...] = ()
    """Instances that must keep their walked value: the ``where`` column of rows the filter
    dropped (only it is asked for; a row that starts to match needs a walk)."""
    polls: int = 1
    """Polls since the table was walked, that poll included."""
    grace: int = 0
    """Polls this layout serves beyond ``snmp.rewalk_every`` (a device's first walk only:
    see :attr:`collectors.snmp.collect.DeviceMemory.rewalk_phase`)."""
    grid: tuple[str | None, ...] = ()
    """Row by row (:attr:`rows`), the instance OID of each of the table's
    :attr:`~collectors.snmp.profiles.Table.cells`, None where the layout has none: a GET's
    values looked up in this order are what the row loop reads (:meth:`cells`)."""
    holes: int = 0
    """How many Nones :attr:`grid` holds."""

    @property
    def instances(self) -> tuple[tuple[str, str, str], ...]:
        """``(column OID, index, column OID + "." + index)`` of each instance."""
        return tuple(zip(self.instance_columns, self.instance_indexes, self.instance_oids,
                         strict=True))

    def due(self, rewalk_every: int) -> bool:
        """Whether the layout has served its polls and the table is walked again."""
        return self.polls >= rewalk_every + self.grace

    def oids(self) -> list[str]:
        """Everything a poll asks for to use (and check) this layout."""
        return [*self.instance_oids, *self.probes, *(oid for oid, _ in self.unchanged)]

    def _moved(self, values: Mapping[str, Value]) -> bool:
        """A probe has a value (a row appeared) or a value the walk relied on changed."""
        for oid in self.probes:
            if values.get(oid) not in _ABSENT:
                return True
        for oid, walked in self.unchanged:  # a loop: no generator built per poll
            if values.get(oid) != walked:
                return True
        return False

    def cells(self, values: Mapping[str, Value]) -> list[Value] | None:
        """The row loop's values (see :attr:`grid`) from a GET's ``values``: the table's
        columns by position instead of in a dict per column (which filed every value of
        every GET poll again: ~3 % of the service's CPU at 100,000 devices); None when an
        instance is missing or a probe has a value (stale: walk again)."""
        if self._moved(values):
            return None
        # a hole is None: no OID is None, so its value is None
        got = list(map(cast("Mapping[str | None, Value]", values).get, self.grid))
        # every instance is in the grid once (its column is one the row loop reads)
        return got if got.count(None) == self.holes else None


LayoutParts = dict[tuple[object, ...], tuple[object, ...]]
"""Layout tuples already held, shared by every device of a poller (see :func:`shared`)."""
T = TypeVar("T", bound=tuple[object, ...])


def shared(parts: LayoutParts | None, items: T) -> T:
    """``items`` as another device's layout already holds it.

    Devices of one model have the same rows and instances, so their layouts' tuples are
    equal: at 20,000 devices with 4 interfaces each the five tuples took ~900 bytes a device
    (``bench/snmp_poll.py`` under tracemalloc), one copy for all of them takes nothing.
    """
    if parts is None:
        return items
    held = parts.get(items)
    if held is not None:
        return cast(T, held)
    if len(parts) < MAX_SHARED_PARTS:
        parts[items] = items
    return items


def layout_from_walk(table: Table, columns: Mapping[str, Mapping[str, Value]],
                     rows: Mapping[str, None], row_count: Value,
                     parts: LayoutParts | None = None) -> TableLayout:
    """The instances the walk's values were read from that a poll uses: not fallback columns
    a row does not need (a 32-bit counter where its 64-bit one exists, ifDescr where ifName
    is set), nor columns nothing reads. ``parts`` shares equal tuples between devices."""
    earlier: dict[str, tuple[str, ...]] = {}
    for chain in table.fallback_chains:
        for position, column in enumerate(chain[1:], 1):
            earlier.setdefault(column, chain[:position])
    used = set(table.first_walks) | set(earlier)
    instances: list[tuple[str, str, str]] = []
    probes: dict[str, None] = {}
    unchanged: list[tuple[str, Value]] = []
    dropped: set[str] = set()
    if table.where is not None:
        where_oid, equals = table.where
        where_col = columns.get(where_oid, {})
        for index in rows:
            value = where_col.get(index)
            if text(value) != equals:
                dropped.add(index)
                unchanged.append((f"{where_oid}.{index}", value))
    for column, values in columns.items():
        if column not in used:
            continue  # an entry walk's bycatch: a column no metric or label reads
        preferred = earlier.get(column, ())
        for index in values:
            if index not in rows or index in dropped:
                continue
            if preferred:
                if any(columns.get(p, {}).get(index) not in _ABSENT for p in preferred):
                    continue  # the row has a better column
                probes.update((f"{p}.{index}", None) for p in preferred)
            # interned: devices of one model share their rows' OIDs (at 10,000 devices
            # these strings were the largest single allocation site, 67 MB)
            instances.append((column, sys.intern(index), sys.intern(f"{column}.{index}")))
    asked = {oid for _, _, oid in instances}  # an empty ifName is asked for as it is
    instance_columns = shared(parts, tuple(column for column, _, _ in instances))
    at = {(column, index): oid for column, index, oid in instances}
    row_indexes = shared(parts, tuple(map(sys.intern, rows)))
    grid = shared(parts, tuple(at.get((column, index)) for index in row_indexes
                               for column in table.cells))
    return TableLayout(row_indexes,
                       instance_columns,
                       shared(parts, tuple(index for _, index, _ in instances)),
                       shared(parts, tuple(oid for _, _, oid in instances)),
                       shared(parts, tuple(p for p in probes if p not in asked)), row_count,
                       tuple(unchanged), grid=grid, holes=grid.count(None))
