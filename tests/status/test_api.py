"""The status API over real HTTP, served as ``pubnet run`` serves it (issue 13): counts that
agree with ``/metrics``, drill-down documents, JSON errors, and acknowledging with and
without operator credentials."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from pathlib import Path
from typing import Any

import pytest

from alerting.db import IncidentDB
from inventory.model import Inventory
from pubnet.model import PollStatus, Source
from pubnet.state import StateStore
from tests.alerting.builders import ROUTER_AND_GATEWAYS, district_inventory, poll_round
from tests.status.app import OPERATOR, PASSWORD, Running, basic, config_for, hashed, running

STATUS_KEYS = {"generated_at", "sites", "villages_without_service", "devices", "provinces",
               "incidents"}
INCIDENT_KEYS = {"incident_id", "kind", "severity", "status", "root_device", "root_link",
                 "affected_sites", "started_at", "acknowledged_by"}


def set_fleet(store: StateStore, inventory: Inventory, down: set[str], never: set[str],
              ts: float) -> None:
    for device in inventory.devices:
        if device in never:
            continue
        status = PollStatus.TIMEOUT if device in down else PollStatus.OK
        store.set_status(device, status, ts, Source.SNMP)


async def status_when(app: Running, check: Any, what: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def poll() -> bool:
        nonlocal found
        code, found = await app.get("/api/v1/status")
        assert code == 200
        return bool(check(found))

    deadline = time.monotonic() + 10
    while not await poll():
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {found}"
        await asyncio.sleep(0.1)
    return found


def site_up_samples(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith("pubnet_site_up{"):
            labels, _, value = line.rpartition(" ")
            site = labels.split('site="', 1)[1].split('"', 1)[0]
            found[site] = float(value)
    return found


async def test_counts_agree_with_metrics(tmp_path: Path) -> None:
    inv = district_inventory()
    async with running(config_for(tmp_path), inv) as app:
        # S-3 has its only gateway down; S-4 was never polled; S-2 keeps one AP of two
        set_fleet(app.store, inv, down={"S-3-gw", "S-2-ap1"}, never={"S-4-gw"}, ts=time.time())
        status = await status_when(app, lambda s: s["sites"]["unknown"] == 1,
                                   "the changes to be followed")
        assert STATUS_KEYS <= set(status)
        assert status["sites"] == {"total": 4, "up": 2, "down": 1, "unknown": 1}
        assert status["devices"] == {"total": 10, "up": 7, "down": 2, "unknown": 1}
        assert status["villages_without_service"] == 1
        assert status["generated_at"].endswith("+07:00")
        [province] = status["provinces"]
        assert province == {"code": "50", "name_th": "เชียงใหม่", "name_en": "Chiang Mai",
                            "sites": 4, "up": 2, "down": 1, "unknown": 1}
        code, metrics = await app.get("/metrics")
        assert code == 200
        samples = site_up_samples(metrics.decode())
        assert len(samples) == 4
        assert status["sites"]["up"] == sum(1 for v in samples.values() if v == 1)
        assert status["sites"]["down"] + status["sites"]["unknown"] == sum(
            1 for v in samples.values() if v == 0)
        # the site the store has no status for is the one unknown, as pubnet_site_up = 0
        assert samples["S-4"] == 0 and samples["S-3"] == 0 and samples["S-2"] == 1

        # a change moves every count, national and provincial
        app.store.set_status("S-3-gw", PollStatus.OK, time.time(), Source.SNMP)
        status = await status_when(app, lambda s: s["sites"]["up"] == 3, "S-3 back up")
        assert status["villages_without_service"] == 0
        assert status["provinces"][0]["down"] == 0


async def test_drill_down_province_district_site(tmp_path: Path) -> None:
    inv = district_inventory()
    async with running(config_for(tmp_path), inv) as app:
        started = time.time()
        set_fleet(app.store, inv, down={"S-3-gw"}, never={"S-4-gw"}, ts=started)
        await status_when(app, lambda s: s["sites"]["down"] == 1, "S-3 down")
        code, province = await app.get("/api/v1/provinces/50")
        assert code == 200
        assert (province["code"], province["sites"], province["down"]) == ("50", 4, 1)
        assert {d["code"]: (d["name_en"], d["sites"], d["up"], d["down"], d["unknown"])
                for d in province["districts"]} == {
            "5001": ("Mueang Chiang Mai", 3, 2, 1, 0), "5002": ("Chom Thong", 1, 0, 0, 1)}
        code, district = await app.get("/api/v1/districts/5001")
        assert code == 200
        assert district["province"]["code"] == "50"
        assert {s["site_id"]: s["status"] for s in district["sites"]} == {
            "S-1": "up", "S-2": "up", "S-3": "down"}
        s3 = next(s for s in district["sites"] if s["site_id"] == "S-3")
        assert (s3["devices"], s3["devices_down"]) == (1, 1)
        assert s3["since"] is not None and s3["village"] == "บ้านทดสอบ หมู่ 3"
        code, site = await app.get("/api/v1/sites/S-2")
        assert code == 200
        assert (site["name"], site["district"]["name_th"]) == ("เน็ตประชารัฐ บ้านทดสอบ 2",
                                                               "เมืองเชียงใหม่")
        devices = {d["device_id"]: d for d in site["devices"]}
        assert set(devices) == {"S-2-gw", "S-2-ap1", "S-2-ap2"}
        assert devices["S-2-gw"]["status"] == "up"
        assert devices["S-2-gw"]["poll_status"] == "ok"
        assert devices["S-2-gw"]["since"] is not None
        code, site = await app.get("/api/v1/sites/S-4")
        assert site["status"] == "unknown"
        assert site["devices"][0]["status"] == "unknown"
        assert site["devices"][0]["poll_status"] is None
        assert site["devices"][0]["since"] is None


@pytest.mark.parametrize("path", [
    "/api/v1/provinces/99", "/api/v1/districts/9999", "/api/v1/sites/NO-SUCH-SITE",
    "/api/v1/sites/%E0%B8%81", "/api/v1/nothing", "/api/v2/status", "/ui/missing.js",
], ids=["province", "district", "site", "thai-site-id", "api-path", "api-version", "asset"])
async def test_unknown_ids_are_404_json(tmp_path: Path, path: str) -> None:
    async with running(config_for(tmp_path, operators=False, alerting=False),
                       district_inventory()) as app:
        code, body = await app.get(path)
        assert code == 404
        assert set(body) == {"error"} and body["error"]


async def test_wrong_method_is_405_json(tmp_path: Path) -> None:
    async with running(config_for(tmp_path, operators=False, alerting=False),
                       district_inventory()) as app:
        code, body = await app.post("/api/v1/status", b"")
        assert code == 405 and "error" in body


async def test_geojson_has_every_site_with_its_status(tmp_path: Path) -> None:
    inv = district_inventory()
    async with running(config_for(tmp_path, operators=False), inv) as app:
        set_fleet(app.store, inv, down={"S-3-gw"}, never={"S-4-gw"}, ts=time.time())
        await status_when(app, lambda s: s["sites"]["down"] == 1, "S-3 down")
        async with app.session.get(app.base + "/api/v1/sites.geojson",
                                   headers={"Accept-Encoding": "gzip"},
                                   auto_decompress=False) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Encoding"] == "gzip"
            assert resp.headers["Content-Type"].startswith("application/geo+json")
            data = json.loads(gzip.decompress(await resp.read()))
        assert data["type"] == "FeatureCollection"
        by_id = {f["properties"]["id"]: f for f in data["features"]}
        assert set(by_id) == set(inv.sites)
        s3 = by_id["S-3"]
        assert s3["geometry"] == {"type": "Point", "coordinates": [98.93, 18.73]}
        assert s3["properties"] == {
            "id": "S-3", "name": "เน็ตประชารัฐ บ้านทดสอบ 3", "village": "บ้านทดสอบ หมู่ 3",
            "subdistrict": "ศรีภูมิ", "province": "50", "district": "5001", "status": "down"}
        assert by_id["S-4"]["properties"]["status"] == "unknown"
        assert data["districts"]["5002"] == ["จอมทอง", "Chom Thong"]
        assert len(data["provinces"]) == 77
        # the compact colours follow the same order
        code, codes = await app.get("/api/v1/site-status")
        assert code == 200
        assert codes["status"] == "".join(
            {"up": "u", "down": "d", "unknown": "n"}[f["properties"]["status"]]
            for f in data["features"])


async def _open_incident(app: Running) -> str:
    ts = time.time()
    for n in range(3):
        poll_round(app.store, ROUTER_AND_GATEWAYS, False, ts + n)
    status = await status_when(app, lambda s: len(s["incidents"]) == 1, "one incident")
    [incident] = status["incidents"]
    assert INCIDENT_KEYS <= set(incident)
    assert (incident["root_device"], incident["root_link"]) == ("da-5001", None)
    assert incident["affected_sites"] == 3
    assert incident["status"] == "firing" and incident["acknowledged_by"] is None
    return str(incident["incident_id"])


async def test_operator_acknowledges_into_the_history(tmp_path: Path) -> None:
    async with running(config_for(tmp_path), district_inventory()) as app:
        incident_id = await _open_incident(app)
        path = f"/api/v1/incidents/{incident_id}/ack"
        body = json.dumps({"by": "สมชาย ใจดี", "note": "ส่งช่างแล้ว"})
        code, answer = await app.post(path, body)
        assert code == 401 and "error" in answer
        code, answer = await app.post(path, body,
                                      headers={"Authorization": basic(OPERATOR, "wrong")})
        assert code == 401
        code, answer = await app.post(path, body,
                                      headers={"Authorization": basic(OPERATOR, PASSWORD)})
        assert code == 200, answer
        assert answer["acknowledged_by"] == f"สมชาย ใจดี ({OPERATOR})"
        status = await status_when(app, lambda s: s["incidents"][0]["acknowledged_by"],
                                   "the acknowledgement")
        assert status["incidents"][0]["status"] == "acknowledged"
        assert status["incidents"][0]["ack_channel"] == "web"
        # the operator's own name needs no repeating
        code, answer = await app.post(path, json.dumps({"by": OPERATOR}),
                                      headers={"Authorization": basic(OPERATOR, PASSWORD)})
        assert code == 200 and answer["acknowledged_by"] == OPERATOR
    with IncidentDB(tmp_path / "pubnet.db") as db:
        acks = db.acks(incident_id)
        row = db.get(incident_id)
    assert [(a.by, a.note, a.channel) for a in acks] == [
        (f"สมชาย ใจดี ({OPERATOR})", "ส่งช่างแล้ว", "web"), (OPERATOR, None, "web")]
    assert row is not None and row.incident.acked_by == OPERATOR


@pytest.mark.parametrize(("body", "why"), [
    (b"not json", "not JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[1, 2]", "JSON object"),
    (b"{}", '"by"'),
    (b'{"by": ""}', '"by"'),
    (b'{"by": 7}', '"by"'),
    (b'{"by": "a", "note": 5}', '"note"'),
    (b'{"by": "a", "who": "b"}', "unknown field"),
    (json.dumps({"by": "a", "note": "x" * 1001}).encode(), "longer than"),
], ids=["not-json", "not-utf8", "array", "no-by", "empty-by", "number-by", "number-note",
        "unknown-field", "long-note"])
async def test_bad_body_is_400(tmp_path: Path, body: bytes, why: str) -> None:
    async with running(config_for(tmp_path), district_inventory()) as app:
        incident_id = await _open_incident(app)
        code, answer = await app.post(f"/api/v1/incidents/{incident_id}/ack", body,
                                      headers={"Authorization": basic(OPERATOR, PASSWORD)})
        assert code == 400
        assert why in answer["error"]
        code, status = await app.get("/api/v1/status")  # the server carries on
        assert code == 200 and status["incidents"][0]["acknowledged_by"] is None


async def test_read_only_without_operators_is_403(tmp_path: Path) -> None:
    async with running(config_for(tmp_path, operators=False), district_inventory()) as app:
        incident_id = await _open_incident(app)
        code, answer = await app.post(f"/api/v1/incidents/{incident_id}/ack",
                                      json.dumps({"by": "x"}),
                                      headers={"Authorization": basic(OPERATOR, PASSWORD)})
        assert code == 403 and "read-only" in answer["error"]
        code, status = await app.get("/api/v1/status")
        assert status["can_acknowledge"] is False


async def test_unknown_and_resolved_incidents(tmp_path: Path) -> None:
    auth = {"Authorization": basic(OPERATOR, PASSWORD)}
    async with running(config_for(tmp_path), district_inventory()) as app:
        code, answer = await app.post("/api/v1/incidents/INC-999/ack",
                                      json.dumps({"by": "x"}), headers=auth)
        assert code == 404 and "INC-999" in answer["error"]
        incident_id = await _open_incident(app)
        poll_round(app.store, ROUTER_AND_GATEWAYS, True, time.time() + 10)
        await status_when(app, lambda s: s["incidents"] == [], "the incident to resolve")
        code, answer = await app.post(f"/api/v1/incidents/{incident_id}/ack",
                                      json.dumps({"by": "x"}), headers=auth)
        assert code == 409 and "resolved" in answer["error"]


async def test_alerting_off_has_no_incidents(tmp_path: Path) -> None:
    async with running(config_for(tmp_path, alerting=False), district_inventory()) as app:
        code, status = await app.get("/api/v1/status")
        assert code == 200
        assert status["incidents"] == [] and status["alerting"] is False
        code, answer = await app.post("/api/v1/incidents/INC-1/ack", json.dumps({"by": "x"}),
                                      headers={"Authorization": basic(OPERATOR, PASSWORD)})
        assert code == 404 and "alerting is off" in answer["error"]


async def test_listener_basic_auth_admits_operators_too(tmp_path: Path) -> None:
    readers = {"grafana": hashed("scrape-pass")}
    config = config_for(tmp_path, readers=readers)
    async with running(config, district_inventory()) as app:
        code, _ = await app.get("/api/v1/status")
        assert code == 401
        code, _ = await app.get("/api/v1/status",
                                headers={"Authorization": basic("grafana", "scrape-pass")})
        assert code == 200
        code, _ = await app.get("/", headers={"Authorization": basic(OPERATOR, PASSWORD)})
        assert code == 200
        # a reader may read, not acknowledge
        code, _ = await app.post(
            "/api/v1/incidents/INC-1/ack", json.dumps({"by": "x"}),
            headers={"Authorization": basic("grafana", "scrape-pass")})
        assert code == 401


async def test_page_and_assets_are_served(tmp_path: Path) -> None:
    async with running(config_for(tmp_path, operators=False, alerting=False),
                       district_inventory()) as app:
        async with app.session.get(app.base + "/") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
            page = await resp.text()
        assert '<script src="/ui/status.js">' in page and "http" not in page.split(
            "<body>")[1].replace('href="/', "")
        for asset, kind in (("status.js", "javascript"), ("status.css", "text/css")):
            async with app.session.get(f"{app.base}/ui/{asset}") as resp:
                assert resp.status == 200 and kind in resp.headers["Content-Type"]


async def test_large_or_chunked_ack_bodies_are_refused(tmp_path: Path) -> None:
    auth = {"Authorization": basic(OPERATOR, PASSWORD)}
    async with running(config_for(tmp_path), district_inventory()) as app:
        big = json.dumps({"by": "x", "note": "ก" * 5000}).encode()
        async with app.session.post(app.base + "/api/v1/incidents/INC-1/ack", data=big,
                                    headers=auth) as resp:
            assert resp.status == 413

        async def chunks() -> Any:
            yield b'{"by": "x"}'

        async with app.session.post(app.base + "/api/v1/incidents/INC-1/ack",
                                    data=chunks(), headers=auth) as resp:
            assert resp.status == 413
        code, _ = await app.get("/api/v1/status")
        assert code == 200
