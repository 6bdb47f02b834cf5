"""Sites, devices and links: the nouns every other part of pubnet talks about.

Frozen dataclasses so that a loaded inventory can be shared by every component without
copying or fear of mutation. Enum values are the exact strings used in the CSV/YAML files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class SiteKind(StrEnum):
    VILLAGE_WIFI = "village_wifi"
    DIGITAL_CENTER = "digital_center"
    SCHOOL = "school"
    HEALTH_CENTER = "health_center"
    GOVERNMENT_OFFICE = "government_office"
    OTHER = "other"


class Role(StrEnum):
    ACCESS_POINT = "access_point"
    SITE_GATEWAY = "site_gateway"
    DISTRICT_AGGREGATION = "district_aggregation"
    PROVINCIAL_NODE = "provincial_node"
    CORE = "core"


class Medium(StrEnum):
    FIBER = "fiber"
    MICROWAVE = "microwave"
    SATELLITE = "satellite"
    COPPER = "copper"
    OTHER = "other"


SNMP_PROFILES: frozenset[str] = frozenset({"if-mib", "host", "access-point", "router", "auto"})
"""Profile names known without looking at profile files (the SNMP collector ships them)."""

NON_SNMP_PROFILES: frozenset[str] = frozenset({"icmp", "mqtt"})


@dataclass(frozen=True, slots=True)
class Site:
    """A place with public internet: a village hotspot, a school, a digital centre.

    Thai and English area names are resolved from the codes at load time so that every
    label, message and report can use them without another lookup.
    """

    site_id: str
    name: str
    kind: SiteKind
    province_code: str
    district_code: str
    subdistrict_code: str
    village: str
    lat: float
    lon: float
    province_name_th: str = ""
    province_name_en: str = ""
    district_name_th: str = ""
    district_name_en: str = ""
    subdistrict_name_th: str = ""
    subdistrict_name_en: str = ""


@dataclass(frozen=True, slots=True)
class Device:
    """Something pubnet watches. ``port`` is None when the address gave none (use the
    protocol's default). ``host`` is an IPv4 address, an IPv6 address without brackets, or
    a hostname."""

    device_id: str
    site_id: str
    role: Role
    host: str
    port: int | None
    profile: str
    credential: str
    upstream: str
    province_code: str = ""
    """The province the device stands in, for devices without a site (provincial nodes and
    cores: alerts and metrics name them by it). Optional; a device at a site is in its
    site's province (see :meth:`Inventory.province_of`)."""

    @property
    def address(self) -> str:
        """The address as written in the inventory (``host``, ``host:port``, ``[v6]:port``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Link:
    """A backbone link, watched through ``a_device``'s interface ``a_interface``."""

    link_id: str
    a_device: str
    a_interface: str
    b_device: str
    b_interface: str
    medium: Medium
    capacity_bps: int
    owner: str


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a record came from, for error messages: ``file:line``."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(slots=True)
class Inventory:
    """Everything loaded from one inventory folder or file, indexed by id."""

    sites: dict[str, Site] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    source: str = ""

    def province_of(self, device: Device) -> str:
        """The province code of a device: its site's, else its own ``province_code``
        (a provincial node or core); empty when neither says."""
        site = self.sites.get(device.site_id)
        return site.province_code if site is not None else device.province_code
