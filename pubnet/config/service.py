"""What this pubnet process does: ``shard: I/N`` (which share of the sites it polls,
:mod:`pubnet.shard`), ``roles:`` (polling, alerting or both) and ``cluster:`` (how shards
and the alerting instance see each other over the broker, :mod:`pubnet.statewire`)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from pubnet.config.types import Duration, Section, positive, shown

if TYPE_CHECKING:
    from pubnet.config.root import Config
    from pubnet.shard import Shard


class Role(StrEnum):
    POLL = "poll"
    """Collectors (SNMP, ICMP, traps, MQTT telemetry) and the exporters of what they hear;
    without ``alerting`` beside it, device status goes to the broker for the alerting
    instance."""
    ALERTING = "alerting"
    """Alerting, history, reports and the status page over the whole inventory; without
    ``poll`` beside it, device status comes from the shards through the broker."""


ALL_ROLES = frozenset(Role)


def check_shard(value: str | None) -> str | None:
    """``shard: I/N`` as written, after checking its shape (see :mod:`pubnet.shard`)."""
    if value is None:
        return None
    from pubnet.shard import Shard

    return str(Shard.parse(value))


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Role names into roles; raises ValueError naming an unknown one or an empty list."""
    roles: set[Role] = set()
    for value in values:
        try:
            roles.add(Role(str(value).strip().lower()))
        except ValueError:
            raise ValueError(f"unknown role {shown(str(value))}: use "
                             f"{', '.join(r.value for r in Role)}") from None
    if not roles:
        raise ValueError(f"give at least one role: {', '.join(r.value for r in Role)}")
    return frozenset(roles)


def effective_roles(configured: Iterable[str] | None, shard: Shard | None) -> frozenset[Role]:
    """The roles a process takes: the configured ones, else both on one machine and
    ``poll`` only on a shard of N > 1, whose topology is partial (alerting there would see
    a district cut as one incident per shard; the alerting instance sees it whole)."""
    if configured is not None:
        return parse_roles(configured)
    if shard is not None and shard.count > 1:
        return frozenset({Role.POLL})
    return ALL_ROLES


def role_problem(config: Config, roles: frozenset[Role], shard: Shard | None, *,
                 explicit: bool) -> str | None:
    """Why ``roles`` cannot run with this config and shard (``key: message``), or None.

    ``explicit``: the roles were given (``roles:`` or ``--role``). A shard that only
    defaulted to ``poll`` may run on the embedded broker: it then publishes no device
    status, and ``pubnet run`` says so in a warning."""
    if roles == {Role.ALERTING} and shard is not None:
        return (f"shard: the alerting role alone watches the whole inventory; remove shard "
                f"{shard} (or add the poll role)")
    if explicit and roles != ALL_ROLES and config.mqtt.embedded:
        split = "poll" if Role.POLL in roles else "alerting"
        return (f"mqtt.url: role {split} without the other exchanges device status through "
                "a broker the shards and the alerting instance share; set mqtt.url (the "
                "embedded broker lives inside one pubnet)")
    return None


class ClusterConfig(Section):
    """How shards and the alerting instance see each other (``cluster:``)."""

    heartbeat: Duration = 10.0
    """Seconds between a shard's heartbeats on ``pubnet/v1/shards/{I}``."""
    missed: int = Field(default=3, ge=1, le=100)
    """Heartbeats a shard may miss before the alerting instance counts it gone (a hung
    shard); a lost connection is known at once from its last will."""

    @field_validator("heartbeat")
    @classmethod
    def _heartbeat_positive(cls, value: float) -> float:
        return positive(value)
