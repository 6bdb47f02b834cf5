"""Device labels are shared between devices (issue 15: ~950 bytes of label tuples per
device at 20,000 devices): equal pairs and label sets are one object per collector."""

from __future__ import annotations

import pytest

from collectors import identity
from collectors.identity import SharedLabels, device_labels, info_labels
from collectors.snmp.poller import DevicePoller, load_configured_profiles
from inventory.model import Device, Inventory, Role
from tests.collectors.snmp.fleet import make_config
from tests.reports.fleet import site


def _inventory() -> Inventory:
    inv = Inventory()
    for site_id in ("S1", "S2"):
        inv.sites[site_id] = site(site_id, "5001", f"บ้าน {site_id}")
        inv.devices[f"gw-{site_id}"] = Device(f"gw-{site_id}", site_id, Role.SITE_GATEWAY,
                                              "127.0.0.1", None, "if-mib", "v2", "")
        for n in (1, 2):
            ap = f"ap-{site_id}-{n}"
            inv.devices[ap] = Device(ap, site_id, Role.ACCESS_POINT, "127.0.0.1", None,
                                     "if-mib", "v2", f"gw-{site_id}")
    return inv


def _fresh(text: str) -> str:
    """An equal string that is not the same object (as a decoded SNMP response is)."""
    return (text + " ")[:-1]


def test_equal_pairs_and_label_sets_are_one_object() -> None:
    inv = _inventory()
    shared: SharedLabels = {}
    labels = {d: device_labels(inv, inv.devices[d], shared) for d in inv.devices}
    assert labels == {d: device_labels(inv, inv.devices[d]) for d in inv.devices}
    gw1_up, gw1_info = labels["gw-S1"]
    _gw2_up, gw2_info = labels["gw-S2"]
    for pair1, pair2 in zip(gw1_info, gw2_info, strict=True):
        if pair1[0] == "site":
            assert pair1 != pair2
        else:
            assert pair1 is pair2, pair1
    assert labels["ap-S1-1"][0] is labels["ap-S1-2"][0]
    assert labels["ap-S1-1"][1] is labels["ap-S1-2"][1]
    assert gw1_up[0] is labels["ap-S1-1"][0][0], "one site pair per site"

    one = info_labels(gw1_info, "gw-S1", _fresh("RouterOS RB951Ui-2HnD"), shared)
    two = info_labels(gw2_info, "gw-S2", _fresh("RouterOS RB951Ui-2HnD"), shared)
    assert one[-1] is two[-1] and one[-1] == ("sys_descr", "RouterOS RB951Ui-2HnD")
    assert one == (*gw1_info, ("sys_name", "gw-S1"), ("sys_descr", "RouterOS RB951Ui-2HnD"))


def test_a_full_table_shares_what_it_has_and_grows_no_more(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity, "SHARED_MAX", 3)
    shared: SharedLabels = {}
    base = (("site", "S1"),)
    first = info_labels(base, "a", _fresh("model"), shared)
    for n in range(10):
        labels = info_labels(base, "a", f"uptime {n}", shared)
        assert labels[-1] == ("sys_descr", f"uptime {n}")
    assert len(shared) == 3
    assert info_labels(base, "b", _fresh("model"), shared)[-1] is first[-1]


def test_the_snmp_poller_shares_labels_between_its_devices() -> None:
    inv = _inventory()
    config = make_config()
    poller = DevicePoller(config, inv, load_configured_profiles(config.snmp))
    one, two = poller.prepare(inv.devices["gw-S1"]), poller.prepare(inv.devices["gw-S2"])
    assert one.info_labels[1] is two.info_labels[1]  # ("role", "site_gateway")
    assert one.info_labels[-1] is two.info_labels[-1]  # ("district", "5001")
    first, second = poller.prepare(inv.devices["ap-S1-1"]), poller.prepare(
        inv.devices["ap-S1-2"])
    assert first.up_labels is second.up_labels
