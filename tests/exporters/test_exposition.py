"""The exposition text itself: escaping, grouping, formats, incremental re-rendering."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import math
import random
import time
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporters.prometheus import gzipper
from exporters.prometheus.endpoint import SCRAPE_RENDER_BUDGET, MetricsService
from exporters.prometheus.exposition import CHUNK_BYTES, FleetExposition, Format, RefreshStats
from exporters.prometheus.families import FamilyTable
from exporters.prometheus.inventory_metrics import InventoryMetrics
from exporters.prometheus.render import (
    DeviceRenderer,
    DropCounter,
    escape_label_value,
    format_value,
    render_labels,
)
from inventory.generate import generate
from inventory.model import Inventory
from pubnet.catalog import POLL_LAG, PUBNET_DEVICE
from pubnet.model import Observation, PollStatus, Source
from pubnet.state import StateStore
from testbed.waiting import eventually
from tests.exporters.helpers import attempt, device, interface, set_up, small_inventory
from tests.memory import kept_by

TRICKY = [
    ("quote", 'say "hi"'),
    ("backslash", "C:\\temp\\"),
    ("newline", "line1\nline2"),
    ("thai", "บ้านหนองบัว หมู่ 3"),
    ("all", 'ก"\\\nข'),
    ("empty", ""),
]


class TurnCounter:
    """Counts the event loop's turns while in use (from the second: its task starts on
    the first)."""

    def __init__(self) -> None:
        self.turns = 0
        self._task: asyncio.Task[None] | None = None

    async def _count(self) -> None:
        while True:
            await asyncio.sleep(0)
            self.turns += 1

    async def __aenter__(self) -> TurnCounter:
        self._task = asyncio.create_task(self._count())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in parse_text(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def body(expo: FleetExposition, fmt: Format = Format.TEXT, gz: bool = False,
         tail: bytes = b"") -> str:
    data = expo.render_sync(fmt, gz, tail)
    if gz:
        data = gzip.decompress(data)
    return data.decode()


@pytest.mark.parametrize(("value", "label"), [(v, k) for k, v in TRICKY],
                         ids=[k for k, _ in TRICKY])
def test_label_values_round_trip_through_the_parser(value: str, label: str) -> None:
    store = StateStore()
    store.publish([
        Observation(f'dev "{label}"', "pubnet_ap_clients", 3.0, 1.0, Source.SNMP,
                    (("radio", value),)),
    ])
    text = body(FleetExposition(store))
    got = samples(text)
    assert got == {("pubnet_ap_clients", (("device", f'dev "{label}"'), ("radio", value))): 3.0}
    om = body(FleetExposition(store), Format.OPENMETRICS, tail=b"# EOF\n")
    om_samples = [s for f in parse_openmetrics(om) for s in f.samples]
    assert [(s.labels["radio"], s.value) for s in om_samples] == [(value, 3.0)]


def test_escape_and_format_rules() -> None:
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert escape_label_value("ไทย") == "ไทย"
    assert [format_value(v) for v in (1.0, 0.5, math.inf, -math.inf, math.nan, 3)] == [
        "1.0", "0.5", "+Inf", "-Inf", "NaN", "3"]


def test_families_are_contiguous_with_one_help_and_type() -> None:
    store = StateStore()
    for n in range(5):
        store.publish(interface(f"d{n}", "eth0", 100.0 * n, 50.0 * n, 10.0))
        store.publish([Observation(f"d{n}", "pubnet_ap_clients", float(n), 10.0, Source.SNMP)])
    text = body(FleetExposition(store))
    names_in_order: list[str] = []
    for line in text.splitlines():
        name = line.split()[2] if line.startswith("# ") else line.split("{")[0]
        if not names_in_order or names_in_order[-1] != name:
            names_in_order.append(name)
    assert len(names_in_order) == len(set(names_in_order)), names_in_order
    assert text.count("# TYPE pubnet_interface_receive_bytes_total counter\n") == 1
    assert text.count("# HELP pubnet_interface_receive_bytes_total ") == 1
    families = {f.name: f for f in parse_text(text)}
    assert families["pubnet_interface_receive_bytes"].type == "counter"
    assert len(families["pubnet_interface_receive_bytes"].samples) == 5
    assert families["pubnet_ap_clients"].type == "gauge"


def test_openmetrics_counter_names_and_eof() -> None:
    store = StateStore()
    store.publish(interface("gw1", "eth0", 1e12, 2e12, 10.0))
    text = body(FleetExposition(store), Format.OPENMETRICS, tail=b"# EOF\n")
    assert "# TYPE pubnet_interface_receive_bytes counter\n" in text
    assert 'pubnet_interface_receive_bytes_total{device="gw1",ifname="eth0"} 1000000000000.0' \
        in text
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_openmetrics(text)}
    assert families["pubnet_interface_receive_bytes"].samples[0].value == 1e12


def test_gzip_body_equals_plain_and_reuses_unchanged_families() -> None:
    store = StateStore()
    for n in range(300):
        store.publish(interface(f"d{n}", "eth0", float(n), float(n), 10.0))
    with ThreadPoolExecutor(2) as pool:
        expo = FleetExposition(store, executor=pool)
        plain = expo.render_sync(Format.TEXT, False)
        first = expo.render_sync(Format.TEXT, True)
        assert gzip.decompress(first) == plain
        # one device's counter moves: only its families change, output still exact
        store.publish([Observation("d7", "pubnet_interface_receive_bytes_total", 9999.0, 20.0,
                                   Source.SNMP, (("ifname", "eth0"),))])
        second = gzip.decompress(expo.render_sync(Format.TEXT, True))
        assert 'pubnet_interface_receive_bytes_total{device="d7",ifname="eth0"} 9999.0' in \
            second.decode()
        assert second == expo.render_sync(Format.TEXT, False)
        oper = [b for b in expo.jobs(Format.TEXT)
                if b.block.family.name == "pubnet_interface_oper_up"]
        assert oper and oper[0].fresh, "unchanged family was compressed again"


def test_a_changed_device_recompresses_only_its_chunk_and_the_body_is_one_member() -> None:
    """Chunks of ~128 KiB: a counter that moves on one device costs one chunk's
    compression, and the gzip body is still a single member (curl and aiohttp's client
    read only the first member of a multi-member body) equal to the plain one."""
    store = StateStore()
    for n in range(6000):
        store.publish(interface(f"device-{n:05d}", "eth0", float(n), float(n), 10.0))
    expo = FleetExposition(store)
    expo.render_sync(Format.TEXT, True)
    blocks = expo._blocks["pubnet_interface_receive_bytes_total"]
    assert len(blocks.chunks) > 2
    store.publish([Observation("device-03000", "pubnet_interface_receive_bytes_total", 5.0,
                               20.0, Source.SNMP, (("ifname", "eth0"),))])
    expo.refresh_now()
    assert expo.compress(expo.jobs(Format.TEXT)) == 1
    body = expo.encode(Format.TEXT, expo.jobs(Format.TEXT), True)
    inflater = zlib.decompressobj(31)
    text = inflater.decompress(body)
    assert inflater.eof and not inflater.unused_data, "one gzip member, nothing after it"
    assert text == expo.render_sync(Format.TEXT, False)
    assert b'receive_bytes_total{device="device-03000",ifname="eth0"} 5.0\n' in text


def test_a_stopped_exposition_ends_background_compression_but_still_serves() -> None:
    """At a stop the background pass ends at its next chunk (the process would wait for
    it at exit, seconds at 100,000 devices); a scrape still compresses what it needs."""
    store = StateStore()
    for n in range(6000):
        store.publish(interface(f"device-{n:05d}", "eth0", float(n), float(n), 10.0))
    expo = FleetExposition(store)
    expo.refresh_now()
    jobs = expo.jobs(Format.TEXT)
    expo.stop()
    assert expo.compress(jobs, False) == 0
    body = expo.encode(Format.TEXT, expo.jobs(Format.TEXT), True)
    assert zlib.decompress(body, 31) == expo.render_sync(Format.TEXT, False)


def test_only_changed_devices_are_rendered_again() -> None:
    store = StateStore()
    for n in range(50):
        store.publish(interface(f"d{n}", "eth0", 1.0, 1.0, 10.0))
    expo = FleetExposition(store)
    assert expo.refresh_now().devices_rendered == 50
    assert expo.refresh_now().devices_rendered == 0
    store.publish(interface("d3", "eth0", 2.0, 2.0, 20.0))
    store.set_status("d4", PollStatus.TIMEOUT, 20.0, Source.SNMP)  # a status, no new series
    stats = expo.refresh_now()
    assert (stats.devices_rendered, stats.series_rendered) == (2, 6)
    store.forget("d5")
    text = body(expo)
    assert 'device="d5"' not in text
    assert 'pubnet_interface_receive_bytes_total{device="d3",ifname="eth0"} 2.0' in text


def test_invalid_names_are_dropped_and_counted_never_corrupt() -> None:
    store = StateStore()
    store.publish([
        Observation("d1", "bad-name", 1.0, 1.0, Source.SNMP),
        Observation("d1", "pubnet_ap_clients", 1.0, 1.0, Source.SNMP, (("bad label", "x"),)),
        Observation("d1", "pubnet_ap_clients", 2.0, 1.0, Source.SNMP, (("device", "x"),)),
        Observation("d1", "pubnet_ap_clients", 4.0, 1.0, Source.SNMP, (("radio", "r1"),)),
    ])
    expo = FleetExposition(store)
    got = samples(body(expo))
    assert got == {("pubnet_ap_clients", (("device", "d1"), ("radio", "r1"))): 4.0}
    assert expo.drops.counts == {"invalid_metric_name": 1, "invalid_label": 2}


def test_sites_and_links_follow_device_status_and_counters() -> None:
    inv = small_inventory()
    store = StateStore()
    expo = FleetExposition(store, inv)
    for dev in ("gw1", "ap1", "gw2", "dist1"):
        set_up(store, dev, True, 100.0)
    set_up(store, "ap2", False, 100.0)
    store.publish(interface("dist1", "ge-0/0/1", 0.0, 0.0, 100.0))
    got = samples(body(expo))
    site_up = {dict(k[1])["site"]: v for k, v in got.items() if k[0] == "pubnet_site_up"}
    assert site_up == {"S1": 1.0, "S2": 1.0}
    assert got[("pubnet_link_up", (("link", "L1"), ("medium", "fiber"), ("owner", "NT")))] == 1
    # 125 MB in 10 s each way = 100 Mbit/s of a 1 Gbit/s link
    store.publish(interface("dist1", "ge-0/0/1", 125e6, 250e6, 110.0, oper=0.0))
    set_up(store, "ap1", False, 110.0)
    got = samples(body(expo))
    site_up = {dict(k[1])["site"]: v for k, v in got.items() if k[0] == "pubnet_site_up"}
    assert site_up == {"S1": 0.0, "S2": 1.0}, "S1 has no access point up"
    assert got[("pubnet_link_up", (("link", "L1"), ("medium", "fiber"), ("owner", "NT")))] == 0
    util = {dict(k[1])["direction"]: v for k, v in got.items()
            if k[0] == "pubnet_link_utilization_ratio"}
    assert util == {"in": pytest.approx(0.1), "out": pytest.approx(0.2)}
    info = [dict(k[1]) for k in got if k[0] == "pubnet_site_info"]
    s2 = next(i for i in info if i["site"] == "S2")
    assert s2["name"] == 'ร้าน "ป้า" \\ ใหม่\nบ้าน'
    assert (s2["province_name_en"], s2["lat"]) == ("Khon Kaen", "16.4419")


def test_only_the_interfaces_links_are_observed_through_are_kept() -> None:
    """A district router has dozens of interfaces and one or two of them carry a backbone
    link: the link metrics keep readings of those only (memory per router at national
    scale), and the others change nothing."""
    inv = small_inventory()
    store = StateStore()
    metrics = InventoryMetrics(inv, store)
    set_up(store, "dist1", True, 100.0)
    store.publish(interface("dist1", "ge-0/0/1", 0.0, 0.0, 100.0))
    for n in range(20):
        store.publish(interface("dist1", f"ge-0/1/{n}", 0.0, 0.0, 100.0, oper=0.0))
    metrics.changed(["dist1"])
    metrics.recompute()
    up, _util = metrics.links()
    assert b"".join(up) == b'pubnet_link_up{link="L1",medium="fiber",owner="NT"} 1\n'
    (link,) = metrics._keys
    assert link is not None
    kept = [key for key in link[1:] if key is not None]
    assert sorted(kept) == sorted((name, (("ifname", "ge-0/0/1"),)) for name in (
        "pubnet_interface_oper_up", "pubnet_interface_receive_bytes_total",
        "pubnet_interface_transmit_bytes_total"))


def test_link_keys_follow_the_interface_appearing_and_leaving() -> None:
    """The link metrics look the a-side interface's series up by the keys found before:
    an interface that appears later, or whose series leave, is still seen."""
    store = StateStore()
    metrics = InventoryMetrics(small_inventory(), store)

    def link_up() -> bytes:
        metrics.changed(["dist1"])
        metrics.recompute()
        return b"".join(metrics.links()[0])

    set_up(store, "dist1", True, 100.0)
    store.publish(interface("dist1", "ge-0/0/9", 0.0, 0.0, 100.0))
    assert link_up() == b"", "the link's interface is not there yet"
    store.publish(interface("dist1", "ge-0/0/1", 0.0, 0.0, 110.0))
    assert link_up() == b'pubnet_link_up{link="L1",medium="fiber",owner="NT"} 1\n'
    store.forget("dist1", "pubnet_interface_oper_up")  # two series leave ...
    store.publish([Observation("dist1", "pubnet_ap_clients", 1.0, 115.0, Source.SNMP,
                               (("radio", radio),)) for radio in ("r1", "r2")])  # ... two come
    assert link_up() == b"", "its oper status left the store, as many series came"
    store.publish(interface("dist1", "ge-0/0/1", 0.0, 0.0, 120.0, oper=0.0)[2:])
    assert link_up() == b'pubnet_link_up{link="L1",medium="fiber",owner="NT"} 0\n'


def test_status_series_are_the_collectors_as_published() -> None:
    inv = small_inventory()
    store = StateStore()
    set_up(store, "gw2", False, 5.0)
    got = samples(body(FleetExposition(store, inv)))
    assert got[("pubnet_device_up", (("device", "gw2"), ("province", "50"),
                                     ("role", "site_gateway"), ("site", "S2")))] == 0
    assert got[("pubnet_device_poll_status", (("device", "gw2"), ("status", "timeout")))] == 1


def test_counters_pass_through_unchanged_across_a_reboot() -> None:
    """The collector keeps totals monotonic over a reboot; the exporter must not reset."""
    store = StateStore()
    expo = FleetExposition(store)
    seen = []
    values = [1000.0, 2000.0, 2500.0, 2600.0]  # the collector's totals around a reboot
    for step, value in enumerate(values):
        if step == 2:  # the device reboots: it is down for a poll, then back
            set_up(store, "gw1", False, 10.0 * step)
        set_up(store, "gw1", True, 10.0 * step + 1)
        store.publish(interface("gw1", "eth0", value, value, 10.0 * step + 1))
        got = samples(body(expo))
        seen.append(got[("pubnet_interface_receive_bytes_total",
                         (("device", "gw1"), ("ifname", "eth0")))])
    assert seen == values
    assert seen == sorted(seen)


LINK = ("pubnet_link_up", (("link", "L1"), ("medium", "fiber"), ("owner", "NT")))


def _link_inventory(a_profile: str) -> Inventory:
    inv = small_inventory()
    dist = inv.devices["dist1"]
    inv.devices["dist1"] = device(dist.device_id, dist.site_id, dist.role, profile=a_profile)
    return inv


@pytest.mark.parametrize(
    ("profile", "source", "interfaces"),
    [("icmp", Source.ICMP, ()), ("mqtt", Source.MQTT, ()),
     ("if-mib", Source.SNMP, ("ge-0/0/2", "lo0"))],
    ids=["icmp-a-side", "mqtt-a-side", "snmp-without-the-interface"],
)
def test_unobservable_link_has_no_sample_never_a_false_zero(
        profile: str, source: Source, interfaces: tuple[str, ...]) -> None:
    """Issue 10 item 7: an a-side device that is up but cannot show the link's interface
    (ICMP/MQTT-watched, or an interface name it does not have) gives no link sample."""
    store = StateStore()
    inventory = _link_inventory(profile)
    expo = FleetExposition(store, inventory)
    attempt(store, "dist1", PollStatus.OK, 100.0, source, inventory)
    for name in interfaces:
        store.publish(interface("dist1", name, 0.0, 0.0, 100.0))
    text = body(expo)
    got = samples(text)
    assert "pubnet_link_up{" not in text, "a link pubnet cannot observe must have no sample"
    assert got[("pubnet_device_up", (("device", "dist1"), ("province", "40"),
                                     ("role", "district_aggregation"), ("site", "S1")))] == 1
    # down: still no sample (the device's own pubnet_device_up says it)
    attempt(store, "dist1", PollStatus.TIMEOUT, 110.0, source, inventory)
    assert "pubnet_link_up{" not in body(expo)


def test_observed_link_follows_its_interface_and_device() -> None:
    store = StateStore()
    expo = FleetExposition(store, small_inventory())
    assert "pubnet_link_up{" not in body(expo), "never heard from: no sample"
    set_up(store, "dist1", False, 90.0)
    assert "pubnet_link_up{" not in body(expo), "down since start: interface never seen"
    set_up(store, "dist1", True, 100.0)
    store.publish(interface("dist1", "ge-0/0/1", 0.0, 0.0, 100.0))
    assert samples(body(expo))[LINK] == 1
    store.publish(interface("dist1", "ge-0/0/1", 0.0, 0.0, 110.0, oper=0.0))
    assert samples(body(expo))[LINK] == 0
    store.publish(interface("dist1", "ge-0/0/1", 0.0, 0.0, 120.0))
    set_up(store, "dist1", False, 130.0)
    assert samples(body(expo))[LINK] == 0, "a device seen with the interface, now down"


SITE_INFO_LABELS = ["site", "name", "village", "subdistrict", "district", "province",
                    "province_name_en", "province_name_th", "district_name_en",
                    "district_name_th", "subdistrict_name_en", "subdistrict_name_th",
                    "lat", "lon", "kind"]


def test_site_info_carries_thai_and_english_area_names() -> None:
    """Issue 10 item 14: province, district and subdistrict names in Thai and English."""
    text = body(FleetExposition(StateStore(), small_inventory()))
    line = next(x for x in text.splitlines() if x.startswith('pubnet_site_info{site="S1"'))
    names_in_order = [pair.split("=")[0] for pair in line[line.index("{") + 1:].split('",')]
    assert names_in_order == SITE_INFO_LABELS
    info = dict(next(k[1] for k in samples(text) if k[0] == "pubnet_site_info"
                     and dict(k[1])["site"] == "S1"))
    assert (info["province_name_th"], info["province_name_en"]) == ("ขอนแก่น", "Khon Kaen")
    assert (info["district_name_th"], info["district_name_en"]) == (
        "เมืองขอนแก่น", "Mueang Khon Kaen")
    assert (info["subdistrict_name_th"], info["subdistrict_name_en"]) == (
        "ในเมือง", "Nai Mueang")


def test_docs_list_exactly_the_site_info_labels_emitted() -> None:
    root = Path(__file__).resolve().parents[2]
    row = next(line for line in (root / "docs/prometheus.md").read_text("utf-8").splitlines()
               if line.startswith("| `pubnet_site_info` |"))
    assert [x.strip() for x in row.split("|")[2].split(",")] == SITE_INFO_LABELS
    metrics_doc = (root / "docs/metrics.md").read_text("utf-8")
    for label in SITE_INFO_LABELS[6:12]:
        assert f"`{label}`" in metrics_doc, label


def test_every_catalog_family_gets_the_catalog_type_and_help() -> None:
    """Type and HELP come from the catalog: no generic HELP for pubnet's own names (the
    poller's in-flight gauge and alerting's metrics had one), info metrics are gauges."""
    from exporters.prometheus.families import FamilyTable
    from pubnet import catalog

    table = FamilyTable()
    for metric in catalog.METRICS:
        if metric.kind is catalog.Kind.HISTOGRAM:
            continue  # rendered by prometheus-client (health.py), never from the store
        family = table.get(metric.name)
        assert family is not None
        expected = "counter" if metric.kind is catalog.Kind.COUNTER else "gauge"
        assert (family.kind.value, family.help) == (expected, metric.help), metric.name
    store = StateStore()
    store.publish([
        Observation("pubnet", "pubnet_polls_in_flight", 3.0, 1.0, Source.INTERNAL),
        Observation("pubnet", "pubnet_alerting_incidents_open", 1.0, 1.0, Source.INTERNAL),
        Observation("pubnet", "pubnet_not_in_the_catalog_total", 1.0, 1.0, Source.INTERNAL),
    ])
    text = body(FleetExposition(store))
    assert "# HELP pubnet_polls_in_flight Devices the SNMP poller is polling right now.\n" in text
    assert "# HELP pubnet_alerting_incidents_open Incidents firing or acknowledged.\n" in text
    assert "(pubnet)." not in text.replace("pubnet_not_in_the_catalog_total (pubnet).", "")
    # a name outside the catalog is still exported, typed by its suffix
    assert "# TYPE pubnet_not_in_the_catalog_total counter\n" in text


def test_a_name_outside_the_catalog_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """Exported as before, and not silently: one warning naming it, however many scrapes."""
    store = StateStore()
    store.publish([Observation("pubnet", "pubnet_not_in_the_catalog", 1.0, 1.0,
                               Source.INTERNAL)])
    expo = FleetExposition(store)
    with caplog.at_level(logging.WARNING, logger="pubnet.exporters.prometheus"):
        for ts in (2.0, 3.0):
            store.publish([Observation("pubnet", "pubnet_not_in_the_catalog", ts, ts,
                                       Source.INTERNAL)])
            assert "# TYPE pubnet_not_in_the_catalog gauge\n" in body(expo)
    warned = [(r.getMessage(), r.__dict__.get("metric"), r.__dict__.get("type"))
              for r in caplog.records if "not in the catalog" in r.getMessage()]
    assert warned == [("metric not in the catalog exported with a generic HELP",
                       "pubnet_not_in_the_catalog", "gauge")]


def test_text_exposition_groups_families_and_spells_specials() -> None:
    """``pubnet poll --format prom``: the exporter's rendering, HELP/TYPE included."""
    from exporters.prometheus.render import text_exposition

    up = (("site", "S-1"), ("role", "access_point"), ("province", "50"))
    observations = [
        Observation("ap-1", "pubnet_device_up", 1.0, 1.0, Source.SNMP, up),
        Observation("ap-1", "pubnet_probe_rtt_seconds", math.inf, 1.0, Source.ICMP),
        Observation("ap-2", "pubnet_device_up", 0.0, 1.0, Source.SNMP, up),
        Observation("ap-2", "pubnet_probe_rtt_seconds", math.nan, 1.0, Source.ICMP),
        Observation("ap-2", "pubnet_interface_receive_bytes_total", 5.0, 1.0, Source.SNMP,
                    (("ifname", 'eth"0'),)),
    ]
    text = text_exposition(observations)
    assert text.splitlines() == [
        "# HELP pubnet_device_up 1 while the device answers its polls or heartbeats.",
        "# TYPE pubnet_device_up gauge",
        'pubnet_device_up{device="ap-1",site="S-1",role="access_point",province="50"} 1.0',
        'pubnet_device_up{device="ap-2",site="S-1",role="access_point",province="50"} 0.0',
        "# HELP pubnet_probe_rtt_seconds ICMP round-trip time.",
        "# TYPE pubnet_probe_rtt_seconds gauge",
        'pubnet_probe_rtt_seconds{device="ap-1"} +Inf',
        'pubnet_probe_rtt_seconds{device="ap-2"} NaN',
        "# HELP pubnet_interface_receive_bytes_total Bytes received on the interface.",
        "# TYPE pubnet_interface_receive_bytes_total counter",
        'pubnet_interface_receive_bytes_total{device="ap-2",ifname="eth\\"0"} 5.0',
    ]
    families = {f.name: f for f in parse_text(text)}
    assert families["pubnet_interface_receive_bytes"].type == "counter"
    assert math.isinf(families["pubnet_probe_rtt_seconds"].samples[0].value)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=3000), min_size=1, max_size=6))
