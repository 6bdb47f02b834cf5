"""Route matching, recipients per send, maintenance scopes, payload and message text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alerting.impact import AlertTopology
from alerting.messages import MessageBuilder, encode
from alerting.model import (
    Incident,
    Kind,
    MaintenanceWindow,
    Reason,
    RouteTimer,
    Send,
    Severity,
    State,
    Status,
)
from alerting.routing import (
    in_maintenance,
    matching_routes,
    parse_scope,
    recipients,
    window_covers,
)
from inventory.topology import Topology
from pubnet.config import AlertRoute, parse_config
from tests.alerting.builders import district_inventory


@pytest.fixture(scope="module")
def topo() -> AlertTopology:
    inv = district_inventory()
    return AlertTopology(inv, Topology.build(inv))


def incident(root: str, severity: Severity = Severity.MAJOR,
             kind: Kind = Kind.DEVICE_DOWN, **kw: Any) -> Incident:
    return Incident("INC-9", kind, severity, root, 1_764_000_000.0, 1_764_000_000.0, **kw)


def routes(*raw: dict[str, Any]) -> list[AlertRoute]:
    channels = {n: {"type": "mqtt"} for n in ("a", "b", "c", "boss")}
    config = parse_config({"alerting": {"routes": list(raw), "channels": channels}})
    assert config.alerting is not None
    return config.alerting.routes


@pytest.mark.parametrize(
    ("match", "root", "severity", "expected"),
    [
        ({}, "device:S-4-gw", Severity.MINOR, True),
        ({"province": ["50"]}, "device:S-4-gw", Severity.MINOR, True),
        ({"province": ["57"]}, "device:S-4-gw", Severity.MINOR, False),
        ({"district": ["5002"]}, "device:S-4-gw", Severity.MINOR, True),
        ({"district": ["5002"]}, "link:ln-da-5002", Severity.MAJOR, True),  # where it cuts
        ({"severity": ["critical", "major"]}, "device:S-4-gw", Severity.MINOR, False),
        ({"kind": ["site_down"]}, "device:da-5001", Severity.MAJOR, False),
    ],
    ids=["all", "province", "other-province", "district", "link-far-end", "severity", "kind"],
)
def test_route_matching(topo: AlertTopology, match: dict[str, Any], root: str,
                        severity: Severity, expected: bool) -> None:
    rs = routes({"match": match, "channels": ["a"]})
    inc = incident(root, severity)
    assert (matching_routes(rs, inc, topo.location(root)) == [0]) is expected


def test_recipients_per_send_kind() -> None:
    rs = routes(
        {"match": {}, "channels": ["a", "b"], "language": "en"},
        {"match": {}, "channels": ["b", "c"], "escalate_after": "1h", "escalate_to": ["boss"]},
    )
    inc = incident("device:S-4-gw", routes=(0, 1), timers=(RouteTimer(0, 0.0),
                                                          RouteTimer(1, 0.0, 5.0)))
    first = Send("INC-9", Status.FIRING, Reason.FIRST, 1)
    assert recipients(rs, inc, first) == [("a", "en"), ("b", "en"), ("c", "th"), ("boss", "th")]
    escalate = Send("INC-9", Status.FIRING, Reason.ESCALATE, 2, route=1)
    assert recipients(rs, inc, escalate) == [("boss", "th")]
    repeat = Send("INC-9", Status.FIRING, Reason.REPEAT, 3, route=0)
    assert recipients(rs, inc, repeat) == [("a", "en"), ("b", "en")]
    resolved = Send("INC-9", Status.RESOLVED, Reason.RESOLVED, 4)
    assert [c for c, _ in recipients(rs, inc, resolved)] == ["a", "b", "c", "boss"]


@pytest.mark.parametrize(
    ("scope", "root", "covered"),
    [
        ("province:50", "device:S-4-gw", True),
        ("district:5001", "device:S-4-gw", False),
        ("site:S-4", "device:S-4-gw", True),
        ("site:S-2", "site:S-2", True),
        ("device:da-5002", "link:ln-da-5002", True),
        ("device:S-1-gw", "device:S-4-gw", False),
    ],
    ids=["province", "other-district", "site", "all-aps-site", "link-endpoint", "other-device"],
)
def test_maintenance_scopes(topo: AlertTopology, scope: str, root: str, covered: bool) -> None:
    window = MaintenanceWindow(1, parse_scope(scope), 100.0, 200.0)
    inc = incident(root)
    assert window_covers(window, inc, topo.location(root), topo) is covered
    assert in_maintenance([window], inc, topo.location(root), topo, 150.0) is covered
    assert not in_maintenance([window], inc, topo.location(root), topo, 250.0)


def test_scope_validation() -> None:
    assert parse_scope(" Province:50 ") == "province:50"
    for bad in ("village:1", "province:", "50"):
        with pytest.raises(ValueError):
            parse_scope(bad)


def test_payload_fields_and_texts(topo: AlertTopology) -> None:
    builder = MessageBuilder(topo, sites_cap=2)
    inc = incident("device:da-5001", state=State.FIRING, acked_by="somchai")
    data = json.loads(encode(builder.payload(inc, Status.FIRING, Reason.FIRST, 1, "en", 0.0)))
    for key in ("incident_id", "status", "kind", "severity", "root_device", "root_link",
                "affected_devices", "affected_sites", "sites", "started_at", "resolved_at",
                "acknowledged_by", "message"):
        assert key in data
    assert data["sites_total"] == 3 and len(data["sites"]) == 2  # capped, with the total
    assert data["sites"][0]["id"] == "S-1"
    text = data["message"]
    for fragment in ("[FIRING] Device down: district router Mueang Chiang Mai (5001)",
                     "District: Mueang Chiang Mai, Province: Chiang Mai",
                     "https://www.google.com/maps?q=18.710000,98.910000",
                     "Upstream root cause: district router da-5001",
                     "Affected: 3 sites, 3 villages, 6 devices", "Incident INC-9",
                     "Acknowledged by somchai"):
        assert fragment in text, fragment
    thai = builder.payload(inc, Status.FIRING, Reason.FIRST, 1, "th", 0.0)["message"]
    for fragment in ("[แจ้งเหตุ] อุปกรณ์ล่ม", "อำเภอ: เมืองเชียงใหม่ จังหวัด: เชียงใหม่",
                     "สาเหตุจากต้นทาง: เราเตอร์ระดับอำเภอ da-5001",
                     "ผลกระทบ: 3 ไซต์ 3 หมู่บ้าน 6 อุปกรณ์", "เลขเหตุการณ์ INC-9"):
        assert fragment in thai, fragment
    gateway = builder.payload(incident("device:S-4-gw", kind=Kind.SITE_DOWN), Status.FIRING,
                              Reason.FIRST, 1, "en", 0.0)["message"]
    assert "Failed: site gateway S-4-gw" in gateway  # the site itself, not upstream
    for fragment in ("[FIRING] Site down: เน็ตประชารัฐ บ้านทดสอบ 4 (S-4)",
                     "Village: บ้านทดสอบ หมู่ 4, Subdistrict: Ban Luang, District: Chom Thong, "
                     "Province: Chiang Mai"):
        assert fragment in gateway, fragment
    link = builder.payload(incident("link:ln-pn-50", kind=Kind.LINK_DOWN), Status.FIRING,
                           Reason.FIRST, 1, "en", 0.0)
    assert link["root_link"] == "ln-pn-50" and link["root_device"] is None
    assert "By district: Mueang Chiang Mai 3, Chom Thong 1" in link["message"]
