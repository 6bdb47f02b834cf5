"""Free text a device owner writes (sysDescr, ifAlias, ifName) becomes a label value:
one of 60 kB would be repeated on every scrape and in every Influx point, so it is cut,
and the cut is visible."""

from __future__ import annotations

from collectors.snmp.client import LABEL_MAX_CHARS, label_text
from collectors.snmp.collect import DeviceMemory, collect
from collectors.snmp.profiles import load_profiles
from tests.collectors.snmp.test_layout import IF_NAME, RX, CountingClient, interfaces


def test_a_short_value_is_kept_as_it_is_thai_included() -> None:
    assert label_text("บ้านหนองบัว ether1".encode()) == "บ้านหนองบัว ether1"


def test_a_long_value_is_cut_to_the_bound_and_marked() -> None:
    cut = label_text(("ก" * 70_000).encode())
    assert len(cut) == LABEL_MAX_CHARS and cut.endswith("…")


async def test_a_device_with_a_huge_sysdescr_and_ifname_gets_bounded_labels() -> None:
    oids = interfaces(1)
    oids["1.3.6.1.2.1.1.1.0"] = b"RouterOS " + b"x" * 60_000
    oids[f"{IF_NAME}.1"] = b"ether1-" + b"y" * 60_000
    result = await collect(CountingClient(oids), load_profiles(), "if-mib", "gw",
                           DeviceMemory(), 1060.0)
    assert len(result.sys_descr) == LABEL_MAX_CHARS
    assert result.sys_descr.startswith("RouterOS x")
    names = {dict(o.labels)["ifname"] for o in result.observations if o.metric == RX}
    assert [len(n) for n in names] == [LABEL_MAX_CHARS]