def test_gzip_of_joined_pieces_is_the_gzip_of_the_text(parts: list[bytes]) -> None:
    """At every level, ISA-L's (1-3) and zlib's (4-9): gzip's own reader (zlib) reads the
    joined body back, CRC-32 (combined from the pieces') and length checked."""
    text = b"".join(parts)
    for level in range(1, 10):
        body = gzipper.join(gzipper.Piece.of(p, level) for p in parts)
        assert gzip.decompress(body) == text
        assert zlib.decompressobj(31).decompress(body) == text


async def test_a_late_background_compress_never_replaces_a_newer_piece() -> None:
    """The background render compresses outside the scrape lock: when it finishes after
    a scrape compressed a newer generation of the same chunk, the newer piece stays and
    every body matches the store."""
    store = StateStore()
    for n in range(40):
        store.publish(interface(f"d{n}", "eth0", 1.0, 1.0, 10.0))
    expo = FleetExposition(store)
    expo.refresh_now()
    background = expo.jobs(Format.TEXT)  # the background render's snapshot
    store.publish(interface("d3", "eth0", 7.0, 7.0, 20.0))
    expo.refresh_now()
    scrape = expo.jobs(Format.TEXT)
    assert await expo.compress_on_loop(scrape) > 0
    body = expo.encode(Format.TEXT, scrape, True)
    assert expo.compress(background, parallel=False) > 0  # late, older generation
    assert gzip.decompress(body) == gzip.decompress(expo.render_sync(Format.TEXT, True))
    assert b'receive_bytes_total{device="d3",ifname="eth0"} 7.0' in gzip.decompress(body)
    assert all(job.fresh for job in expo.jobs(Format.TEXT)), "the newer pieces were kept"


