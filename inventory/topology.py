"""The tree that upstream pointers form, for alert suppression and impact counts.

Every device hangs from its ``upstream``; ``core`` devices are the roots. When a device or
a backbone link fails, alerting needs everything below it (to suppress child alerts) and
the sites below it (to count the villages cut off), for any node, quickly.

The forest is laid out once in depth-first pre-order: the devices below any node then
form one contiguous slice of that order, so a downstream set is a list slice and
"is X above Y" is two integer comparisons. Everything is iterative -- a hand-written
inventory may chain thousands of devices -- and devices caught in (or hanging below) an
upstream cycle, which no root reaches, get slower but still terminating answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from operator import attrgetter

from inventory.gc_pause import gc_paused
from inventory.model import Inventory, Role

__all__ = ["Topology", "find_cycles"]

_SITE_ID = attrgetter("site_id")


_PEEL_ROUNDS = 64


def find_cycles(upstream: Mapping[str, str]) -> list[list[str]]:
    """Cycles in a ``device -> upstream`` map (each device has at most one upstream).

    Each cycle is returned once, as its members in upstream order, starting with the
    member that comes first in ``upstream`` (for inventories: first in the file) so the
    result is stable. Values that are not keys (roots, unknown ids) end a chain.
    """
    # Peel off leaves -- devices nothing hangs from -- a level at a time with set
    # operations (C speed): what survives is on a cycle, or on a chain too long to peel
    # cheaply. A real network is ~5 levels tall, so normally nothing survives.
    remaining = set(upstream.values()).intersection(upstream)  # what anything hangs from
    for _ in range(_PEEL_ROUNDS):
        kept = remaining.intersection(map(upstream.__getitem__, remaining))
        peeled = len(remaining) - len(kept)
        remaining = kept
        if not kept or peeled * 10 < len(kept):
            break  # long chains (or only cycles) left: the walk below is cheaper now
    if not remaining:
        return []
    suspects = {node: up for node, up in upstream.items() if node in remaining}
    walk_of: dict[str, int] = {}
    cycles: list[list[str]] = []
    for walk, start in enumerate(suspects):
        if start in walk_of:
            continue
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in walk_of:
            walk_of[node] = walk
            path.append(node)
            node = suspects.get(node)
        if node is not None and walk_of[node] == walk:
            cycles.append(path[path.index(node) :])
    rank = {node: index for index, node in enumerate(suspects)}
    rotated = []
    for cycle in cycles:
        first = min(range(len(cycle)), key=lambda i: rank[cycle[i]])
        rotated.append(cycle[first:] + cycle[:first])
    return rotated


class Topology:
    """Paths to the root and downstream sets over one inventory.

    Build it with :meth:`build`; it is immutable afterwards and safe to share between
    threads. Methods taking a device, site or link id raise ``KeyError`` for ids not in
    the inventory.
    """

    __slots__ = (
        "_children",
        "_devices",
        "_end",
        "_inventory",
        "_links",
        "_order",
        "_parent",
        "_position",
        "_roots",
        "_site_devices",
        "_sites",
    )

    def __init__(self, inventory: Inventory) -> None:
        """Use :meth:`build`; this lays the forest out (a few O(devices) passes)."""
        devices = inventory.devices
        self._inventory = inventory
        self._devices = devices
        self._sites = inventory.sites
        self._links = inventory.links
        ids = list(devices)
        records = devices.values()
        upstreams = list(map(attrgetter("upstream"), records))

        # The raw upstream of every device; "" or an unknown id makes it a root.
        parent = dict(zip(ids, upstreams, strict=True))
        children: dict[str, list[str]] = {}
        for device_id, up in zip(ids, upstreams, strict=True):
            if up in devices:
                kids = children.get(up)
                if kids is None:
                    children[up] = [device_id]
                else:
                    kids.append(device_id)
        roots = [d for d, up in zip(ids, upstreams, strict=True) if up not in devices]

        # Depth-first pre-order, children in inventory order, with a stack of iterators.
        # When a device's children are exhausted its subtree is complete: record where
        # it ends (a leaf's subtree ends right after it, so leaves are not recorded).
        # Children that are all leaves -- a gateway's access points, i.e. most devices --
        # are taken in one go.
        order: list[str] = []
        visit, take = order.append, order.extend
        all_leaves = children.keys().isdisjoint
        end: dict[str, int] = {}
        stack: list[tuple[str, Iterator[str]]] = [("", iter(roots))]
        while stack:
            owner, pending = stack[-1]
            for node in pending:
                visit(node)
                kids = children.get(node)
                if kids:
                    if all_leaves(kids):
                        take(kids)
                        end[node] = len(order)
                    else:
                        stack.append((node, iter(kids)))
                        break
            else:
                stack.pop()
                end[owner] = len(order)
        del end[""]

        self._parent = parent
        self._children = children
        self._site_devices: dict[str, list[str]] | None = None  # built on first use
        self._roots = tuple(roots)
        self._order = order
        self._position = dict(zip(order, range(len(order)), strict=True))
        self._end = end

    @classmethod
    def build(cls, inventory: Inventory) -> Topology:
        """Lay out the forest of ``inventory``'s devices.

        Never raises for a broken inventory: a device whose upstream is unknown is
        treated as a root, and cycles are reported by :meth:`find_cycles`.
        """
        with gc_paused():
            return cls(inventory)

    @property
    def inventory(self) -> Inventory:
        """The inventory this topology was built from (not to be changed afterwards)."""
        return self._inventory

    # -- devices -----------------------------------------------------------------------

    def _check(self, device_id: str) -> None:
        if device_id not in self._devices:
            raise KeyError(f"unknown device {device_id!r}")

    @property
    def roots(self) -> tuple[str, ...]:
        """Devices with no (known) upstream: the cores, plus orphans in a broken inventory."""
        return self._roots

    def parent(self, device_id: str) -> str | None:
        """The device's upstream, or None for a root."""
        self._check(device_id)
        up = self._parent[device_id]
        return up if up in self._devices else None

    def children(self, device_id: str) -> tuple[str, ...]:
        self._check(device_id)
        return tuple(self._children.get(device_id, ()))

    def path_to_root(self, device_id: str) -> list[str]:
        """``device_id``, its upstream, ..., its root. Inside an upstream cycle the path
        stops before the first repeated device."""
        self._check(device_id)
        parent = self._parent
        path = [device_id]
        node = parent[device_id]
        if device_id in self._position:  # a root reaches it: no cycle on the way up
            while node in parent:
                path.append(node)
                node = parent[node]
            return path
        seen = {device_id}
        while node in parent and node not in seen:
            seen.add(node)
            path.append(node)
            node = parent[node]
        return path

    def depth(self, device_id: str) -> int:
        """Hops from the root (a core has depth 0)."""
        return len(self.path_to_root(device_id)) - 1

    def is_upstream_of(self, ancestor: str, device_id: str) -> bool:
        """Whether ``device_id``'s path to the root passes through ``ancestor`` (not itself)."""
        self._check(ancestor)
        self._check(device_id)
        position = self._position
        a = position.get(ancestor)
        d = position.get(device_id)
        if a is not None and d is not None:
            return a < d < self._end.get(ancestor, a + 1)
        return ancestor in self.path_to_root(device_id)[1:]

    def _below(self, device_id: str) -> list[str]:
        """Devices below ``device_id`` (not itself), for devices no root reaches."""
        seen = {device_id}
        found: list[str] = []
        queue = [device_id]
        children = self._children
        while queue:
            node = queue.pop()
            for kid in children.get(node, ()):
                if kid not in seen:
                    seen.add(kid)
                    found.append(kid)
                    queue.append(kid)
        return found

    def downstream_devices(self, device_id: str) -> set[str]:
        """Every device whose path to the root passes through ``device_id`` (not itself)."""
        self._check(device_id)
        index = self._position.get(device_id)
        if index is None:
            return set(self._below(device_id))
        return set(self._order[index + 1 : self._end.get(device_id, index + 1)])

    def downstream_sites(self, device_id: str) -> set[str]:
        """Sites of ``device_id`` and of every device below it: the sites cut off if it fails."""
        self._check(device_id)
        index = self._position.get(device_id)
        if index is None:
            devices: Iterable[str] = [device_id, *self._below(device_id)]
        else:
            devices = self._order[index : self._end.get(device_id, index + 1)]
        sites = set(map(_SITE_ID, map(self._devices.__getitem__, devices)))
        sites.discard("")
        return sites

    def find_cycles(self) -> list[list[str]]:
        """Upstream cycles, each once, as in :func:`find_cycles`."""
        position = self._position
        if len(position) == len(self._devices):
            return []  # a root reaches every device, so no device is on a cycle
        # Only devices no root reaches can be on (or below) a cycle.
        return find_cycles({d: up for d, up in self._parent.items() if d not in position})

    # -- links -------------------------------------------------------------------------

    def link_downstream_root(self, link_id: str) -> str | None:
        """The endpoint of a link further from the core: the one whose path to the root
        passes through the other. None when neither is above the other (a ring or
        cross-connect, whose loss cuts nothing off) or an endpoint is unknown.
        """
        link = self._links[link_id]
        a, b = link.a_device, link.b_device
        if a not in self._devices or b not in self._devices or a == b:
            return None
        if self.is_upstream_of(a, b):
            return b
        if self.is_upstream_of(b, a):
            return a
        return None

    def link_downstream_devices(self, link_id: str) -> set[str]:
        """The far endpoint and everything below it: the devices cut off if the link fails."""
        root = self.link_downstream_root(link_id)
        if root is None:
            return set()
        found = self.downstream_devices(root)
        found.add(root)
        return found

    def link_downstream_sites(self, link_id: str) -> set[str]:
        """Sites of the far endpoint and of everything below it."""
        root = self.link_downstream_root(link_id)
        return set() if root is None else self.downstream_sites(root)

    # -- sites -------------------------------------------------------------------------

    def _site(self, site_id: str) -> list[str]:
        index = self._site_devices
        if index is None:
            # Not every user asks about sites; building this costs as much as the rest.
            # Two threads racing here build identical dicts, so no lock is needed.
            index = {}
            for device_id, device in self._devices.items():
                if device.site_id:
                    index.setdefault(device.site_id, []).append(device_id)
            self._site_devices = index
        at_site = index.get(site_id)
        if at_site is None:
            if site_id not in self._sites:
                raise KeyError(f"unknown site {site_id!r}")
            return []
        return at_site

    def site_devices(self, site_id: str) -> list[str]:
        """Devices at a site, in inventory order."""
        return list(self._site(site_id))

    def _site_role(self, site_id: str, role: Role) -> Iterable[str]:
        devices = self._devices
        return (d for d in self._site(site_id) if devices[d].role is role)

    def site_gateway(self, site_id: str) -> str | None:
        """The site's gateway (the first one, if a site lists several)."""
        return next(iter(self._site_role(site_id, Role.SITE_GATEWAY)), None)

    def site_access_points(self, site_id: str) -> list[str]:
        return list(self._site_role(site_id, Role.ACCESS_POINT))
