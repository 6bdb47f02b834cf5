"""One :class:`pubnet.derive.Derivation` per loaded inventory, shared by every component
that reads the site and link rules (issue 15: each copy is ~4.5 MB at 20,000
devices), and a new one for everybody after a reload."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from alerting.service import AlertingService
from dashboards.reports.recorder import HistoryRecorder
from dashboards.status import StatusPage
from exporters.prometheus.endpoint import PrometheusExporter
from inventory.model import Device, Inventory, Link, Medium, Role
from inventory.writer import write_inventory
from pubnet.app.reload import Service, Sources, load_setup
from pubnet.app.runtime import Component
from pubnet.derive import Derivation, derivation_for
from tests.reports.fleet import site
from tests.support import free_port


def _inventory(sites: int) -> Inventory:
    """ICMP-watched devices on loopback (nothing answers; only loopback is probed), with a
    link from the core to each gateway."""
    inv = Inventory()
    inv.devices["core"] = Device("core", "", Role.CORE, "127.0.0.3", None, "icmp", "", "",
                                 "50")
    for n in range(1, sites + 1):
        site_id = f"S{n}"
        inv.sites[site_id] = site(site_id, "5001", f"บ้าน {n}")
        inv.devices[f"gw-{n}"] = Device(f"gw-{n}", site_id, Role.SITE_GATEWAY,
                                        f"127.0.1.{n}", None, "icmp", "", "core")
        inv.links[f"ln-{n}"] = Link(f"ln-{n}", "core", f"ge-{n}", f"gw-{n}", "ge-0",
                                    Medium.FIBER, 1_000_000_000, "NT")
    return inv


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "pubnet.yaml"
    config.write_text(yaml.safe_dump({
        "inventory": "inventory",
        "prometheus": {"listen": f"127.0.0.1:{free_port()}"},
        "alerting": {"database": "state/pubnet.db"},
        "icmp": {"interval": "60s", "timeout": "0.3s", "count": 1},
        "history": {"flush_interval": "0.1s", "heartbeat": "0.5s"},
    }), encoding="utf-8")
    return config


def _derivations(parts: list[Component]) -> list[Derivation]:
    """The index each site/link-reading component was built with, in a fixed order."""
    found: dict[type, Derivation] = {}
    for part in parts:
        if isinstance(part, PrometheusExporter):
            metrics = part.service.exposition._inventory  # what it renders from
            assert metrics is not None
            found[PrometheusExporter] = metrics.derivation
        elif isinstance(part, StatusPage):
            found[StatusPage] = part.fleet.derivation
        elif isinstance(part, AlertingService):
            found[AlertingService] = part.intake.readings.derivation
        elif isinstance(part, HistoryRecorder):
            found[HistoryRecorder] = part.derivation
    assert set(found) == {PrometheusExporter, StatusPage, AlertingService, HistoryRecorder}
    return list(found.values())


async def test_components_share_one_derivation_before_and_after_a_reload(
        tmp_path: Path) -> None:
    write_inventory(_inventory(2), tmp_path / "inventory")
    sources = Sources(_config(tmp_path))
    setup = await asyncio.to_thread(load_setup, sources)
    assert setup.derivation is not None and setup.derivation.inventory is setup.inventory
    service = Service(setup, sources)
    first = _derivations(service.components)
    assert all(d is setup.derivation for d in first)

    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    try:
        write_inventory(_inventory(3), tmp_path / "inventory")
        outcome = await asyncio.wait_for(service.reload("test"), 20)
        assert outcome.ok, outcome.problems
        after = _derivations(service.components)
        assert all(d is after[0] for d in after)
        assert after[0] is not setup.derivation
        assert set(after[0].sites) == {"S1", "S2", "S3"}
        assert after[0].inventory is service.setup.inventory
    finally:
        stop.set()
        await asyncio.wait_for(running, 20)


def test_a_derivation_of_another_inventory_is_refused() -> None:
    mine, other = _inventory(1), _inventory(1)
    shared = Derivation(mine)
    assert derivation_for(mine, shared) is shared
    assert derivation_for(mine, None) is not shared
    with pytest.raises(ValueError, match="another inventory"):
        derivation_for(other, shared)
