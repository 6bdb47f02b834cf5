"""The alerting section: detection thresholds, routes and the channels technicians use.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from pubnet.config.types import Duration, RelPath, Secret, Section, shown

ONCALL_TARGET = "oncall"
"""The route target meaning "the technician on call for the incident's area now"."""

AlertSeverity = Literal["critical", "major", "minor", "warning", "info"]
AlertKind = Literal[
    "device_down", "site_down", "link_down", "device_rebooted", "link_utilisation",
    "interface_errors", "quiet_access_point", "flapping", "power",
    "collector_down",
]


class AlertRouteMatch(Section):
    """Which incidents a route takes; an absent key matches everything (``{}`` = all)."""

    province: list[str] | None = None
    district: list[str] | None = None
    severity: list[AlertSeverity] | None = None
    kind: list[AlertKind] | None = None

    @field_validator("province", "district", mode="before")
    @classmethod
    def _codes_as_text(cls, value: object) -> object:
        if isinstance(value, str | int):
            value = [value]
        if isinstance(value, list):
            return [str(v) for v in value]
        return value

    @field_validator("province")
    @classmethod
    def _province_codes(cls, value: list[str] | None) -> list[str] | None:
        return _area_codes(value, "province", 2, "50 for Chiang Mai, 10 for Bangkok")

    @field_validator("district")
    @classmethod
    def _district_codes(cls, value: list[str] | None) -> list[str] | None:
        return _area_codes(value, "district", 4, "5001")


def _area_codes(value: list[str] | None, level: Literal["province", "district"], digits: int,
                example: str) -> list[str] | None:
    """Codes, not names: ``["Chiang Mai"]`` would match nothing and silence a route."""
    from inventory.geography import area_names

    for code in value or ():
        if not (len(code) == digits and code.isascii() and code.isdigit()):
            raise ValueError(f"{shown(code)} is not a {level} code: use the {digits}-digit "
                             f"codes of the inventory's {level}_code, e.g. {example}")
        if code not in area_names(level):
            raise ValueError(f"no {level} has the code {code}")
    return value


class AlertRoute(Section):
    match: AlertRouteMatch = Field(default_factory=AlertRouteMatch)
    channels: list[str] = Field(min_length=1)
    repeat: Duration | None = None
    """Send the firing message again at this interval while nobody acknowledges it."""
    escalate_after: Duration | None = None
    escalate_to: list[str] = Field(default_factory=list)
    escalate_steps: int = Field(default=1, ge=1, le=20)
    """Escalate again every ``escalate_after`` until this many steps were sent: with
    ``escalate_to: [oncall]`` each step reaches the next person on call, the last the
    provincial lead."""
    language: Literal["th", "en"] = "th"

    @model_validator(mode="after")
    def _escalation_pair(self) -> AlertRoute:
        if self.escalate_after is not None and not self.escalate_to:
            raise ValueError("escalate_after needs escalate_to")
        if self.escalate_to and self.escalate_after is None:
            raise ValueError("escalate_to needs escalate_after")
        if self.repeat is not None and self.repeat <= 0:
            raise ValueError("repeat must be greater than zero")
        return self


def http_url(value: str) -> str:
    """A validator body for ``http(s)://host[:port][/path]`` URLs. Without a scheme a
    webhook would fail at the first incident, not at start-up."""
    if not re.match(r"^https?://[^/\s?#@]+", value, re.IGNORECASE):
        raise ValueError("must be an http:// or https:// URL, e.g. https://noc.example.th/hook")
    if any(c.isspace() for c in value):
        raise ValueError("a URL cannot contain spaces")
    return value


HttpUrl = Annotated[str, AfterValidator(http_url)]
"""A webhook or API address checked by :func:`http_url` when the config is read."""


class WebhookChannel(Section):
    type: Literal["webhook"]
    url: HttpUrl
    secret: Secret | None = None
    timeout: Duration = 10.0


class MqttChannel(Section):
    """Publishes to the broker of the ``mqtt:`` section."""

    type: Literal["mqtt"]
    topic: str = "pubnet/v1/alerts/{province_code}/{district_code}"
    qos: Literal[0, 1, 2] = 1
    timeout: Duration = 10.0


class SmtpSettings(Section):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: Secret | None = None
    starttls: bool = True
    ca_file: RelPath | None = None
    """Trust this CA bundle instead of the system store (for a private mail relay)."""
    timeout: Duration = 30.0


class EmailChannel(Section):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    sender: str = Field(default="pubnet@localhost", alias="from")
    smtp: SmtpSettings


class LineChannel(Section):
    type: Literal["line"]
    token: Secret
    to: str
    base_url: HttpUrl = "https://api.line.me"
    timeout: Duration = 10.0
    channel_secret: Secret | None = None
    """Verifies ``X-Line-Signature`` on ``POST /hooks/line`` (``alerting.line_webhook``)."""


class TelegramChannel(Section):
    type: Literal["telegram"]
    token: Secret
    chat_id: str
    base_url: HttpUrl = "https://api.telegram.org"
    timeout: Duration = 10.0
    updates: Literal["off", "webhook", "polling"] = "off"
    """How button presses come back: ``POST /hooks/telegram`` or long polling getUpdates."""
    secret_token: Secret | None = None
    """The ``X-Telegram-Bot-Api-Secret-Token`` set with setWebhook (``updates: webhook``)."""
    poll_timeout: Duration = 30.0
    """Long-polling timeout of one getUpdates (``updates: polling``)."""

    @model_validator(mode="after")
    def _webhook_secret(self) -> TelegramChannel:
        if self.updates == "webhook" and self.secret_token is None:
            raise ValueError("updates: webhook needs secret_token (anyone could post "
                             "presses otherwise)")
        return self

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


AlertChannel = Annotated[
    WebhookChannel | MqttChannel | EmailChannel | LineChannel | TelegramChannel,
    Field(discriminator="type"),
]


class FlappingSettings(Section):
    changes: int = Field(default=6, ge=2)
    """More than this many up/down changes within ``window`` make one flapping incident."""
    window: Duration = 600.0


class ThresholdSettings(Section):
    utilisation: float = Field(default=0.9, gt=0, le=1)
    """Fraction of a link's capacity (either direction)."""
    utilisation_for: Duration = 900.0
    errors_per_second: float = Field(default=1.0, gt=0)
    errors_for: Duration = 600.0
    quiet_after: Duration = 7200.0
    """An access point with zero clients for this long during opening hours is a quiet fault."""
    opening_hours: tuple[int, int] = (8, 20)
    """Local hours [start, end) in Asia/Bangkok when a village hotspot should have users."""
    reboot_clear: Duration = 900.0


