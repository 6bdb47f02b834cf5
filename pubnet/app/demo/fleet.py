"""The demo fleet: a generated inventory whose devices answer SNMP on loopback addresses of
their own, but for the site gateways that report over MQTT (the simulator publishes for them
through the embedded broker), so that the simulator can silence or power off any device and
no ping rights are needed."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inventory.model import Inventory

DEMO_NETWORK = "127.77.0.0"
"""Where the simulated devices listen (127.77.x.y): away from 127.0.0.1 and the simulator's
own default 127.1.0.0, so a demo next to tests or a standalone simulator does not collide."""


def demo_inventory(sites: int, seed: int) -> Inventory:
    """A generated inventory: site gateways the generator gives an ICMP profile are polled
    over SNMP here (``router`` profile); those with the ``mqtt`` profile stay MQTT."""
    from inventory.generate import VILLAGE_CREDENTIAL, generate
    from inventory.model import Inventory

    generated = generate(sites=sites, seed=seed)
    devices = {
        dev_id: dataclasses.replace(dev, profile="router", credential=VILLAGE_CREDENTIAL)
        if dev.profile == "icmp" else dev
        for dev_id, dev in generated.devices.items()
    }
    return Inventory(sites=dict(generated.sites), devices=devices, links=dict(generated.links),
                     source=generated.source)

