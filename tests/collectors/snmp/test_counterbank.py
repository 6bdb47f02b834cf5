"""The poller's packed counters: the same totals as the counter rules, one slot map per model."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collectors.snmp.collect import DeviceMemory, collect
from collectors.snmp.counterbank import CounterBank, SlotMaps
from collectors.snmp.counters import CounterState, advance
from collectors.snmp.profiles import load_profiles
from pubnet.model import SeriesKey
from testbed.scripted import ScriptedClient
from tests.collectors.snmp.test_poller import agent_state

RX: SeriesKey = ("pubnet_interface_receive_bytes_total", (("ifname", "ether1"),))
TX: SeriesKey = ("pubnet_interface_transmit_bytes_total", (("ifname", "ether1"),))

readings = st.lists(st.tuples(st.integers(0, 2**64 - 1), st.sampled_from([32, 64]),
                              st.booleans(), st.none() | st.integers(0, 2**40)),
                    min_size=1, max_size=40)


@given(readings=readings)
def test_a_slot_counts_as_the_counter_rules_do(
        readings: list[tuple[int, int, bool, int | None]]) -> None:
    """Wraps, resets, width changes and giant values near 2^64: every total is the one
    :func:`advance` gives (the bank keeps ``total - raw`` instead of the total)."""
    bank = CounterBank()
    state: CounterState | None = None
    for raw, width, reset, bound in readings:
        raw = raw % (1 << width)
        state = advance(state, raw, width, reset=reset, max_delta=bound)
        slot = bank.slots.get(RX)
        total = (bank.add(RX, raw, width) if slot is None
                 else bank.advance(slot, raw, width, reset=reset, max_delta=bound))
        assert total == state.total == bank.total(RX)


def test_devices_with_the_same_counters_hold_one_slot_map() -> None:
    maps: SlotMaps = {}
    one, two, other = CounterBank(), CounterBank(), CounterBank()
    for bank, keys in ((one, (RX, TX)), (two, (RX, TX)), (other, (TX, RX))):
        for raw, key in enumerate(keys, 7):
            bank.add(key, raw, 64)
        bank.share(maps)
    assert one.slots is two.slots and other.slots is not one.slots
    assert (one.total(RX), two.total(TX), other.total(RX)) == (7, 8, 8)
    # a device that gains a counter copies the shared map; its peer keeps it
    rx2: SeriesKey = (RX[0], (("ifname", "ether2"),))
    two.add(rx2, 1, 64)
    assert rx2 in two and rx2 not in one and two.slots is not one.slots
    assert dict(maps[(RX, TX)]) == {RX: 0, TX: 1}


async def test_a_fleet_of_one_model_shares_its_counter_slots() -> None:
    """Through the poll path: devices polled alike end up with one slot map, while each
    keeps its own totals."""
    profiles = load_profiles()
    keys: dict[SeriesKey, SeriesKey] = {}
    maps: SlotMaps = {}
    memories = [DeviceMemory(keys=keys, slot_maps=maps) for _ in range(3)]
    for number, memory in enumerate(memories):
        state = agent_state(100_000, 5_000 + number, 7)
        await collect(ScriptedClient(state), profiles, "if-mib", f"gw{number}", memory, 1000.0)
    assert len({id(m.counters.slots) for m in memories}) == 1
    assert [m.counters.total(RX) for m in memories] == [5_000, 5_001, 5_002]


async def test_a_negative_value_in_a_counter_column_is_not_counted() -> None:
    """An agent that answers a counter with a negative INTEGER: no counter value, and the
    poll goes on (a slot holds unsigned 64-bit readings)."""
    profiles = load_profiles()
    state = agent_state(100_000, -5, 7)
    memory = DeviceMemory()
    result = await collect(ScriptedClient(state), profiles, "if-mib", "gw1", memory, 1000.0)
    assert RX not in memory.counters
    assert not [o for o in result.observations if o.key == RX]
    assert [o for o in result.observations if o.metric == "pubnet_device_uptime_seconds"]
