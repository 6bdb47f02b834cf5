"""The alert payload (an interface: webhook body, MQTT payload) and its Thai/English text.

The payload is built once per message and stored in the outbox as JSON, so a message sent
after a restart is byte-for-byte the one decided before it. Templates are plain format
strings per language: a field technician reads them on a phone, so the first line says what
failed and where, then the place, the map link, since when, how much is cut off, the
upstream cause and the id to acknowledge with.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from alerting.impact import AlertTopology
from alerting.model import Incident, Kind, Reason, Status, split_element
from inventory.geography import province_index
from inventory.model import Device, Role, Site
from pubnet.words import load_words

Language = Literal["th", "en"]

BANGKOK = timezone(timedelta(hours=7), "ICT")

TEXT = load_words("alerting", "words.yaml")
"""The messages' words: key -> {"th": ..., "en": ...} (``words.yaml``)."""

KIND_TEXT = {kind: TEXT[f"kind_{kind.value}"] for kind in Kind}
ROLE_TEXT = {role: TEXT[f"role_{role.value}"] for role in Role}
"""Every kind and role is named in both languages (a missing one fails at import)."""

BACKBONE_ROLES = frozenset({Role.DISTRICT_AGGREGATION, Role.PROVINCIAL_NODE, Role.CORE})
"""Nodes named for the area they serve, not for the site they may be filed under."""

_TEXT_BY_LANGUAGE = {
    lang: {key: value[lang] for key, value in TEXT.items()} for lang in ("th", "en")
}

UNITS: dict[str, dict[str, tuple[str, str]]] = {
    "site": {"en": ("site", "sites"), "th": ("ไซต์", "ไซต์")},
    "village": {"en": ("village", "villages"), "th": ("หมู่บ้าน", "หมู่บ้าน")},
    "device": {"en": ("device", "devices"), "th": ("อุปกรณ์", "อุปกรณ์")},
}
"""(one, many) per language: English says "1 site, 2 sites"; Thai has no plural."""


def count_text(count: int, unit: str, language: Language) -> str:
    one, many = UNITS[unit][language]
    return f"{count} {one if count == 1 else many}"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def local_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, BANGKOK).strftime("%Y-%m-%d %H:%M")


def duration_text(seconds: float, language: Language) -> str:
    """``21 s`` under a minute (a short outage is not ``0 min``), else ``1 h 5 min``."""
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"{int(seconds)} วินาที" if language == "th" else f"{int(seconds)} s"
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    if language == "th":
        return f"{hours} ชม. {minutes} นาที" if hours else f"{minutes} นาที"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


