"""``--fault KIND=SHARE``: exactly that share of the devices, the same ones at every start."""

from __future__ import annotations

from inventory.generate import generate
from simulator.__main__ import apply_faults
from simulator.fleet import AddressPlan, Fleet


def _fleet() -> Fleet:
    return Fleet.from_inventory(generate(sites=30, seed=2), AddressPlan("127.1.0.0", 161))


def _silent(fleet: Fleet) -> set[str]:
    return {d for d, dev in fleet.devices.items() if dev.faults.silent}


def test_a_share_gives_exactly_that_many_devices_and_the_same_ones_each_time() -> None:
    first, second = _fleet(), _fleet()
    size = len(first.devices)
    assert size > 40
    assert apply_faults(first, [("silent", 0.1)], seed=1) == {"silent": round(0.1 * size)}
    apply_faults(second, [("silent", 0.1)], seed=1)
    assert _silent(first) == _silent(second)
    assert len(_silent(first)) == round(0.1 * size)
    other = _fleet()
    apply_faults(other, [("silent", 0.1)], seed=7)
    assert _silent(other) != _silent(first)


def test_a_share_too_small_for_one_device_still_gives_one_and_zero_gives_none() -> None:
    fleet = _fleet()
    counts = apply_faults(fleet, [("silent", 0.001), ("slow", 0.0)], seed=1)
    assert counts == {"silent": 1, "slow": 0}
    assert len(_silent(fleet)) == 1
