"""The JSON documents of the status API, built from the running counts (no HTTP here).

Field names are an interface (issue 13): ``/api/v1/status`` has exactly ``generated_at``,
``sites``, ``villages_without_service``, ``devices``, ``provinces`` and ``incidents`` with
the fields the issue lists; what the page needs besides (collector health, recent messages,
the map's version) comes as additional keys, never renamed ones. Times are RFC 3339 in
Asia/Bangkok (+07:00; Thailand keeps no daylight saving).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from dashboards.status.fleet import Area, Counts, FleetStatus
from pubnet.catalog import MQTT_CONNECTED, POLL_LAG, PUBNET_DEVICE
from pubnet.incidents import OpenIncident, SentMessage
from pubnet.state import StateStore

BANGKOK = timezone(timedelta(hours=7), "Asia/Bangkok")


def rfc3339(ts: float | None) -> str | None:
    """``2026-03-12T14:05:09+07:00``; None for a time that never was (0 or None)."""
    if not ts:
        return None
    return datetime.fromtimestamp(ts, BANGKOK).isoformat(timespec="seconds")


def _counts(counts: Counts) -> dict[str, int]:
    return {"total": counts.total, "up": counts.up, "down": counts.down,
            "unknown": counts.unknown}


def _area(area: Area, counts: Counts) -> dict[str, Any]:
    return {"code": area.code, "name_th": area.name_th, "name_en": area.name_en,
            **counts.as_dict()}


def incident(item: OpenIncident) -> dict[str, Any]:
    return {
        "incident_id": item.incident_id, "kind": item.kind, "severity": item.severity,
        "status": item.status, "root_device": item.root_device, "root_link": item.root_link,
        "affected_sites": len(item.sites), "started_at": rfc3339(item.started_at),
        "acknowledged_by": item.acknowledged_by,
        # beyond the interface: where it is and what it is, for the page
        "root_site": item.root_site, "province": item.province, "district": item.district,
        "affected_villages": item.affected_villages,
        "acknowledged_at": rfc3339(item.acknowledged_at), "summary": item.summary,
        "ack_note": item.acknowledged_note, "ack_channel": item.acknowledged_channel,
    }


def message(item: SentMessage) -> dict[str, Any]:
    return {"incident_id": item.incident_id, "channel": item.channel, "status": item.status,
            "language": item.language, "text": item.text,
            "created_at": rfc3339(item.created_at),
            "delivered_at": rfc3339(item.delivered_at)}


def collectors(store: StateStore, poll_interval: float, now: float) -> dict[str, Any]:
    """Whether pubnet's own collectors keep up: the SNMP poller's lag and the MQTT link.

    Healthy while the most overdue poll is less than one polling interval late and the
    MQTT collector (when it runs) is connected. A lag reading older than three intervals
    means the poller stopped reporting: not healthy either.
    """
    lag_obs = store.latest(PUBNET_DEVICE, POLL_LAG)
    mqtt_obs = store.latest(PUBNET_DEVICE, MQTT_CONNECTED)
    lag = None if lag_obs is None else round(lag_obs.value, 3)
    stale = lag_obs is not None and now - lag_obs.ts > 3 * poll_interval + 10
    mqtt = None if mqtt_obs is None else mqtt_obs.value >= 0.5
    healthy = (lag is None or (lag < poll_interval and not stale)) and mqtt is not False
    return {"poll_lag_seconds": lag, "poll_lag_stale": stale, "mqtt_connected": mqtt,
            "healthy": healthy}


def status(fleet: FleetStatus, incidents: Sequence[OpenIncident],
           messages: Sequence[SentMessage], health: dict[str, Any], now: float,
           extra: dict[str, Any]) -> dict[str, Any]:
    """``GET /api/v1/status``."""
    return {
        "generated_at": rfc3339(now),
        "sites": _counts(fleet.nation),
        "villages_without_service": fleet.villages_without_service,
        "devices": _counts(fleet.devices),
        "provinces": [_area(p, fleet.province_counts[p.index]) for p in fleet.provinces],
        "incidents": [incident(i) for i in incidents],
        "collectors": health,
        "messages": [message(m) for m in messages],
        "sites_version": fleet.sites_version,
        **extra,
    }


def province(fleet: FleetStatus, area: Area, incidents: Sequence[OpenIncident],
             now: float) -> dict[str, Any]:
    """``GET /api/v1/provinces/{code}``: the province and its districts, worst first."""
    districts = [fleet.districts[d] for d in fleet.districts_of[area.index]]
    return {
        "generated_at": rfc3339(now),
        **_area(area, fleet.province_counts[area.index]),
        "districts": [_area(d, fleet.district_counts[d.index]) for d in districts],
        "incidents": [incident(i) for i in incidents if i.province == area.code],
    }


def district(fleet: FleetStatus, area: Area, incidents: Sequence[OpenIncident],
             now: float) -> dict[str, Any]:
    """``GET /api/v1/districts/{code}``: the district and its sites."""
    parent = fleet.provinces[area.parent]
    sites = []
    for index in fleet.sites_of_district[area.index]:
        site = fleet.sites[index]
        members = fleet.devices_of(site.site_id)
        sites.append({
            "site_id": site.site_id, "name": site.name, "village": site.village,
            "subdistrict_th": site.subdistrict_name_th,
            "subdistrict_en": site.subdistrict_name_en, "kind": site.kind.value,
            "lat": site.lat, "lon": site.lon, "status": fleet.site_health(index),
            "since": rfc3339(fleet.site_since[index]), "devices": len(members),
            "devices_down": sum(1 for d in members if fleet.device_health(d) == "down"),
        })
    codes = {s["site_id"] for s in sites}
    return {
        "generated_at": rfc3339(now),
        **_area(area, fleet.district_counts[area.index]),
        "province": {"code": parent.code, "name_th": parent.name_th,
                     "name_en": parent.name_en},
        "sites": sites,
        "incidents": [incident(i) for i in incidents
                      if i.district == area.code or not codes.isdisjoint(i.sites)],
    }


def site(fleet: FleetStatus, store: StateStore, site_id: str,
         incidents: Sequence[OpenIncident], now: float) -> dict[str, Any]:
    """``GET /api/v1/sites/{site_id}``: its devices with statuses and since when."""
    index = fleet.site_index[site_id]
    record = fleet.sites[index]
    province_area = fleet.provinces[fleet.site_province[index]]
    district_area = fleet.districts[fleet.site_district[index]]
    devices = []
    for device_id in fleet.devices_of(site_id):
        device = fleet.inventory.devices[device_id]
        state = store.status(device_id)
        poll = state.status if state is not None else None
        devices.append({
            "device_id": device_id, "role": device.role.value, "profile": device.profile,
            "address": device.address, "status": fleet.device_health(device_id),
            "poll_status": None if poll is None else poll.value,
            "since": rfc3339(state.since) if poll is not None and state is not None else None,
            "last_poll": rfc3339(state.last_attempt) if state is not None else None,
            "last_seen": rfc3339(state.last_seen) if state is not None else None,
            "detail": state.detail if state is not None else "",
        })
    return {
        "generated_at": rfc3339(now),
        "site_id": record.site_id, "name": record.name, "kind": record.kind.value,
        "village": record.village, "lat": record.lat, "lon": record.lon,
        "status": fleet.site_health(index), "since": rfc3339(fleet.site_since[index]),
        "province": {"code": province_area.code, "name_th": province_area.name_th,
                     "name_en": province_area.name_en},
        "district": {"code": district_area.code, "name_th": district_area.name_th,
                     "name_en": district_area.name_en},
        "subdistrict": {"code": record.subdistrict_code, "name_th": record.subdistrict_name_th,
                        "name_en": record.subdistrict_name_en},
        "devices": devices,
        "incidents": [incident(i) for i in incidents if site_id in i.sites
                      or i.root_site == site_id],
    }