async def test_a_scrape_out_of_time_serves_the_background_renders_pieces() -> None:
    """On a saturated loop a scrape stops rendering and compressing at its budget and
    serves chunks as the background render left them: a valid body, seconds stale; the
    next pass catches up. A chunk never compressed is compressed regardless."""
    store = StateStore()
    for n in range(6000):
        store.publish(interface(f"device-{n:05d}", "eth0", 1.0, 1.0, 10.0))
    expo = FleetExposition(store)
    expo.render_sync(Format.TEXT, True)
    for n in range(6000):
        store.publish(interface(f"device-{n:05d}", "eth0", 2.0, 2.0, 20.0))
    store.publish(interface("newcomer", "eth0", 3.0, 3.0, 20.0))
    stats = await expo.refresh(budget=0)
    assert 0 < stats.devices_rendered < 6001, "stopped after the first slice"
    jobs = expo.jobs(Format.TEXT)
    await expo.compress_on_loop(jobs, budget=0)
    text = gzip.decompress(expo.encode(Format.TEXT, jobs, True)).decode()
    got = samples(text)
    last = ("pubnet_interface_receive_bytes_total",
            (("device", "device-05999"), ("ifname", "eth0")))
    assert got[last] == 1.0, "served as the background render left it"
    await expo.refresh()
    fresh = samples(body(expo, gz=True))
    assert fresh[last] == 2.0
    assert fresh[("pubnet_interface_receive_bytes_total",
                  (("device", "newcomer"), ("ifname", "eth0")))] == 3.0


