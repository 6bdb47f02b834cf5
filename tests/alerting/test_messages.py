"""What a technician reads: where the failed node is, merges, plural forms and durations.

The inventory here is read from YAML through the loader (as in the field), so that a node's
province comes from the inventory file, not from a test-only shortcut.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alerting.impact import AlertTopology
from alerting.messages import Language, MessageBuilder, encode
from alerting.model import Incident, Kind, Reason, Severity, State, Status
from inventory.loader import load_inventory
from inventory.topology import Topology

INVENTORY = """\
sites:
  - {site_id: S-1, name: เน็ตประชารัฐ บ้านหนองแก, kind: village_wifi, province_code: "55",
     district_code: "5501", subdistrict_code: "550101", village: บ้านหนองแก หมู่ 2,
     lat: 18.78, lon: 100.77}
  - {site_id: S-2, name: เน็ตประชารัฐ บ้านดอน, kind: village_wifi, province_code: "55",
     district_code: "5501", subdistrict_code: "550101", village: บ้านดอน หมู่ 5,
     lat: 18.79, lon: 100.78}
devices:
  - {device_id: core-cnx, role: core, address: 10.0.0.1, profile: icmp, province_code: "50"}
  - {device_id: pn-55, role: provincial_node, address: 10.0.0.2, profile: icmp,
     upstream: core-cnx, province_code: "55"}
  - {device_id: da-5501, site_id: S-1, role: district_aggregation, address: 10.0.0.3,
     profile: icmp, upstream: pn-55}
  - {device_id: S-1-gw, site_id: S-1, role: site_gateway, address: 10.64.0.1, profile: icmp,
     upstream: da-5501}
  - {device_id: S-2-gw, site_id: S-2, role: site_gateway, address: 10.64.0.2, profile: icmp,
     upstream: da-5501}
links:
  - {link_id: ln-pn-55, a_device: core-cnx, a_interface: xe-0/0/0, b_device: pn-55,
     medium: fiber, capacity_bps: 10000000000}
  - {link_id: ln-da-5501, a_device: pn-55, a_interface: xe-0/0/1, b_device: da-5501,
     medium: fiber, capacity_bps: 10000000000}