class DeliverySettings(Section):
    initial_backoff: Duration = 1.0
    max_backoff: Duration = 300.0


class PowerSettings(Section):
    """Power-cut classification (``alerting.power: null`` turns it off)."""

    window: Duration = 180.0
    """Sites that went dark within this long of each other are one event."""
    min_sites: int = Field(default=5, ge=2)
    """At least this many sites, under at least two different routers that answer."""


class BudgetLimits(Section):
    """At most this many messages to one recipient (``null``: no limit)."""

    max_per_hour: int | None = Field(default=None, ge=1)
    max_per_day: int | None = Field(default=None, ge=1)

    @property
    def limited(self) -> bool:
        return self.max_per_hour is not None or self.max_per_day is not None


class BudgetSettings(Section):
    technician: BudgetLimits | None = None
    """Each technician's own queue (``oncall:<id>``)."""
    channels: dict[str, BudgetLimits] = Field(default_factory=dict)
    """By channel name."""


DOWN_AFTER = 3
"""Failed attempts in a row that confirm a device down (``alerting.down_after``)."""


class AlertingConfig(Section):
    database: RelPath = Field(default=Path("pubnet.db"), validate_default=True)
    down_after: int = Field(default=DOWN_AFTER, ge=1, le=100)
    tick: Duration = 1.0
    group_wait: Duration = 20.0
    """How long a new incident waits for its upstream to be confirmed down before sending."""
    upstream_wait: Duration = 300.0
    """How much longer an outage waits while a device above it has failed attempts short of
    ``down_after``: a last will counts at once, a router's third failed poll comes minutes
    after its first."""
    sites_in_payload: int = Field(default=50, ge=1)
    map_url: str = "https://www.google.com/maps?q={lat},{lon}"
    flapping: FlappingSettings = Field(default_factory=FlappingSettings)
    thresholds: ThresholdSettings = Field(default_factory=ThresholdSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    routes: list[AlertRoute] = Field(default_factory=list)
    channels: dict[str, AlertChannel] = Field(default_factory=dict)
    technicians: RelPath | None = None
    """``technicians.csv``: who is who (LINE/Telegram user ids, the areas each covers)."""
    oncall: RelPath | None = None
    """``oncall.csv``: who is on call for which district when (needs ``technicians``)."""
    line_webhook: bool = False
    """Serve ``POST /hooks/line`` (LINE channels with a ``channel_secret``)."""
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    power: PowerSettings | None = Field(default_factory=PowerSettings)
    digest_after: int = Field(default=20, ge=1)
    """More first (or resolved) messages than this to one recipient within
    ``digest_window`` are folded into one digest."""
    digest_window: Duration = 300.0
    status_url: str | None = None
    """A link to the NOC's status page, put in digests."""

    def webhooks(self) -> list[str]:
        """The chat webhook routes this section serves."""
        hooks = ["/hooks/line"] if self.line_webhook else []
        if any(isinstance(c, TelegramChannel) and c.updates == "webhook"
               for c in self.channels.values()):
            hooks.append("/hooks/telegram")
        return hooks

    @model_validator(mode="after")
    def _line_webhook_secret(self) -> AlertingConfig:
        if self.line_webhook and not any(isinstance(c, LineChannel) and c.channel_secret
                                         for c in self.channels.values()):
            raise ValueError("line_webhook needs a line channel with channel_secret (the "
                             "webhook's signature is checked with it)")
        if (self.line_webhook or any(isinstance(c, TelegramChannel) and c.updates != "off"
                                     for c in self.channels.values())) and (
                self.technicians is None):
            raise ValueError("LINE/Telegram button presses need alerting.technicians (who "
                             "pressed is looked up there)")
        return self

    @model_validator(mode="after")
    def _routes_name_channels(self) -> AlertingConfig:
        for name in self.channels:
            if name == ONCALL_TARGET or ":" in name:
                raise ValueError(f"channels: {shown(name)} cannot name a channel ("
                                 f"'{ONCALL_TARGET}' is the on-call route target and "
                                 "':' marks a technician's own channel)")
        for name in self.budgets.channels:
            if name not in self.channels:
                raise ValueError(f"budgets.channels names unknown channel {shown(name)}")
        if self.digest_window <= 0:
            raise ValueError("digest_window must be greater than zero")
        if self.oncall is not None and self.technicians is None:
            raise ValueError("oncall needs technicians (the rota names technicians by id)")
        for index, route in enumerate(self.routes):
            for name in (*route.channels, *route.escalate_to):
                if name == ONCALL_TARGET:
                    if self.technicians is None:
                        raise ValueError(f"routes[{index}] sends to '{ONCALL_TARGET}': set "
                                         "alerting.technicians (and alerting.oncall)")
                    continue
                if name not in self.channels:
                    raise ValueError(f"routes[{index}] names unknown channel {shown(name)}")
        return self
