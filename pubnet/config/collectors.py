"""Sections of the collectors: SNMP polling, ICMP probes and the trap receiver.
"""

from __future__ import annotations

import re

from pydantic import (
    Field,
    field_validator,
)

from pubnet.config.types import Duration, PositiveDuration, RelPath, Section, shown


class SnmpConfig(Section):
    interval: PositiveDuration = 60.0
    timeout: PositiveDuration = 2.0
    retries: int = Field(default=1, ge=0, le=10)
    max_backoff: Duration | None = None
    """Longest wait between attempts at a dead device; default 5 × its interval."""
    max_in_flight: int = Field(default=2000, ge=1)
    port: int = Field(default=161, ge=1, le=65535)
    interval_by_role: dict[str, Duration] = Field(default_factory=dict)
    """Per-role polling interval overriding ``interval`` (e.g. ``core: 30s``)."""
    profiles_dir: RelPath | None = None
    """A folder of extra profile YAML files; a file named like a shipped one replaces it."""
    rewalk_every: int = Field(default=30, ge=1)
    """Polls between walks of a device's tables; the polls in between GET the rows the last
    walk found (a changed row count or a vanished row walks at once). 1 = walk every poll."""

    @field_validator("interval_by_role")
    @classmethod
    def _positive_intervals(cls, value: dict[str, float]) -> dict[str, float]:
        roles = ("access_point", "site_gateway", "district_aggregation", "provincial_node",
                 "core")
        for role, seconds in value.items():
            if role not in roles:
                raise ValueError(f"unknown role {shown(role)}; roles are {', '.join(roles)}")
            if seconds <= 0:
                raise ValueError(f"interval for {role} must be greater than zero")
        return value


class IcmpConfig(Section):
    """ICMP echo probes for devices whose profile is ``icmp``."""

    interval: PositiveDuration = 60.0
    timeout: PositiveDuration = 1.0
    """Wait for each echo reply."""
    count: int = Field(default=3, ge=1, le=20)
    """Echo requests per probe; loss is the share unanswered."""
    spacing: Duration = 0.2
    """Pause between the requests of one probe."""
    max_in_flight: int = Field(default=1000, ge=1)


class TrapsConfig(Section):
    """The SNMP trap/inform receiver; off when the ``traps`` section is absent."""

    listen: str = "127.0.0.1:9162"
    """``host:port`` to receive on (UDP)."""
    credentials: list[str] = Field(default_factory=list)
    """Names in ``credentials`` accepted: v1/v2c communities and v3 users. Empty: the
    community ``public`` only."""
    engine_ids: list[str] = Field(default_factory=list)
    """snmpEngineIDs (hex) of agents that send SNMPv3 *traps*; informs need none."""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("expected host:port, e.g. 127.0.0.1:9162 (port 0: any free port)")
        return value

    @field_validator("engine_ids")
    @classmethod
    def _hex(cls, value: list[str]) -> list[str]:
        for item in value:
            text = item.removeprefix("0x").removeprefix("0X")
            if len(text) < 10 or len(text) % 2 or not re.fullmatch(r"[0-9A-Fa-f]+", text):
                raise ValueError(f"engine id {shown(item)} is not 5-32 bytes of hex")
        return value