"""
T0 = 1_764_000_000.0


@pytest.fixture
def builder(tmp_path: Path) -> MessageBuilder:
    path = tmp_path / "nan.yaml"
    path.write_text(INVENTORY, encoding="utf-8")
    inv = load_inventory(path).inventory
    return MessageBuilder(AlertTopology(inv, Topology.build(inv)))


def incident(root: str, kind: Kind = Kind.DEVICE_DOWN, **kw: Any) -> Incident:
    return Incident("INC-9", kind, Severity.CRITICAL, root, T0, T0, State.FIRING, **kw)


def text(builder: MessageBuilder, inc: Incident, language: Language,
         status: Status = Status.FIRING, reason: Reason = Reason.FIRST) -> str:
    message: str = builder.payload(inc, status, reason, 1, language, T0 + 60)["message"]
    return message


@pytest.mark.parametrize(
    ("root", "language", "headline", "cause"),
    [
        ("device:pn-55", "en", "[FIRING] Device down: provincial node Nan (55)",
         "Upstream root cause: provincial node pn-55 (Nan province)"),
        ("device:pn-55", "th", "[แจ้งเหตุ] อุปกรณ์ล่ม: โหนดระดับจังหวัด น่าน (55)",
         "สาเหตุจากต้นทาง: โหนดระดับจังหวัด pn-55 (จังหวัดน่าน)"),
        ("device:core-cnx", "en", "[FIRING] Device down: core router Chiang Mai (50)",
         "Upstream root cause: core router core-cnx (Chiang Mai province)"),
        ("device:da-5501", "en", "[FIRING] Device down: district router Mueang Nan (5501)",
         "Upstream root cause: district router da-5501 (Mueang Nan district)"),
        ("device:da-5501", "th", "[แจ้งเหตุ] อุปกรณ์ล่ม: เราเตอร์ระดับอำเภอ เมืองน่าน (5501)",
         "สาเหตุจากต้นทาง: เราเตอร์ระดับอำเภอ da-5501 (อำเภอเมืองน่าน)"),
        ("link:ln-pn-55", "en", "[FIRING] Backbone link down: to provincial node Nan (55)",
         "Upstream root cause: link ln-pn-55"),
    ],
    ids=["pn-en", "pn-th", "core-en", "district-en", "district-th", "link-to-pn"],
)
def test_backbone_nodes_are_named_by_role_and_place(
        builder: MessageBuilder, root: str, language: Language, headline: str,
        cause: str) -> None:
    kind = Kind.LINK_DOWN if root.startswith("link:") else Kind.DEVICE_DOWN
    message = text(builder, incident(root, kind), language)
    lines = message.splitlines()
    assert lines[0] == headline
    assert any(line.startswith(cause) for line in lines), message
    # never the village site a district router happens to be filed under
    assert "หนองแก" not in message
    assert "device:" not in message


def test_backbone_nodes_carry_their_province_for_routing(builder: MessageBuilder) -> None:
    topo = builder.topology
    assert topo.location("device:pn-55").province_code == "55"
    assert topo.location("device:core-cnx").province_code == "50"
    data = builder.payload(incident("device:pn-55"), Status.FIRING, Reason.FIRST, 1, "en", T0)
    assert data["province_code"] == "55"


def test_english_plural_forms_and_thai_counts(builder: MessageBuilder) -> None:
    one = text(builder, incident("device:S-2-gw", Kind.SITE_DOWN), "en")
    assert "Affected: 1 site, 1 village, 1 device" in one
    two = text(builder, incident("device:da-5501"), "en")
    assert "Affected: 2 sites, 2 villages, 3 devices" in two
    assert "ผลกระทบ: 1 ไซต์ 1 หมู่บ้าน 1 อุปกรณ์" in text(
        builder, incident("device:S-2-gw", Kind.SITE_DOWN), "th")


@pytest.mark.parametrize(
    ("seconds", "english", "thai"),
    [(21, "after 21 s", "รวมเวลา 21 วินาที"), (59.6, "after 59 s", "รวมเวลา 59 วินาที"),
     (60, "after 1 min", "รวมเวลา 1 นาที"), (3725, "after 1 h 2 min", "รวมเวลา 1 ชม. 2 นาที")],
    ids=["21s", "59s", "1min", "1h"],
)
def test_restored_after_short_outage_in_seconds(builder: MessageBuilder, seconds: float,
                                               english: str, thai: str) -> None:
    inc = incident("device:S-2-gw", Kind.SITE_DOWN, resolved_at=T0 + seconds)
    assert english in text(builder, inc, "en", Status.RESOLVED, Reason.RESOLVED)
    assert thai in text(builder, inc, "th", Status.RESOLVED, Reason.RESOLVED)


@pytest.mark.parametrize("language", ["en", "th"], ids=str)
def test_resolved_message_does_not_ask_for_an_acknowledgement(
        builder: MessageBuilder, language: Language) -> None:
    inc = incident("device:S-2-gw", Kind.SITE_DOWN)
    assert "pubnet alerts ack INC-9" in text(builder, inc, language)
    closed = incident("device:S-2-gw", Kind.SITE_DOWN, resolved_at=T0 + 300)
    resolved = text(builder, closed, language, Status.RESOLVED, Reason.RESOLVED)
    assert "pubnet alerts ack" not in resolved
    assert "INC-9" in resolved.splitlines()[-1]


@pytest.mark.parametrize(
    ("language", "first_line", "forbidden"),
    [("en", "[UPDATE] Site down: เน็ตประชารัฐ บ้านดอน (S-2): merged into INC-12, still down",
      ("[RESOLVED]", "Restored")),
     ("th", "[อัปเดต] ไซต์ใช้งานไม่ได้: เน็ตประชารัฐ บ้านดอน (S-2): "
            "รวมเข้ากับเหตุการณ์ INC-12 ยังใช้งานไม่ได้", ("[แก้ไขแล้ว]", "กลับมาใช้งานได้"))],
    ids=["en", "th"],
)
def test_merge_is_an_update_not_a_resolution(builder: MessageBuilder, language: Language,
                                             first_line: str,
                                             forbidden: tuple[str, ...]) -> None:
    merged = Incident("INC-9", Kind.SITE_DOWN, Severity.MINOR, "device:S-2-gw", T0, T0,
                      State.RESOLVED, announced_at=T0 + 20, resolved_at=T0 + 90,
                      merged_into="INC-12")
    data = json.loads(encode(builder.payload(merged, Status.FIRING, Reason.MERGED, 2, language,
                                             T0 + 90)))
    assert data["status"] == "firing" and data["reason"] == "merged"
    assert data["merged_into"] == "INC-12" and data["resolved_at"] is None
    lines = data["message"].splitlines()
    assert lines[0] == first_line
    for word in forbidden:
        assert word not in data["message"]
    assert "pubnet alerts ack INC-12" in lines[-1]  # act on the incident it is part of now