async def test_a_scrape_waits_for_the_background_pass_to_give_way_not_to_end() -> None:
    """On a saturated loop every yield costs a turn of all the polls' callbacks (here
    10 ms), so a background pass over many changed devices holds the render lock for many
    seconds; at 100,000 devices scrapes waited 113 s behind it. A scrape that arrives
    meanwhile gets the lock at the pass's next yield, and the pass finishes later."""
    store = StateStore()
    devices = [f"device-{n:05d}" for n in range(4000)]
    for name in devices:
        store.publish(interface(name, "eth0", 1.0, 1.0, 10.0))
    stop = asyncio.Event()

    def polls_callbacks() -> None:
        time.sleep(0.01)

    async def saturated_loop() -> None:
        while not stop.is_set():
            polls_callbacks()  # the loop is busy: blocking it is the point
            await asyncio.sleep(0)

    with ThreadPoolExecutor(max_workers=2) as executor:
        service = MetricsService(store, Inventory(), executor)
        service.exposition.YIELD_EVERY_SERIES = 30  # ~530 yields: 5 s of turns for a pass
        async with asyncio.TaskGroup() as group:
            busy = group.create_task(saturated_loop())
            background = group.create_task(service.prerender_forever(interval=0.05))
            await asyncio.sleep(0.1)  # the first pass is under way
            started = time.monotonic()
            result = await service.scrape(Format.TEXT, gzip=True)
            waited = time.monotonic() - started
            assert waited < 1.5, f"the scrape waited {waited:.1f} s for the pass"
            assert gzip.decompress(result.body).startswith(b"# HELP")
            stop.set()
            await busy
            expo = service.exposition
            for _ in range(100):  # the background pass catches up on its own
                await asyncio.sleep(0.05)
                if expo.series_count() == 3 * len(devices):
                    break
            background.cancel()
    assert expo.series_count() == 3 * len(devices)
    assert expo.refresh_now().devices_rendered == 0, "nothing left for the next pass"


