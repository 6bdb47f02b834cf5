"""The running counts equal a recount from scratch with the rule of ``pubnet_site_up``,
after any sequence of device changes (including a resync after lost changes)."""

from __future__ import annotations

import random

import pytest

from dashboards.status.fleet import FleetStatus
from inventory.generate import generate
from pubnet.derive import Derivation, Health, device_health, site_health
from pubnet.model import DeviceState, PollStatus

STATUSES = [None, PollStatus.OK, PollStatus.OK, PollStatus.TIMEOUT, PollStatus.UNREACHABLE]


def recount(fleet: FleetStatus, statuses: dict[str, PollStatus | None]) -> dict[str, object]:
    derivation = Derivation(fleet.inventory)

    def health(device: str) -> Health:
        return device_health(statuses.get(device))

    sites = {site_id: site_health(members, health)
             for site_id, members in derivation.sites.items()}
    by_province: dict[str, list[int]] = {}
    villages: dict[tuple[str, str], list[int]] = {}
    for site_id, value in sites.items():
        site = fleet.inventory.sites[site_id]
        slot = {Health.UP: 0, Health.DOWN: 1, Health.UNKNOWN: 2}[value]
        by_province.setdefault(site.province_code, [0, 0, 0])[slot] += 1
        village = villages.setdefault((site.subdistrict_code, site.village), [0, 0])
        if slot < 2:
            village[slot] += 1
    devices = [health(d) for d in fleet.inventory.devices]
    return {
        "sites": [sum(1 for v in sites.values() if v is h)
                  for h in (Health.UP, Health.DOWN, Health.UNKNOWN)],
        "devices": [devices.count(h) for h in (Health.UP, Health.DOWN, Health.UNKNOWN)],
        "provinces": by_province,
        "villages_without_service": sum(1 for up, down in villages.values()
                                        if up == 0 and down > 0),
        "site_status": {s: v.value for s, v in sites.items()},
    }


def counted(fleet: FleetStatus) -> dict[str, object]:
    return {
        "sites": [fleet.nation.up, fleet.nation.down, fleet.nation.unknown],
        "devices": [fleet.devices.up, fleet.devices.down, fleet.devices.unknown],
        "provinces": {p.code: [c.up, c.down, c.unknown]
                      for p, c in zip(fleet.provinces, fleet.province_counts, strict=True)},
        "villages_without_service": fleet.villages_without_service,
        "site_status": {s.site_id: fleet.site_health(i) for i, s in enumerate(fleet.sites)},
    }


@pytest.mark.parametrize("seed", [1, 2, 3], ids=["seed-1", "seed-2", "seed-3"])
def test_incremental_counts_equal_a_recount(seed: int) -> None:
    inventory = generate(sites=300, seed=seed)
    fleet = FleetStatus(inventory)
    rng = random.Random(seed)
    devices = sorted(inventory.devices)
    statuses: dict[str, PollStatus | None] = {}
    for step in range(3000):
        device = rng.choice(devices)
        statuses[device] = rng.choice(STATUSES)
        fleet.set_device(device, statuses[device], float(step))
        if step % 500 == 0:
            assert counted(fleet) == recount(fleet, statuses)
    assert counted(fleet) == recount(fleet, statuses)
    districts = sum(c.total for c in fleet.district_counts)
    assert districts == len(inventory.sites)


def test_sync_corrects_what_was_missed() -> None:
    inventory = generate(sites=200, seed=4)
    fleet = FleetStatus(inventory)
    rng = random.Random(4)
    store_view: dict[str, DeviceState] = {}
    statuses: dict[str, PollStatus | None] = {}
    for device in inventory.devices:
        status = rng.choice(STATUSES)
        statuses[device] = status
        if status is not None:
            store_view[device] = DeviceState(device, status=status, since=5.0)
    corrected = fleet.sync(store_view, 10.0)
    assert corrected == sum(1 for s in statuses.values() if s is not None)
    assert counted(fleet) == recount(fleet, statuses)
    assert fleet.sync(store_view, 11.0) == 0
    assert fleet.site_codes().count(b"d") == fleet.nation.down