class MessageBuilder:
    """Payloads and texts for incidents over one topology."""

    def __init__(self, topology: AlertTopology, sites_cap: int = 50,
                 map_url: str = "https://www.google.com/maps?q={lat},{lon}") -> None:
        self.topology = topology
        self.sites_cap = sites_cap
        self.map_url = map_url
        self._names: dict[str, dict[str, str]] = {"th": {}, "en": {}}
        self._sites_cache: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self._described: dict[tuple[str, Language], str] = {}
        for site in topology.inventory.sites.values():
            for lang, name in (("th", site.district_name_th), ("en", site.district_name_en)):
                self._names[lang].setdefault(site.district_code, name or site.district_code)

    def payload(self, incident: Incident, status: Status, reason: Reason, sequence: int,
                language: Language, now: float) -> dict[str, Any]:
        """The message as a JSON-ready dict (field names are an interface)."""
        topo = self.topology
        kind, ident = split_element(incident.root)
        impact = topo.impact(incident.root)
        site = topo.site_of(incident.root)
        shown, total = self._sites_of(incident.root, site)
        loc = topo.location(incident.root)
        data: dict[str, Any] = {
            "incident_id": incident.incident_id,
            "status": status.value,
            "kind": incident.kind.value,
            "severity": incident.severity.value,
            "root_device": ident if kind == "device" else None,
            "root_link": ident if kind == "link" else None,
            "root_site": site.site_id if site is not None else None,
            "affected_devices": len(impact.devices),
            "affected_sites": len(impact.sites),
            "affected_villages": impact.villages,
            "sites": shown,
            "sites_total": total,
            "districts": [{"code": code, "sites": count} for code, count in impact.by_district],
            "province_code": loc.province_code,
            "district_code": loc.district_code,
            "started_at": iso(incident.started_at),
            "resolved_at": iso(incident.resolved_at) if status is Status.RESOLVED else None,
            "acknowledged_by": incident.acked_by,
            "acknowledged_at": iso(incident.acked_at),
            "reason": reason.value,
            "sequence": sequence,
            "maintenance": incident.maintenance,
            "merged_into": incident.merged_into,
            "sent_at": iso(now),
            "language": language,
        }
        data["message"] = self.text(incident, status, reason, language, site)
        return data

    def _sites_of(self, root: str, site: Site | None) -> tuple[list[dict[str, Any]], int]:
        """The capped ``sites`` list of a root (its own site first) and the total, cached:
        repeats and the resolved message of a 1,000-site outage reuse it."""
        found = self._sites_cache.get(root)
        if found is None:
            sites_all = self.topology.inventory.sites
            own = site.site_id if site is not None else ""
            ordered = sorted(
                (sites_all[s] for s in self.topology.impact(root).sites if s in sites_all),
                key=lambda s: (s.site_id != own, s.province_code, s.district_code, s.name,
                               s.site_id),
            )
            found = ([self._site(s) for s in ordered[: self.sites_cap]], len(ordered))
            if len(self._sites_cache) >= 10_000:
                self._sites_cache.clear()
            self._sites_cache[root] = found
        return found

    def _site(self, site: Site) -> dict[str, Any]:
        return {
            "id": site.site_id,
            "name": site.name,
            "village": site.village,
            "subdistrict": site.subdistrict_name_th or site.subdistrict_code,
            "district": site.district_name_th or site.district_code,
            "district_code": site.district_code,
            "province": site.province_name_th or site.province_code,
            "province_code": site.province_code,
            "lat": site.lat,
            "lon": site.lon,
        }

    def describe(self, element: str, language: Language) -> str:
        """``district router rtr-5001 (Ban Pa Sak)`` / a link / all APs of a site."""
        key = (element, language)
        found = self._described.get(key)
        if found is None:
            if len(self._described) >= 20_000:
                self._described.clear()
            found = self._described[key] = self._describe(element, language)
        return found

    def _describe(self, element: str, language: Language) -> str:
        kind, ident = split_element(element)
        inv = self.topology.inventory
        if kind == "collector":
            return TEXT["collector"][language].format(shard=ident)
        if kind == "area":
            return self._area_name(element, language)
        if kind == "link":
            link = inv.links.get(ident)
            if link is None:
                return ident
            ends = self.topology.link_ends(ident) or (link.a_device, link.b_device)
            return TEXT["link"][language].format(
                id=ident, medium=link.medium.value, owner=link.owner, a=ends[0], b=ends[1])
        if kind == "site":
            return TEXT["all_aps"][language].format(site=ident)
        device = inv.devices.get(ident)
        if device is None:
            return ident
        role = ROLE_TEXT.get(device.role, {}).get(language, device.role.value)
        area = self._area(device, language)
        if area is not None:
            return f"{role} {ident} ({area[2]})"
        site = inv.sites.get(device.site_id)
        where = f" ({site.name})" if site is not None else ""
        return f"{role} {ident}{where}"

    def _area(self, device: Device, language: Language) -> tuple[str, str, str] | None:
        """(name, code, phrase) of the district a district router serves or the province a
        provincial node or core stands in: ``("Mueang Nan", "5501", "Mueang Nan district")``
        / ``("เมืองน่าน", "5501", "อำเภอเมืองน่าน")``. None for other roles, or when the
        inventory does not say."""
        if device.role not in BACKBONE_ROLES:
            return None
        english = language == "en"
        if device.role is Role.DISTRICT_AGGREGATION:
            site = self.topology.inventory.sites.get(device.site_id)
            if site is None:
                return None
            name = (site.district_name_en if english else site.district_name_th) \
                or site.district_code
            code = site.district_code
            # Bangkok's districts are khet, and their Thai names already say so.
            phrase = name if name.startswith("เขต") else TEXT["district_area"][language].format(
                name=name)
            return name, code, phrase
        code = self.topology.inventory.province_of(device)
        province = province_index().get(code)
        if province is None:
            return None
        name = province.name_en if english else province.name_th
        phrase = name if code == "10" else TEXT["province_area"][language].format(name=name)
        return name, code, phrase

    def _node(self, device: Device, language: Language) -> str | None:
        """``provincial node Nan (55)``: a backbone node named by role and place."""
        area = self._area(device, language)
        if area is None:
            return None
        role = ROLE_TEXT.get(device.role, {}).get(language, device.role.value)
        return f"{role} {area[0]} ({area[1]})"

    def _area_name(self, element: str, language: Language) -> str:
        """``อำเภอแม่แจ่ม จังหวัดเชียงใหม่`` / ``Mae Chaem district, Chiang Mai province``
        for a power incident's area."""
        from inventory.geography import district

        loc = self.topology.location(element)
        province = province_index().get(loc.province_code)
        parts = []
        found = district(loc.district_code) if loc.district_code else None
        if found is not None:
            parts.append(TEXT["district_area"][language].format(
                name=found.name_en if language == "en" else found.name_th))
        if province is not None:
            parts.append(TEXT["province_area"][language].format(
                name=province.name_en if language == "en" else province.name_th))
        return (", " if language == "en" else " ").join(parts) or element

    def headline_place(self, element: str, site: Site | None, language: Language) -> str:
        """What the first line names: the site for village equipment, the served district
        or province for a backbone node (or the link towards it)."""
        kind, ident = split_element(element)
        if kind == "area":
            return self._area_name(element, language)
        if kind == "collector":
            return TEXT["collector"][language].format(shard=ident)
        device = self.topology.device_of(element)
        if device is not None:
            node = self._node(device, language)
            if node is not None:
                return node if kind == "device" else TEXT["towards"][language].format(node=node)
        if site is not None:
            return f"{site.name} ({site.site_id})"
        if device is not None and kind == "device":
            role = ROLE_TEXT.get(device.role, {}).get(language, device.role.value)
            return f"{role} {ident}"
        return ident

    def _place_line(self, t: dict[str, str], element: str, site: Site | None,
                    language: Language) -> str | None:
        english = language == "en"
        device = self.topology.device_of(element)
        area = self._area(device, language) if device is not None else None
        if area is not None and device is not None and device.role is not Role.DISTRICT_AGGREGATION:
            return t["province_place"].format(province=area[0])
        if site is None:
            return None
        province = (site.province_name_en if english else site.province_name_th) \
            or site.province_code
        district = (site.district_name_en if english else site.district_name_th) \
            or site.district_code
        if area is not None:  # a district router: its district, not the village it is at
            return t["district_place"].format(district=district, province=province)
        return t["place"].format(
            village=site.village,
            subdistrict=(site.subdistrict_name_en if english else site.subdistrict_name_th)
            or site.subdistrict_code,
            district=district,
            province=province,
        )

    def text(self, incident: Incident, status: Status, reason: Reason, language: Language,
             site: Site | None) -> str:
        t = _TEXT_BY_LANGUAGE[language]
        merged = reason is Reason.MERGED and incident.merged_into is not None
        head = t["resolved"] if status is Status.RESOLVED else t[
            {Reason.FIRST: "firing", Reason.REPEAT: "repeat", Reason.ESCALATE: "escalate",
             Reason.MERGED: "update"}.get(reason, "firing")]
        kind_text = KIND_TEXT[incident.kind][language]
        where = self.headline_place(incident.root, site, language)
        first = f"{head} {kind_text}: {where}"
        if merged:
            first += ": " + t["merged"].format(other=incident.merged_into)
        lines = [first]
        place = self._place_line(t, incident.root, site, language)
        if place is not None:
            lines.append(place)
        if site is not None:
            link = self.map_url.format(lat=f"{site.lat:.6f}", lon=f"{site.lon:.6f}")
            lines.append(t["coords"].format(lat=site.lat, lon=site.lon, map=link))
        what = self.describe(incident.root, language)
        kind, _ = split_element(incident.root)
        if kind == "area":
            impact = self.topology.impact(incident.root)
            routers = {self.topology.inventory.devices[d].upstream
                       for d in impact.devices if d in self.topology.inventory.devices
                       and self.topology.inventory.devices[d].role is Role.SITE_GATEWAY}
            what = t["power_what"].format(sites=count_text(len(impact.sites), "site", language),
                                          routers=len(routers))
        device = self.topology.inventory.devices.get(incident.root.partition(":")[2])
        upstream = kind == "link" or (
            device is not None and device.role not in (Role.SITE_GATEWAY, Role.ACCESS_POINT))
        lines.append((t["cause"] if upstream else t["what"]).format(cause=what, what=what))
        lines.append(t["since"].format(since=local_time(incident.started_at)))
        if status is Status.RESOLVED and incident.resolved_at is not None:
            lines.append(t["ended"].format(
                ended=local_time(incident.resolved_at),
                duration=duration_text(incident.resolved_at - incident.started_at, language)))
        impact = self.topology.impact(incident.root)
        lines.append(t["impact"].format(
            sites=count_text(len(impact.sites), "site", language),
            villages=count_text(impact.villages, "village", language),
            devices=count_text(len(impact.devices), "device", language)))
        if len(impact.by_district) > 1:
            names = self._district_names(language)
            shown = ", ".join(f"{names.get(code, code)} {count}"
                              for code, count in impact.by_district[:10])
            more = " ..." if len(impact.by_district) > 10 else ""
            lines.append(t["districts"].format(list=shown + more))
        if incident.detail:
            lines.append(t["detail"].format(detail=incident.detail))
        if incident.acked_by and status is not Status.RESOLVED:
            lines.append(t["acked"].format(who=incident.acked_by))
        if status is Status.RESOLVED:  # nothing left to acknowledge
            lines.append(t["incident_closed"].format(id=incident.incident_id))
        elif merged:
            lines.append(t["incident_merged"].format(id=incident.incident_id,
                                                     other=incident.merged_into))
        else:
            lines.append(t["incident"].format(id=incident.incident_id))
        return "\n".join(lines)

    def _district_names(self, language: Language) -> dict[str, str]:
        return self._names[language]


def encode(payload: dict[str, Any]) -> str:
    """Compact UTF-8 JSON (Thai kept readable)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