def test_the_cache_keeps_compressed_pieces_not_the_text() -> None:
    """Memory is what 5 M series at 100,000 devices are about: the exposition keeps each
    chunk compressed (about a seventh of its text) with its layout, not every device's
    fragments (~95 bytes per series before); a changed device's chunk is spliced from the
    piece, and the body stays exact."""
    store = StateStore()
    devices = [f"S-{n:05d}-ap1" for n in range(1500)]
    for n, name in enumerate(devices):
        for port in range(8):  # about an access point's number of series
            store.publish(interface(name, f"eth{port}", 1e12 + n, 2e9 + port, 10.0))
    series = store.series_count()

    def build() -> tuple[FleetExposition, bytes]:
        expo = FleetExposition(store)
        return expo, expo.render_sync(Format.TEXT, True)

    (expo, first), size = kept_by(build)
    held = size - len(first)
    assert held / series < 40, f"{held / series:.0f} bytes per series"
    store.publish(interface(devices[1234], "eth0", 5.0, 6.0, 20.0))
    changed = gzip.decompress(expo.render_sync(Format.TEXT, True))
    assert changed == expo.render_sync(Format.TEXT, False)
    assert f'receive_bytes_total{{device="{devices[1234]}",ifname="eth0"}} 5.0\n'.encode() \
        in changed
    assert changed.count(b"\n") == len(gzip.decompress(first).split(b"\n")) - 1


