"""A provincial node or core has no site; its series still carry the province the
inventory gives it (``province_code`` of the device), whichever component labels them."""

from __future__ import annotations

from dataclasses import replace

from collectors.identity import device_labels as collector_labels
from exporters.influx.lineproto import device_tags
from exporters.prometheus.exposition import FleetExposition, Format
from inventory.model import Inventory, Role
from pubnet.model import PollStatus, Source
from pubnet.state import StateStore
from tests.exporters.helpers import attempt, device, small_inventory


def with_node() -> Inventory:
    inv = small_inventory()
    node = replace(device("pn-24", "", Role.PROVINCIAL_NODE, "core-1"), province_code="24")
    inv.devices["pn-24"] = node
    return inv


def test_device_up_of_a_node_carries_its_province() -> None:
    inv = with_node()
    store = StateStore()
    attempt(store, "pn-24", PollStatus.OK, 1.0, Source.MQTT, inv)
    text = FleetExposition(store, inv).render_sync(Format.TEXT, False).decode()
    line = next(ln for ln in text.splitlines() if ln.startswith('pubnet_device_up{device="pn-24"'))
    assert 'province="24"' in line and 'role="provincial_node"' in line


def test_collector_and_influx_labels_of_a_node_carry_its_province() -> None:
    inv = with_node()
    up, info = collector_labels(inv, inv.devices["pn-24"])
    assert ("province", "24") in up and ("province", "24") in info
    assert ("province", "24") in device_tags(inv)["pn-24"]
    # a device at a site keeps its site's province
    assert ("province", "40") in collector_labels(inv, inv.devices["gw1"])[0]
