"""``pubnet alerts export-rules``: the same topology for Prometheus + Alertmanager users.

The exporter labels ``pubnet_device_up`` with ``device, site, role, province`` and
``pubnet_site_up`` with ``site, province, district, kind``; that is not enough to know what
hangs below what. So the export writes, from the inventory, one constant recording rule per
backbone device and backbone link (cores, provincial nodes, district routers: about a
thousand, not one per village) carrying its place in the tree:
``pubnet_topology_info{device, level, core, province, district}``. The alerting rules join
on it, so every alert carries ``level`` and the ids above it, and the Alertmanager inhibition
rules say, with ``equal:`` on those labels, "while a core / provincial node / district router
(or the link to it) is down, the alerts below it are silent". Sites reach their district
through ``pubnet_site_info``. Inhibited alerts still inhibit, so the chain core -> province ->
district -> site holds through every level.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from inventory.model import Inventory, Role
from inventory.topology import Topology
from pubnet.catalog import (
    INFLUX_POINTS_DROPPED,
    LINK_TOPOLOGY_INFO,
    SOCKET_RECEIVE_DROPS,
    STATE_DROPPED,
    TOPOLOGY_INFO,
)

RULES_FILE = "pubnet-rules.yml"
TOPOLOGY_FILE = "pubnet-topology.yml"
ALERTMANAGER_FILE = "alertmanager.yml"

LEVEL = {Role.CORE: "core", Role.PROVINCIAL_NODE: "province",
         Role.DISTRICT_AGGREGATION: "district"}

FOR = "3m"
"""Like ``down_after: 3`` at a one-minute scrape interval."""


def _served(inventory: Inventory, topology: Topology, device_id: str) -> list[tuple[str, str]]:
    """(province, district) pairs of the sites below a device, sorted; ('', '') if none."""
    pairs = set()
    for site_id in topology.downstream_sites(device_id):
        site = inventory.sites.get(site_id)
        if site is not None:
            pairs.add((site.province_code, site.district_code))
    return sorted(pairs) or [("", "")]


def _core_of(topology: Topology, device_id: str) -> str:
    return topology.path_to_root(device_id)[-1]


def topology_rules(inventory: Inventory) -> dict[str, Any]:
    """Recording rules with one constant series per backbone device/link and place served."""
    topology = Topology.build(inventory)
    devices: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for device_id, device in inventory.devices.items():
        level = LEVEL.get(device.role)
        if level is None:
            continue
        core = _core_of(topology, device_id)
        if level == "core":
            places = [("", "")]
        elif level == "province":
            places = sorted({(p, "") for p, _ in _served(inventory, topology, device_id)})
        else:
            places = _served(inventory, topology, device_id)
        devices += _info_rules(TOPOLOGY_INFO,
                               {"device": device_id, "level": level, "core": core}, places)
    for link_id in inventory.links:
        far = topology.link_downstream_root(link_id)
        if far is None:
            continue
        level = LEVEL.get(inventory.devices[far].role)
        if level is None or level == "core":
            continue
        core = _core_of(topology, far)
        places = _served(inventory, topology, far)
        if level == "province":
            places = sorted({(p, "") for p, _ in places})
        links += _info_rules(LINK_TOPOLOGY_INFO,
                             {"link": link_id, "device": far, "level": level, "core": core},
                             places)
    return {"groups": [{"name": "pubnet-topology", "interval": "1m",
                        "rules": devices + links}]}


def _info_rules(record: str, labels: dict[str, str],
                places: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """One ``vector(1)`` series of ``record`` per place an element serves, labelled with the
    province and district where known (a core router has neither)."""
    rules: list[dict[str, Any]] = []
    for province, district in places:
        placed = dict(labels)
        if province:
            placed["province"] = province
        if district:
            placed["district"] = district
        rules.append({"record": record, "expr": "vector(1)", "labels": placed})
    return rules


def _alert(name: str, expr: str, severity: str, summary: str, level: str | None = None,
           for_: str = FOR) -> dict[str, Any]:
    labels = {"severity": severity}
    if level is not None:
        labels["level"] = level
    return {"alert": name, "expr": expr, "for": for_, "labels": labels,
            "annotations": {"summary": summary}}


_JOIN = ("(pubnet_device_up == 0) * on(device) group_left(level, core, province, district) "
         'pubnet_topology_info{{level="{level}"}}')


def alert_rules() -> dict[str, Any]:
    """Alerting rules; their labels carry the topology the inhibition rules match on."""
    return {"groups": [{"name": "pubnet-alerts", "rules": [
        _alert("PubnetCoreDown", _JOIN.format(level="core"), "critical",
               "Core router {{ $labels.device }} is down"),
        _alert("PubnetProvincialNodeDown", _JOIN.format(level="province"), "critical",
               "Provincial node {{ $labels.device }} (province {{ $labels.province }}) is down"),
        _alert("PubnetDistrictRouterDown", _JOIN.format(level="district"), "major",
               "District router {{ $labels.device }} (district {{ $labels.district }}) is "
               "down"),
        _alert("PubnetBackboneLinkDown",
               "(pubnet_link_up == 0) * on(link) group_left(device, level, core, province, "
               "district) pubnet_link_topology_info", "major",
               "Backbone link {{ $labels.link }} to {{ $labels.device }} is down"),
        _alert("PubnetSiteDown", "pubnet_site_up == 0", "minor",
               "Site {{ $labels.site }} (district {{ $labels.district }}) is down", "site"),
        _alert("PubnetSiteDeviceDown",
               '(pubnet_device_up{role=~"site_gateway|access_point"} == 0) '
               "* on(site) group_left(district) pubnet_site_info", "warning",
               "{{ $labels.role }} {{ $labels.device }} at site {{ $labels.site }} is down",
               "site"),
    ]}, {"name": "pubnet-self", "rules": self_rules()}]}


_REJECTED_VALUES = "non_finite_value|empty_name|reserved_tag"
"""Influx drop reasons that are a device's bad values, not points lost (docs/influxdb.md)."""