@pytest.mark.parametrize("seed", [1, 2, 3], ids=["seed-1", "seed-2", "seed-3"])
def test_spliced_pieces_equal_a_fresh_render_through_changes_and_removals(seed: int) -> None:
    """Devices change, leave (a reload) and come back between compressions: every body
    spliced from the older pieces has the lines a fresh exposition renders (in the order
    devices were first seen, which history decides), and gzip equals plain."""
    rng = random.Random(seed)
    store = StateStore()
    names = [f"dev-{n:04d}" for n in range(400)]
    for name in names:
        store.publish(interface(name, "eth0", 1.0, 1.0, 10.0))
    expo = FleetExposition(store)
    expo.render_sync(Format.TEXT, True)
    for step in range(12):
        for name in rng.sample(names, 40):
            store.publish(interface(name, f"eth{rng.randrange(3)}", float(step), 2.0, 20.0))
        for name in rng.sample(names, 5):
            store.drop_device(name)
        if step % 3 == 2:
            store.forget(rng.choice(names), "pubnet_interface_oper_up")
        got = gzip.decompress(expo.render_sync(Format.TEXT, True))
        fresh = FleetExposition(store).render_sync(Format.TEXT, False)
        assert sorted(got.split(b"\n")) == sorted(fresh.split(b"\n")), f"step {step}"
        assert samples(got.decode()) == samples(fresh.decode())
        assert got == expo.render_sync(Format.TEXT, False)
        assert expo.series_count() == got.count(b"\n") - 2 * len(expo.family_names())


_LABEL_TEXT = st.text(alphabet=st.sampled_from('ab"\\\nก _'), max_size=5)
_LABEL_NAMES = st.sampled_from(["ifname", "radio", "device", "__x", "1a", "", "a-b", "ok_2"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(_LABEL_NAMES, _LABEL_TEXT), max_size=4), min_size=1,
                max_size=8))
def test_label_sets_render_as_the_reference_when_the_cache_is_full(
        label_sets: list[list[tuple[str, str]]]) -> None:
    """A label set missing the label cache (one device's own: ``ifalias``, the info
    labels) renders from each name's cached opening exactly as :func:`render_labels`
    does, invalid names included."""
    renderer = DeviceRenderer(FamilyTable(), DropCounter())
    renderer.LABEL_CACHE_MAX = 2
    series = [(("pubnet_ap_clients", tuple(labels)), float(n))
              for n, labels in enumerate(label_sets)]
    fragment = renderer.render("d", series).get("pubnet_ap_clients", b"").decode()
    expected = "".join(
        f'pubnet_ap_clients{{device="d"{rendered}}} {float(n)!r}\n'
        for n, labels in enumerate(label_sets)
        if (rendered := render_labels(tuple(labels))) is not None)
    assert fragment == expected


