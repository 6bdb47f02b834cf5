"""Which shard polls which site: rendezvous (highest-random-weight) hashing on the site id.

``pubnet run --shard I/N`` (or ``shard: I/N`` in the config) polls only the sites whose
highest-scoring shard is ``I``. Rendezvous hashing keeps a site's devices together (the
key is the **site** id; a device without a site, a provincial node or a core, is keyed on
its own id), so ``pubnet_site_up`` is computed where the site's devices are. While N is
unchanged the assignment never moves; when N becomes N+1 only the ~1/(N+1) of the sites the
new shard wins move, all of them to it, and no site moves between the old shards.

The score is a stable hash (BLAKE2b, not Python's salted ``hash``) so that every machine
agrees without talking to the others. Ground layer: imports only the inventory model.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from inventory.model import Device, Inventory

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based, as written: ``1/2`` and ``2/2``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise ValueError(f"shard must be I/N with 1 <= I <= N, got {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"1/2"`` into ``Shard(1, 2)``; raises ValueError naming the expected form."""
        match = _SPEC.match(text)
        if match is None:
            raise ValueError(f"shard must be written I/N, e.g. 1/2, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, key: str) -> bool:
        return owner(key, self.count) == self.index


def _score(key: str, shard: int) -> int:
    digest = hashlib.blake2b(f"{shard}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(key: str, count: int) -> int:
    """The shard (1..count) that owns ``key``: the one with the highest score for it."""
    if count == 1:
        return 1
    return max(range(1, count + 1), key=lambda shard: _score(key, shard))


def shard_key(device: Device) -> str:
    """What a device is placed by: its site, or its own id when it has no site."""
    return device.site_id or device.device_id


def select(inventory: Inventory, shard: Shard) -> Inventory:
    """The part of ``inventory`` this shard watches: the sites it owns with all their
    devices, the site-less devices it owns, and the links whose a-side device (the one the
    link is observed through) it watches. Devices keep their ``upstream`` even when the
    upstream is another shard's: topology is whole only where alerting runs."""
    if shard.count == 1:
        return inventory
    owned: dict[str, bool] = {}
    devices = {}
    for device_id, device in inventory.devices.items():
        key = shard_key(device)
        mine = owned.get(key)
        if mine is None:
            mine = owned[key] = shard.owns(key)
        if mine:
            devices[device_id] = device
    sites = {site_id: site for site_id, site in inventory.sites.items()
             if owned.get(site_id, shard.owns(site_id))}
    links = {link_id: link for link_id, link in inventory.links.items()
             if link.a_device in devices}
    return replace(inventory, sites=sites, devices=devices, links=links,
                   source=f"{inventory.source} (shard {shard})")
