"""The values alerting reasons about: elements that fail, incidents, and the sends they cause.

An *element* is something that can be down: a device (``device:gw-1``), a backbone link
(``link:L-7``) or a site whose access points are all dark while its gateway answers
(``site:S-1``). Elements are plain strings with a prefix so that they can be dictionary keys,
SQLite values and log fields without conversion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    DEVICE_DOWN = "device_down"
    SITE_DOWN = "site_down"
    LINK_DOWN = "link_down"
    DEVICE_REBOOTED = "device_rebooted"
    LINK_UTILISATION = "link_utilisation"
    INTERFACE_ERRORS = "interface_errors"
    QUIET_ACCESS_POINT = "quiet_access_point"
    FLAPPING = "flapping"
    POWER = "power"
    """Many sites dark under routers that answer: the grid, not the network
    (:mod:`alerting.power`)."""
    COLLECTOR_DOWN = "collector_down"
    """A polling shard is gone (its last will, a clean stop or missed heartbeats): its
    devices are unwatched (stale), not down (``docs/deployment.md``, sharded polling)."""


class Severity(StrEnum):
    """Listed most severe first; :attr:`rank` compares them."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for ``info`` up to 4 for ``critical``."""
        members = list(Severity)
        return len(members) - 1 - members.index(self)


class State(StrEnum):
    """Where an incident is in its life.

    ``pending`` incidents wait ``group_wait`` for an upstream failure to absorb them and are
    never shown to anyone; the others are what ``pubnet alerts list`` prints.
    """

    PENDING = "pending"
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    @property
    def is_open(self) -> bool:
        return self is not State.RESOLVED


class Status(StrEnum):
    """The ``status`` field of a message."""

    FIRING = "firing"
    RESOLVED = "resolved"


class Reason(StrEnum):
    """Why a message is sent."""

    FIRST = "first"
    REPEAT = "repeat"
    ESCALATE = "escalate"
    RESOLVED = "resolved"
    MERGED = "merged"
    """An announced incident became part of an upstream one (``merged_into``). Its elements
    are still down, so this is a ``firing`` update, never a resolution; the incident it
    joined carries on (and its resolved message covers both)."""


DEVICE = "device:"
LINK = "link:"
SITE = "site:"
AREA = "area:"
"""``area:<province or district code>/<incident id>``: the root of a power incident."""
COLLECTOR = "collector:"
"""``collector:<shard number>``: the root of a ``collector_down`` incident."""


def device_element(device_id: str) -> str:
    return DEVICE + device_id


def link_element(link_id: str) -> str:
    return LINK + link_id


def site_element(site_id: str) -> str:
    return SITE + site_id


def collector_element(shard_index: int) -> str:
    return f"{COLLECTOR}{shard_index}"


def split_element(element: str) -> tuple[str, str]:
    """``("device", "gw-1")`` from ``device:gw-1``; raises ValueError on anything else."""
    prefix, sep, ident = element.partition(":")
    if not sep or prefix not in ("device", "link", "site", "area", "collector") or not ident:
        raise ValueError(f"not an element: {element!r}")
    return prefix, ident


@dataclass(frozen=True, slots=True)
class RouteTimer:
    """Per-route repeat and escalation bookkeeping of one incident."""

    route: int
    last_sent_at: float
    escalated_at: float | None = None
    """When the last escalation step was sent."""
    escalations: int = 0
    """Escalation steps sent so far (an ``oncall`` walk takes several)."""


@dataclass(frozen=True, slots=True)
class Incident:
    """One root cause. Updated only through :mod:`alerting.lifecycle` (pure functions)."""

    incident_id: str
    kind: Kind
    severity: Severity
    root: str
    """The element that failed: ``device:...``, ``link:...`` or ``site:...``."""
    started_at: float
    """When the root element started failing."""
    created_at: float
    """When this incident was opened (``group_wait`` counts from here)."""
    state: State = State.PENDING
    members: frozenset[str] = frozenset()
    """Down elements attached to this incident, the root included."""
    announced_at: float | None = None
    resolved_at: float | None = None
    resolved_sent: bool = False
    merged_into: str | None = None
    acked_by: str | None = None
    acked_at: float | None = None
    ack_note: str | None = None
    ack_channel: str | None = None
    """Where the latest acknowledgement came from (``cli``, ``web``, ``line``,
    ``telegram``); read back from the acknowledgement history, not a column of its own."""
    maintenance: bool = False
    """A maintenance window covers this incident now (for a closed one: when it was last
    stepped), so its messages are held back."""
    sequence: int = 0
    """Messages emitted so far; the next one gets ``sequence + 1``."""
    timers: tuple[RouteTimer, ...] = ()
    routes: tuple[int, ...] = ()
    """Indexes of the routes that matched when the incident was first announced."""
    detail: str = ""
    """Extra facts for the message (the interface, the measured value)."""

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    @property
    def acknowledged(self) -> bool:
        return self.acked_at is not None


@dataclass(frozen=True, slots=True)
class Ack:
    """One acknowledgement of an incident; every one is kept (the incident shows the latest)."""

    by: str
    at: float
    note: str | None = None
    channel: str = ""
    """How it came in: ``cli`` for ``pubnet alerts ack``."""


@dataclass(frozen=True, slots=True)
class Send:
    """A message the lifecycle decided to emit. ``route`` is None for all matched routes."""

    incident_id: str
    status: Status
    reason: Reason
    sequence: int
    route: int | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for one channel, as written to the outbox."""

    channel: str
    incident_id: str
    status: Status
    sequence: int
    payload: str
    """JSON text (the webhook body and MQTT payload); other channels format from it."""
    topic_hint: tuple[str, str] = ("", "")
    """(province_code, district_code) for topic templates."""

    @property
    def delivery_key(self) -> str:
        return f"{self.incident_id}:{self.status.value}:{self.sequence}"


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """No message goes out for incidents in ``scope`` between ``starts_at`` and ``ends_at``."""

    window_id: int
    scope: str
    """``province:50``, ``district:5001``, ``site:S-1`` or ``device:gw-1``."""
    starts_at: float
    ends_at: float
    note: str = ""
    created_by: str = ""

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class Impact:
    """What an incident takes down, from the topology."""

    devices: frozenset[str]
    sites: frozenset[str]
    villages: int
    by_district: tuple[tuple[str, int], ...] = field(default=())
    """(district code, affected site count), largest first."""
