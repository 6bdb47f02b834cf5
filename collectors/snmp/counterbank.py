"""One device's counter states, packed: what the poller remembers of every counter it reads.

At 100,000 devices the poller follows about 1.1 million counters. As one
:class:`~collectors.snmp.counters.CounterState` each, in a dict per device, a counter cost
~190 bytes (the state object, its raw and total ints, the dict entry): ~200 MB, a tenth of
the service's memory (tracemalloc of ``bench/fleet.py --devices 20000 --snapshot-after``).

Here a counter is a slot: its last raw value in an unsigned 64-bit array, its width in a
byte, and ``offset = total - raw`` in a list. The offset stays 0 (Python's one shared ``0``)
until the counter wraps, resets or changes width, so a counter costs ~17 bytes. Which key is
in which slot is a dict that devices of one model share: their counters come in the same
order, so after the first poll every such device holds the same one (:meth:`share`).

The counter rules are :func:`collectors.snmp.counters.delta`'s, the same as
:func:`~collectors.snmp.counters.advance`'s.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

from collectors.snmp.counters import WRAP64, delta
from pubnet.model import SeriesKey

MAX_SHARED_SLOT_MAPS = 50_000
"""Distinct slot maps kept for sharing; beyond it a device keeps its own (a fleet with that
many distinct counter sets gains little from sharing)."""

SlotMaps = dict[tuple[SeriesKey, ...], dict[SeriesKey, int]]
"""Slot maps already held, by their keys in slot order, shared by every device of a poller."""

_NO_SLOTS: dict[SeriesKey, int] = {}


class CounterBank:
    """The counters of one device (see module docstring)."""

    __slots__ = ("_own", "offsets", "raws", "slots", "widths")

    def __init__(self) -> None:
        self.slots: dict[SeriesKey, int] = _NO_SLOTS
        """Key to slot; shared with other devices unless ``_own`` (never mutate a shared one)."""
        self.raws = array("Q")
        self.offsets: list[int] = []
        self.widths = bytearray()
        self._own = False

    def __contains__(self, key: object) -> bool:
        return key in self.slots

    def __iter__(self) -> Iterator[SeriesKey]:
        return iter(self.slots)

    def __len__(self) -> int:
        return len(self.slots)

    def total(self, key: SeriesKey) -> int | None:
        """The counter's total, or None when it has not been read."""
        slot = self.slots.get(key)
        return None if slot is None else self.raws[slot] + self.offsets[slot]

    def add(self, key: SeriesKey, raw: int, width: int) -> int:
        """Start a counter at its first reading; its total is ``raw``, returned. (A key
        read twice in one poll, two rows with one name, advances the one counter.)"""
        slot = self.slots.get(key)
        if slot is not None:
            return self.advance(slot, raw, width)
        if not self._own:
            self.slots = dict(self.slots)
            self._own = True
        self.slots[key] = len(self.raws)
        self.raws.append(raw)
        self.offsets.append(0)
        self.widths.append(width)
        return raw

    def advance(self, slot: int, raw: int, width: int, *, reset: bool = False,
                max_delta: int | None = None) -> int:
        """The counter's total after reading ``raw``, by :func:`~collectors.snmp.counters.delta`."""
        last = self.raws[slot]
        total = last + self.offsets[slot] + delta(last, self.widths[slot], raw, width,
                                                  reset=reset, max_delta=max_delta)
        self.raws[slot] = raw
        self.offsets[slot] = total - raw
        self.widths[slot] = width
        return total

    def share(self, maps: SlotMaps) -> None:
        """Hold the slot map another device with the same keys holds (after a poll that
        added keys), or offer this one for sharing."""
        if not self._own:
            return
        order = tuple(self.slots)
        held = maps.get(order)
        if held is not None:
            self.slots = held
        elif len(maps) < MAX_SHARED_SLOT_MAPS:
            maps[order] = self.slots
        else:
            return  # kept as its own: later keys are added without a copy
        self._own = False


def storable(raw: int) -> bool:
    """Whether a counter reading fits a slot: an SNMP counter is unsigned and at most 64
    bits; anything else (a negative INTEGER in a counter column) is not a counter value."""
    return 0 <= raw < WRAP64