def test_link_utilisation_recompresses_the_changed_links_slice_not_the_family(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """At 100,000 links ``pubnet_link_utilization_ratio`` is ~13 MB of text and some link's
    rate changes in every background pass: only the slice of links around the changed one
    is compressed again, and the family still lists links in inventory order however the
    rates arrived (here in reverse, a few hundred links per pass)."""
    inv = generate(sites=1500, seed=3)
    links = [link for link in inv.links.values() if link.capacity_bps > 0]
    store = StateStore()
    expo = FleetExposition(store, inv)
    for ts in (100.0, 110.0):  # a rate needs two readings, seen apart
        for n, link in enumerate(reversed(links)):
            store.publish(interface(link.a_device, link.a_interface, ts * n, ts * n, ts))
            if n % 500 == 0:  # rates come in as the devices are polled
                expo.render_sync(Format.TEXT, True)
        expo.render_sync(Format.TEXT, True)
    text = gzip.decompress(expo.render_sync(Format.TEXT, True))
    util = [line for line in text.split(b"\n")
            if line.startswith(b"pubnet_link_utilization_ratio{")]
    family_bytes = sum(len(line) + 1 for line in util)
    order = {f'link="{link.link_id}"'.encode(): n for n, link in enumerate(inv.links.values())}
    positions = [order[line[line.index(b"{") + 1:line.index(b",")]] for line in util]
    assert positions == sorted(positions) and len(util) == 2 * len(set(positions))
    assert text == expo.render_sync(Format.TEXT, False)
    deflated: list[int] = []
    real = gzipper.deflate_piece

    def counting(data: bytes, level: int = gzipper.DEFAULT_LEVEL) -> bytes:
        if data.startswith(b"pubnet_link_utilization_ratio{"):
            deflated.append(len(data))
        return real(data, level)

    monkeypatch.setattr(gzipper, "deflate_piece", counting)
    ends = Counter(link.a_device for link in links)
    link = next(link for link in links[len(links) // 2:] if ends[link.a_device] == 1)
    store.publish(interface(link.a_device, link.a_interface, 5e9, 5e9, 120.0))
    changed = gzip.decompress(expo.render_sync(Format.TEXT, True))
    assert changed != text and changed == expo.render_sync(Format.TEXT, False)
    assert family_bytes > 5 * CHUNK_BYTES
    assert 0 < sum(deflated) < 2 * CHUNK_BYTES, (deflated, family_bytes)


def test_families_whose_series_did_not_change_are_not_rendered_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A poll changes the counters, not the info and status families: their label sets
    (one device's own, which miss the label cache at national scale) are not rendered
    again, and the body is what a fresh exposition renders."""
    store = StateStore()
    info = (("sys_name", "ap1"), ("sys_descr", "UAP-AC-Lite 6.6.55"))
    store.publish([Observation("ap1", "pubnet_device_info", 1.0, 1.0, Source.SNMP, info),
                   *interface("ap1", "eth0", 1.0, 2.0, 1.0)])
    expo = FleetExposition(store)
    first = body(expo)
    rendered: list[tuple[tuple[str, str], ...]] = []
    real = DeviceRenderer._labels

    def counting(self: DeviceRenderer, labels: tuple[tuple[str, str], ...]) -> str:
        rendered.append(labels)
        return real(self, labels)

    monkeypatch.setattr(DeviceRenderer, "_labels", counting)
    expo._renderer._label_cache.clear()  # as at 100,000 devices: one device's sets miss
    store.publish(interface("ap1", "eth0", 5.0, 6.0, 2.0))
    second = body(expo)
    assert info not in rendered and rendered, rendered
    assert second != first and second == body(FleetExposition(store))


@pytest.mark.parametrize("seed", [4, 5, 6], ids=["seed-4", "seed-5", "seed-6"])
def test_signed_zeros_nans_and_relabelled_series_are_never_taken_for_unchanged(
        seed: int) -> None:
    """A family is skipped only when its label sets and its values' bits are the same:
    0.0 after -0.0, NaN, and a series forgotten and published again under other labels with
    the same value all show."""
    rng = random.Random(seed)
    store = StateStore()
    expo = FleetExposition(store)
    values = [0.0, -0.0, math.nan, 1.0, math.inf]
    for step in range(30):
        device = f"d{rng.randrange(3)}"
        if rng.random() < 0.3:
            store.forget(device, "pubnet_ap_clients")
        store.publish([Observation(device, "pubnet_ap_clients", rng.choice(values), 1.0,
                                   Source.SNMP, (("radio", rng.choice("ab")),)),
                       Observation(device, "pubnet_ap_radio_channel", rng.choice(values),
                                   1.0, Source.SNMP)])
        assert body(expo) == body(FleetExposition(store)), f"step {step}"


def test_site_info_is_put_once_not_at_every_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """``pubnet_site_info`` never changes while pubnet runs (~4 MB at 40,000 sites): a
    background pass does not count its lines and hash it again."""
    store = StateStore()
    expo = FleetExposition(store, small_inventory())
    keys: list[str] = []
    real = FleetExposition._put

    def spying(self: FleetExposition, key: str, fragments: dict[str, bytes],
               alone: bool = False) -> None:
        keys.append(key)
        real(self, key, fragments, alone)

    monkeypatch.setattr(FleetExposition, "_put", spying)
    for ts in (100.0, 110.0, 120.0):
        set_up(store, "gw1", True, ts)
        assert 'pubnet_site_info{site="S1"' in body(expo)
    assert keys.count("") == 1


async def test_a_refresh_out_of_time_goes_on_where_the_last_one_stopped() -> None:
    """On a saturated loop no refresh gets through every device before its budget runs
    out, while the first devices change again at every poll: a refresh that began at the
    first device each time never reached the later ones (their exposition stayed as it
    was for good). Each refresh goes on where the last one stopped instead."""
    store = StateStore()
    names = [f"device-{n:05d}" for n in range(3000)]
    for name in names:
        store.publish(interface(name, "eth0", 1.0, 1.0, 10.0))
    expo = FleetExposition(store)
    expo.refresh_now()
    expo.YIELD_EVERY_SERIES = 500  # a slice is ~170 devices: 18 slices for all of them
    for step in range(2, 40):
        for name in names:  # every device polled again between two refreshes
            store.publish(interface(name, "eth0", float(step), 1.0, 10.0 + step))
        await expo.refresh(budget=0)
    got = samples(expo.encode(Format.TEXT, expo.jobs(Format.TEXT, gzip=False), False).decode())
    last = got[("pubnet_interface_receive_bytes_total",
                (("device", names[-1]), ("ifname", "eth0")))]
    assert last > 1.0, "the last device was rendered again"


async def test_sites_and_links_are_recomputed_a_batch_between_yields() -> None:
    """At 100,000 devices a pass that found every device changed recomputed all their
    sites and links in one turn of the loop (0.6 s, every poll waiting behind it). They
    are recomputed a batch between yields; a refresh out of time leaves the rest for the
    next one, which finishes them."""
    inv = generate(sites=300, seed=1)
    store = StateStore()
    for name in inv.devices:
        set_up(store, name, True, 100.0)
    expo = FleetExposition(store, inv)
    expo.YIELD_EVERY_SITES_AND_LINKS = 40

    def site_up() -> dict[str, float]:
        text = expo.encode(Format.TEXT, expo.jobs(Format.TEXT, gzip=False), False).decode()
        return {dict(labels)["site"]: value for (name, labels), value in samples(text).items()
                if name == "pubnet_site_up"}

    async with TurnCounter() as counter:
        await expo.refresh()
    yields = -(-(len(inv.sites) + len(inv.links)) // 40) - 1  # one between two batches
    assert counter.turns >= yields - 1, f"{counter.turns} turns for {yields + 1} batches"
    assert set(site_up().values()) == {1.0}
    for name in inv.devices:
        set_up(store, name, False, 200.0)
    stats = await expo.refresh(budget=0)
    assert not stats.caught_up
    assert 0 < sum(v == 0.0 for v in site_up().values()) < len(inv.sites)
    assert (await expo.refresh()).caught_up
    assert site_up() == dict.fromkeys(inv.sites, 0.0)


async def test_a_saturated_scrape_serves_the_pieces_as_they_are_without_a_turn() -> None:
    """On a saturated loop a gzip scrape awaits nothing: its body is every chunk's piece
    as the background render compressed it (the changes since come with the next one),
    joined in a worker thread, and exactly the length announced beforehand."""
    store = StateStore()
    for n in range(2000):
        store.publish(interface(f"device-{n:05d}", "eth0", 1.0, 1.0, 10.0))
    with ThreadPoolExecutor(max_workers=2) as executor:
        service = MetricsService(store, Inventory(), executor)
        before = gzip.decompress(service.exposition.render_sync(Format.TEXT, True))
        for n in range(0, 2000, 7):
            store.publish(interface(f"device-{n:05d}", "eth0", 5.0, 5.0, 20.0))
        service.turn_seconds = 1.0  # as prerender_forever measures a saturated loop
        async with TurnCounter() as counter:
            await asyncio.sleep(0)
            seen = counter.turns
            prepared = await service.prepare(Format.TEXT, gzip=True)
            assert counter.turns == seen, "the saturated path waited for a turn"
        gz = prepared.build()
        assert len(gz) == prepared.length
        text = gzip.decompress(gz)
        tail = service._tail(Format.TEXT)
        assert text[:len(before)] == before, "the pieces as the last compression left them"
        assert text[len(before):].startswith(b"# HELP pubnet_")
        assert len(text) - len(before) == len(tail)
        om = gzip.decompress((await service.prepare(Format.OPENMETRICS, gzip=True)).build())
        assert om.endswith(b"# EOF\n") and om.count(b"# EOF") == 1
        assert parse_openmetrics(om.decode())  # a valid OpenMetrics body
        plain = await service.scrape(Format.TEXT, gzip=False)  # never the saturated path
        assert b'{device="device-00007",ifname="eth0"} 5.0' in plain.body
        service.turn_seconds = 0.0
        fresh = gzip.decompress((await service.scrape(Format.TEXT, gzip=True)).body)
        assert fresh.count(b'ifname="eth0"} 5.0\n') == 2 * len(range(0, 2000, 7))
        assert service.health.scrape.scrapes == 2, "counted once built (scrape() or HTTP)"


async def test_every_scrape_shows_pubnets_own_series_as_they_are_now() -> None:
    """A saturated loop's scrape serves the fleet's pieces as the background render left
    them, but pubnet's own series (poll lag, polls in flight) as they are: the capacity
    bench read a 114 s poll lag that had been under 2 s for two minutes."""
    store = StateStore()
    for n in range(500):
        store.publish(interface(f"device-{n:05d}", "eth0", 1.0, 1.0, 10.0))
    store.publish([Observation(PUBNET_DEVICE, POLL_LAG, 114.0, 1.0, Source.INTERNAL)])
    with ThreadPoolExecutor(max_workers=2) as executor:
        service = MetricsService(store, Inventory(), executor)
        service.exposition.render_sync(Format.TEXT, True)  # every chunk compressed once
        store.publish(interface("device-00007", "eth0", 5.0, 5.0, 20.0))
        store.publish([Observation(PUBNET_DEVICE, POLL_LAG, 0.5, 2.0, Source.INTERNAL)])
        service.turn_seconds = 1.0  # as prerender_forever measures a saturated loop
        text = gzip.decompress((await service.prepare(Format.TEXT, gzip=True)).build())
        assert b'pubnet_poll_lag_seconds{device="pubnet"} 0.5\n' in text
        assert b'{device="device-00007",ifname="eth0"} 1.0' in text, "the fleet as it was"
        # and on a quiet loop, where a scrape's render may not reach pubnet in its budget
        store.publish([Observation(PUBNET_DEVICE, POLL_LAG, 0.25, 3.0, Source.INTERNAL)])
        service.turn_seconds = 0.0
        text = gzip.decompress((await service.scrape(Format.TEXT, gzip=True)).body)
        assert b'pubnet_poll_lag_seconds{device="pubnet"} 0.25\n' in text


def test_one_short_turn_between_long_ones_does_not_send_scrapes_the_slow_way() -> None:
    """The loop's turn is measured once per background pass, and one turn is noisy: at
    100,000 devices scrapes that a short sample sent the rendering way took up to 2.1 s.
    The loop counts as saturated while any of the last few passes saw a long turn."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        service = MetricsService(StateStore(), Inventory(), executor)
        assert not service.loop_saturated()
        service.note_pass(0.3, 0.01)
        service.note_pass(0.001, 0.01)
        assert service.loop_saturated()
        service.note_pass(0.001, 0.01)
        assert service.loop_saturated()
        service.note_pass(0.001, 0.01)
        assert not service.loop_saturated(), "three short turns: quiet again"


def test_a_scrape_does_not_start_a_render_it_cannot_finish() -> None:
    """At 100,000 devices the background render of two seconds' changes takes longer than
    a scrape may spend rendering: a scrape that tried stopped half-way anyway and took
    0.6-1.6 s, where serving the pieces as the background left them took 0.2-0.4 s."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        service = MetricsService(StateStore(), Inventory(), executor)
        service.note_pass(0.001, 0.05)
        assert not service.loop_saturated(), "a short render: a scrape renders first"
        service.note_pass(0.001, 0.5)
        assert service.loop_saturated()


async def test_the_first_render_of_everything_is_not_a_pass_of_changes() -> None:
    """The first background pass renders the whole store (seconds at 5,000 devices);
    counting it would send scrapes to the pieces, a pass old, for the next three passes,
    where a render of what changed since takes milliseconds."""
    store = StateStore()
    store.publish(interface("gw1", "eth0", 1.0, 1.0, 10.0))
    with ThreadPoolExecutor(max_workers=2) as executor:
        service = MetricsService(store, Inventory(), executor)
        refresh = service.exposition.refresh
        passes = 0

        async def cold_first(budget: float | None = None,
                             give_way: Callable[[], bool] | None = None) -> RefreshStats:
            nonlocal passes
            stats = await refresh(budget, give_way)
            if passes == 0:
                await asyncio.sleep(SCRAPE_RENDER_BUDGET + 0.1)  # a big fleet's first render
            passes += 1
            return stats

        service.exposition.refresh = cold_first  # type: ignore[method-assign]
        background = asyncio.create_task(service.prerender_forever(interval=0.01))
        await eventually(lambda: passes >= 2, 10, "two passes")
        background.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await background
    assert service.render_seconds < SCRAPE_RENDER_BUDGET


async def test_a_saturated_scrape_compresses_a_cold_exposition_first() -> None:
    """A chunk never compressed (start-up) has no piece to serve: the scrape then renders
    and compresses as on a quiet loop."""
    store = StateStore()
    store.publish(interface("gw1", "eth0", 1.0, 1.0, 10.0))
    with ThreadPoolExecutor(max_workers=2) as executor:
        service = MetricsService(store, Inventory(), executor)
        service.turn_seconds = 1.0
        result = await service.scrape(Format.TEXT, gzip=True)
    assert b'receive_bytes_total{device="gw1",ifname="eth0"} 1.0' in gzip.decompress(result.body)


def test_a_body_written_from_a_worker_thread_arrives_whole_or_is_cut_off() -> None:
    """send_body writes what the socket takes at each call, from many parts at once,
    until the body is out; when the connection is closed meanwhile (the listener's
    request timeout), it stops."""
    import socket
    import threading

    from exporters.prometheus.endpoint import SEND_PARTS, send_body

    rng = random.Random(1)
    data = rng.randbytes(8 << 20)
    cuts = sorted(rng.sample(range(1, len(data)), 3 * SEND_PARTS))  # parts of every size
    parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    parts.insert(7, b"")  # an empty part is nothing to write
    ours, theirs = socket.socketpair()
    ours.setblocking(False)  # as the loop's transport has it
    received = bytearray()

    def read() -> None:
        while chunk := theirs.recv(1 << 20):
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    send_body(ours.dup(), parts, lambda: False)
    ours.close()
    reader.join(10)
    assert bytes(received) == data
    theirs.close()

    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    with pytest.raises(ConnectionError):  # nobody reads: the buffer fills, then closed
        send_body(ours.dup(), [data], iter([False, False, True, True]).__next__)
    ours.close()
    theirs.close()