def self_rules() -> list[dict[str, Any]]:
    """pubnet watching itself, for the NOC's route: the alerts that say pubnet is blind or
    losing what it should see, before a technician misses an outage because of it.

    Loss is counted where it happens (kernel, state-store subscriber, Influx writer,
    alert delivery); each rule fires on any loss in its window, since each counter only
    moves when something was lost."""
    per_10m = "sum by (instance, {by}) (increase({metric}[10m])) > 0"
    return [
        _alert("PubnetDown", 'up{job=~"pubnet.*"} == 0', "critical",
               "pubnet at {{ $labels.instance }} does not answer scrapes: outages there go "
               "unseen", for_="2m"),
        _alert("PubnetAlertDeliveryFailing",
               "sum by (instance, channel) "
               "(increase(pubnet_alerting_delivery_failures_total[15m])) > 0 unless sum by "
               "(instance, channel) (increase(pubnet_alerting_messages_delivered_total[15m]))"
               " > 0", "critical",
               "pubnet at {{ $labels.instance }} cannot deliver alert messages on "
               "{{ $labels.channel }}: technicians are not being told (messages wait in its "
               "outbox)", for_="0m"),
        _alert("PubnetPollsLate", "pubnet_poll_lag_seconds > 120", "warning",
               "pubnet's polls at {{ $labels.instance }} are {{ $value | humanizeDuration }}"
               " late: the poller cannot keep up (docs/deployment.md, capacity)",
               for_="10m"),
        _alert("PubnetDatagramsDropped",
               per_10m.format(by="socket", metric=SOCKET_RECEIVE_DROPS),
               "warning",
               "The kernel dropped {{ $value | printf \"%.0f\" }} datagrams from pubnet's "
               "{{ $labels.socket }} socket at {{ $labels.instance }} in 10 minutes: traps "
               "or echo replies lost (docs/metrics.md)", for_="0m"),
        _alert("PubnetSubscriberDropping",
               per_10m.format(by="subscriber", metric=STATE_DROPPED),
               "warning",
               "pubnet's {{ $labels.subscriber }} at {{ $labels.instance }} fell behind and "
               "lost observations in 10 minutes", for_="0m"),
        _alert("PubnetInfluxPointsLost",
               per_10m.format(by="reason", metric=INFLUX_POINTS_DROPPED
                              + f'{{reason!~"{_REJECTED_VALUES}"}}'),
               "warning",
               "pubnet at {{ $labels.instance }} lost {{ $value | printf \"%.0f\" }} "
               "points for InfluxDB in 10 minutes ({{ $labels.reason }})", for_="0m"),
        _alert("PubnetReloadRejected", "pubnet_config_last_reload_successful == 0",
               "warning",
               "pubnet at {{ $labels.instance }} rejected its new config or inventory and "
               "runs the previous one (its log says why)", for_="0m"),
    ]


def alertmanager_config(webhook_url: str = "http://127.0.0.1:9095/alertmanager") -> (
    dict[str, Any]
):
    """Routing to one receiver plus the inhibition rules that encode the tree."""
    def inhibit(source: list[str], target: list[str], equal: list[str]) -> dict[str, Any]:
        return {"source_matchers": source, "target_matchers": target, "equal": equal}

    return {
        "route": {
            "receiver": "pubnet-noc",
            "group_by": ["alertname", "province", "district"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
        },
        "receivers": [{"name": "pubnet-noc",
                       "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
        "inhibit_rules": [
            # a core down silences every provincial node, district router and link below it
            inhibit(['alertname="PubnetCoreDown"'], ['level=~"province|district"'], ["core"]),
            # the link into a node explains the node being unreachable
            inhibit(['alertname="PubnetBackboneLinkDown"'],
                    ['alertname=~"PubnetProvincialNodeDown|PubnetDistrictRouterDown"'],
                    ["device"]),
            # a provincial node (or its link) down silences its districts and sites
            inhibit(['level="province"'], ['level=~"district|site"'], ["province"]),
            # a district router (or its link) down silences its sites
            inhibit(['level="district"'], ['level="site"'], ["district"]),
            # a site down silences its own gateway and access point alerts
            inhibit(['alertname="PubnetSiteDown"'], ['alertname="PubnetSiteDeviceDown"'],
                    ["site"]),
        ],
    }


def export_rules(inventory: Inventory, out: Path) -> list[Path]:
    """Write the three files into ``out`` (created if needed); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        RULES_FILE: alert_rules(),
        TOPOLOGY_FILE: topology_rules(inventory),
        ALERTMANAGER_FILE: alertmanager_config(),
    }
    written = []
    for name, data in files.items():
        path = out / name
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
        written.append(path)
    return written
