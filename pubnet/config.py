"""The configuration file (``pubnet.yaml``), validated with pydantic v2.

Every model forbids unknown keys and is frozen. An error names the key path
(``credentials.noc-v3.auth_protocol``) and never the value, so a typo in a secret cannot
leak it. Secrets are written as ``${ENV_VAR}`` or ``file:/path`` references, resolved at
load time into :class:`pydantic.SecretStr`, which prints as ``**********`` in every repr,
log line and error.

Later components add their own section model here, next to ``snmp``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

# -- errors -------------------------------------------------------------------------------


class ConfigError(Exception):
    """A config file that cannot be used. ``problems`` are ``(key path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path or '(top level)'}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))


# -- value types --------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Parse ``500ms``, ``2s``, ``5m``, ``1h30m`` or a bare number of seconds into seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 500ms, 2s, 5m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text:
            raise ValueError("empty duration")
        pos = 0
        seconds = 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(text):
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(
                    f"invalid duration {value!r}: use a number with ms, s, m, h or d, e.g. 2s"
                ) from None
    else:
        raise ValueError("expected a duration such as 500ms, 2s, 5m or 1h")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in the file as ``500ms``, ``2s``, ``5m``, ``1h`` or a number."""

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def resolve_secret(value: object) -> SecretStr:
    """Turn ``${ENV}``, ``file:/path`` or a literal into a SecretStr.

    Errors name the variable or file, never the secret itself.
    """
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a string, ${ENV_VAR} or file:/path")
    match = _ENV_REF.match(value.strip())
    if match:
        name = match.group(1)
        env = os.environ.get(name)
        if env is None:
            raise ValueError(f"environment variable {name} is not set")
        return SecretStr(env)
    if value.startswith("file:"):
        path = Path(value[len("file:") :]).expanduser()
        try:
            return SecretStr(path.read_text(encoding="utf-8").rstrip("\r\n"))
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    return SecretStr(value)


Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]
"""A secret value; never printed. Written as ``${ENV_VAR}``, ``file:/path`` or literally."""


def _resolve_path(value: object, info: ValidationInfo) -> Path:
    if not isinstance(value, str | Path):
        raise ValueError("expected a path")
    path = Path(value).expanduser()
    base = (info.context or {}).get("base_dir") if isinstance(info.context, dict) else None
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


RelPath = Annotated[Path, BeforeValidator(_resolve_path)]
"""A filesystem path; relative paths are relative to the config file's folder."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- credentials --------------------------------------------------------------------------

AuthProtocol = Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"]
PrivProtocol = Literal["des", "aes128", "aes192", "aes256", "none"]


class Credential(_Model):
    """How to authenticate to an SNMP agent; devices name one in the inventory."""

    version: Literal["1", "2c", "3"]
    community: Secret | None = None
    user: str | None = None
    auth_protocol: AuthProtocol | None = None
    auth_key: Secret | None = None
    priv_protocol: PrivProtocol = "none"
    priv_key: Secret | None = None
    context: str = ""

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value).lower() if isinstance(value, int | str) else value

    @field_validator("auth_protocol", "priv_protocol", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower().replace("-", "") if isinstance(value, str) else value

    @model_validator(mode="after")
    def _fields_for_version(self) -> Credential:
        if self.version in ("1", "2c"):
            if self.community is None:
                raise ValueError(f"SNMP v{self.version} needs a community")
            if self.user or self.auth_key or self.priv_key:
                raise ValueError("user, auth_key and priv_key are for version 3 only")
        else:
            if not self.user:
                raise ValueError("SNMP v3 needs a user")
            if self.community is not None:
                raise ValueError("community is for versions 1 and 2c only")
            if (self.auth_protocol is None) != (self.auth_key is None):
                raise ValueError("auth_protocol and auth_key go together")
            if self.priv_protocol != "none":
                if self.auth_protocol is None:
                    raise ValueError("privacy needs authentication (set auth_protocol)")
                if self.priv_key is None:
                    raise ValueError(f"priv_protocol {self.priv_protocol} needs a priv_key")
            elif self.priv_key is not None:
                raise ValueError("priv_key given but priv_protocol is none")
        return self

    @property
    def security_level(self) -> str:
        """``noAuthNoPriv``, ``authNoPriv`` or ``authPriv`` (v3); ``community`` otherwise."""
        if self.version != "3":
            return "community"
        if self.auth_protocol is None:
            return "noAuthNoPriv"
        return "authNoPriv" if self.priv_protocol == "none" else "authPriv"


# -- sections -----------------------------------------------------------------------------


class SnmpConfig(_Model):
    interval: Duration = 60.0
    timeout: Duration = 2.0
    retries: int = Field(default=1, ge=0, le=10)
    max_backoff: Duration | None = None
    """Longest wait between attempts at a dead device; default 5 × its interval."""
    max_in_flight: int = Field(default=2000, ge=1)
    port: int = Field(default=161, ge=1, le=65535)
    interval_by_role: dict[str, Duration] = Field(default_factory=dict)
    """Per-role polling interval overriding ``interval`` (e.g. ``core: 30s``)."""
    profiles_dir: RelPath | None = None
    """A folder of extra profile YAML files; a file named like a shipped one replaces it."""

    @field_validator("interval", "timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than zero")
        return value

    @field_validator("interval_by_role")
    @classmethod
    def _positive_intervals(cls, value: dict[str, float]) -> dict[str, float]:
        roles = ("access_point", "site_gateway", "district_aggregation", "provincial_node",
                 "core")
        for role, seconds in value.items():
            if role not in roles:
                raise ValueError(f"unknown role {role!r}; roles are {', '.join(roles)}")
            if seconds <= 0:
                raise ValueError(f"interval for {role} must be greater than zero")
        return value


class LoggingConfig(_Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["kv", "json"] = "kv"


class IcmpConfig(_Model):
    """ICMP echo probes for devices whose profile is ``icmp``."""

    interval: Duration = 60.0
    timeout: Duration = 1.0
    """Wait for each echo reply."""
    count: int = Field(default=3, ge=1, le=20)
    """Echo requests per probe; loss is the share unanswered."""
    spacing: Duration = 0.2
    """Pause between the requests of one probe."""
    max_in_flight: int = Field(default=1000, ge=1)

    @field_validator("interval", "timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than zero")
        return value


class TrapsConfig(_Model):
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
                raise ValueError(f"engine id {item!r} is not 5-32 bytes of hex")
        return value


# -- mqtt ---------------------------------------------------------------------------------

_MQTT_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
_MQTT_NAME = re.compile(r"[^/+#\s]+")


class MqttConfig(_Model):
    """The MQTT broker pubnet talks to (the MQTT collector subscribes, alerting publishes).

    Without ``url`` pubnet starts an embedded broker on ``127.0.0.1:embedded_port`` and
    connects to that; deployments point ``url`` at Mosquitto or EMQX.
    """

    url: str | None = None
    """``mqtt://host[:port]`` or ``mqtts://host[:port]`` (TLS); absent = embedded broker."""
    username: str | None = None
    password: Secret | None = None
    ca_file: RelPath | None = None
    """CA bundle that signed the broker's certificate (default: the system store)."""
    cert_file: RelPath | None = None
    """Client certificate for brokers that require one; goes with ``key_file``."""
    key_file: RelPath | None = None
    client_id: str = Field(default="pubnet-1", min_length=1, max_length=128)
    """Fixed so that the broker keeps pubnet's session (and its queued messages)."""
    shared_group: str | None = None
    """Subscribe as ``$share/<group>/...`` so that several pubnet instances split the load."""
    heartbeat_interval: Duration = 30.0
    down_after_missed: int = Field(default=3, ge=1, le=1000)
    protocol: Literal["3.1.1", "5"] | None = None
    """MQTT version; default 5 for a configured broker, 3.1.1 for the embedded one."""
    qos: Literal[0, 1] = 1
    session_expiry: Duration = 86400.0
    """How long the broker keeps pubnet's session and queues for it while it is away (v5)."""
    keepalive: Duration = 30.0
    connect_timeout: Duration = 10.0
    reconnect_min: Duration = 0.5
    reconnect_max: Duration = 30.0
    max_payload_bytes: int = Field(default=4096, ge=64, le=1_048_576)
    max_clock_skew: Duration = 300.0
    """A telemetry ``ts`` further than this in the future is rejected (``clock_skew``)."""
    max_age: Duration = 21600.0
    """A telemetry ``ts`` older than this is rejected (``stale``)."""
    embedded_port: int = Field(default=1883, ge=1, le=65535)

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.lower() not in _MQTT_DEFAULT_PORTS:
            raise ValueError("url must start with mqtt:// or mqtts://")
        if "@" in rest:
            raise ValueError("put credentials in mqtt.username and mqtt.password, not the url")
        hostport = rest.rstrip("/")
        if not hostport or "/" in hostport or "?" in hostport:
            raise ValueError("url must be mqtt://host[:port] or mqtts://host[:port]")
        _split_host_port(hostport, _MQTT_DEFAULT_PORTS[scheme.lower()])
        return value

    @field_validator("shared_group")
    @classmethod
    def _group_name(cls, value: str | None) -> str | None:
        if value is not None and not _MQTT_NAME.fullmatch(value):
            raise ValueError("shared_group may not be empty or contain / + # or spaces")
        return value

    @field_validator("heartbeat_interval", "keepalive", "connect_timeout", "reconnect_min",
                     "reconnect_max")
    @classmethod
    def _mqtt_positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than zero")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.password is not None and not self.username:
            raise ValueError("password needs a username")
        if self.url is None:
            given = [k for k in ("username", "ca_file", "cert_file") if getattr(self, k)]
            if given:
                raise ValueError(f"{', '.join(given)}: only with a url (the embedded broker is "
                                 "plain and anonymous on 127.0.0.1)")
            if self.protocol == "5":
                raise ValueError("the embedded broker speaks MQTT 3.1.1 only")
        elif not self.tls and (self.ca_file or self.cert_file):
            raise ValueError("ca_file and cert_file need an mqtts:// url")
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max must be at least reconnect_min")
        return self

    @property
    def embedded(self) -> bool:
        """True when pubnet runs its own broker (no ``url``)."""
        return self.url is None

    @property
    def tls(self) -> bool:
        return self.url is not None and self.url.lower().startswith("mqtts://")

    @property
    def host(self) -> str:
        if self.url is None:
            return "127.0.0.1"
        return _split_host_port(self.url.partition("://")[2].rstrip("/"), 0)[0]

    @property
    def port(self) -> int:
        if self.url is None:
            return self.embedded_port
        scheme, _, rest = self.url.partition("://")
        return _split_host_port(rest.rstrip("/"), _MQTT_DEFAULT_PORTS[scheme.lower()])[1]

    @property
    def mqtt_version(self) -> Literal["3.1.1", "5"]:
        if self.protocol is not None:
            return self.protocol
        return "3.1.1" if self.embedded else "5"


def _split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; raises ValueError."""
    if text.startswith("["):
        host, sep, tail = text[1:].partition("]")
        if not sep or not host:
            raise ValueError("unclosed [ in url host")
        port_text = tail[1:] if tail.startswith(":") else ""
        if tail and not tail.startswith(":"):
            raise ValueError("url must be mqtt://host[:port]")
    else:
        host, _, port_text = text.partition(":")
        if not host:
            raise ValueError("url has no host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError("url port must be a number from 1 to 65535")
    return host, int(port_text)


# -- alerting -----------------------------------------------------------------------------

AlertSeverity = Literal["critical", "major", "minor", "warning", "info"]
AlertKind = Literal[
    "device_down", "site_down", "link_down", "device_rebooted", "link_utilisation",
    "interface_errors", "quiet_access_point", "flapping",
]


class AlertRouteMatch(_Model):
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


class AlertRoute(_Model):
    match: AlertRouteMatch = Field(default_factory=AlertRouteMatch)
    channels: list[str] = Field(min_length=1)
    repeat: Duration | None = None
    """Send the firing message again at this interval while nobody acknowledges it."""
    escalate_after: Duration | None = None
    escalate_to: list[str] = Field(default_factory=list)
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


class WebhookChannel(_Model):
    type: Literal["webhook"]
    url: str
    secret: Secret | None = None
    timeout: Duration = 10.0


class MqttChannel(_Model):
    """Publishes to the broker of the ``mqtt:`` section."""

    type: Literal["mqtt"]
    topic: str = "pubnet/v1/alerts/{province_code}/{district_code}"
    qos: Literal[0, 1, 2] = 1
    timeout: Duration = 10.0


class SmtpSettings(_Model):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: Secret | None = None
    starttls: bool = True
    ca_file: RelPath | None = None
    """Trust this CA bundle instead of the system store (for a private mail relay)."""
    timeout: Duration = 30.0


class EmailChannel(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    sender: str = Field(default="pubnet@localhost", alias="from")
    smtp: SmtpSettings


class LineChannel(_Model):
    type: Literal["line"]
    token: Secret
    to: str
    base_url: str = "https://api.line.me"
    timeout: Duration = 10.0


class TelegramChannel(_Model):
    type: Literal["telegram"]
    token: Secret
    chat_id: str
    base_url: str = "https://api.telegram.org"
    timeout: Duration = 10.0

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


AlertChannel = Annotated[
    WebhookChannel | MqttChannel | EmailChannel | LineChannel | TelegramChannel,
    Field(discriminator="type"),
]


class FlappingSettings(_Model):
    changes: int = Field(default=6, ge=2)
    """More than this many up/down changes within ``window`` make one flapping incident."""
    window: Duration = 600.0


class ThresholdSettings(_Model):
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


class DeliverySettings(_Model):
    initial_backoff: Duration = 1.0
    max_backoff: Duration = 300.0


class AlertingConfig(_Model):
    database: RelPath = Field(default=Path("pubnet.db"), validate_default=True)
    down_after: int = Field(default=3, ge=1, le=100)
    tick: Duration = 1.0
    group_wait: Duration = 20.0
    """How long a new incident waits for its upstream to be confirmed down before sending."""
    sites_in_payload: int = Field(default=50, ge=1)
    map_url: str = "https://www.google.com/maps?q={lat},{lon}"
    flapping: FlappingSettings = Field(default_factory=FlappingSettings)
    thresholds: ThresholdSettings = Field(default_factory=ThresholdSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    routes: list[AlertRoute] = Field(default_factory=list)
    channels: dict[str, AlertChannel] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _routes_name_channels(self) -> AlertingConfig:
        for index, route in enumerate(self.routes):
            for name in (*route.channels, *route.escalate_to):
                if name not in self.channels:
                    raise ValueError(f"routes[{index}] names unknown channel {name!r}")
        return self


# -- prometheus exporter ------------------------------------------------------------------

_BCRYPT_HASH = re.compile(r"^\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}$")


def split_listen(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` into its parts; raises ValueError."""
    if text.startswith("["):
        host, sep, tail = text[1:].partition("]")
        if not sep or not host or not tail.startswith(":"):
            raise ValueError("listen must be host:port or [v6]:port")
        port_text = tail[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError("listen must be host:port, e.g. 127.0.0.1:9108")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError("listen port must be a number from 0 to 65535")
    return host, int(port_text)


class PrometheusConfig(_Model):
    """The ``/metrics`` endpoint. On by default; ``prometheus: null`` turns it off.

    ``basic_auth_users`` and the TLS files follow Prometheus' exporter-toolkit web config:
    passwords are bcrypt hashes (``htpasswd -nbBC 10 user pass``), never plain text.
    """

    listen: str = "127.0.0.1:9108"
    basic_auth_users: dict[str, str] = Field(default_factory=dict)
    tls_cert_file: RelPath | None = None
    tls_key_file: RelPath | None = None
    gzip_level: int = Field(default=1, ge=1, le=9)
    """zlib level for gzip responses; 1 keeps a 1M-series scrape within its time budget."""

    @field_validator("listen")
    @classmethod
    def _listen_shape(cls, value: str) -> str:
        split_listen(value)
        return value

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_hashes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, hashed in value.items():
            if not name or ":" in name:
                raise ValueError(f"user name {name!r} may not be empty or contain ':'")
            if not _BCRYPT_HASH.match(hashed):
                raise ValueError(f"password of user {name!r} must be a bcrypt hash ($2b$...)")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> PrometheusConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        return self

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]


# -- influxdb writer ----------------------------------------------------------------------


class InfluxConfig(_Model):
    """Where every observation is also written as line protocol. Off when absent."""

    url: str
    token: Secret
    org: str = Field(min_length=1)
    bucket: str = Field(min_length=1)
    batch_size: int = Field(default=5000, ge=1, le=1_000_000)
    flush_interval: Duration = 1.0
    buffer_dir: RelPath = Field(default=Path("influx-buffer"), validate_default=True)
    """Points InfluxDB could not take wait here (append-only segment files) until it can."""
    buffer_max_bytes: int = Field(default=1 << 30, ge=1 << 16)
    """Over this the oldest buffered points are dropped, counted and logged."""
    timeout: Duration = 10.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("url must be http://host:port or https://host:port")
        return value.rstrip("/")

    @field_validator("flush_interval", "timeout")
    @classmethod
    def _influx_positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than zero")
        return value


class Config(_Model):
    """The whole ``pubnet.yaml``. Absent sections take their defaults or are off."""

    inventory: RelPath | None = None
    credentials: dict[str, Credential] = Field(default_factory=dict)
    snmp: SnmpConfig = Field(default_factory=SnmpConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    """The broker; the embedded one when ``mqtt.url`` is absent."""
    alerting: AlertingConfig | None = None
    """On by default (incidents recorded in SQLite next to the config, no channels until
    routes are configured); ``alerting: null`` turns it off."""
    prometheus: PrometheusConfig | None = Field(default_factory=PrometheusConfig)
    """The /metrics endpoint; on by default, ``prometheus: null`` turns it off."""
    influxdb: InfluxConfig | None = None
    """Off when absent."""
    traps: TrapsConfig | None = None
    """The trap receiver; off when absent."""
    icmp: IcmpConfig = Field(default_factory=IcmpConfig)
    source: Path | None = Field(default=None, exclude=True)
    """The file this config came from (not a key in the file)."""

    @model_validator(mode="before")
    @classmethod
    def _alerting_on_by_default(cls, data: object) -> object:
        """A missing ``alerting`` section means the defaults, validated like a written one
        so that its database path is relative to the config file."""
        if isinstance(data, dict) and "alerting" not in data:
            return {**data, "alerting": {}}
        return data

    @field_validator("credentials")
    @classmethod
    def _credential_names(cls, value: dict[str, Credential]) -> dict[str, Credential]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
                raise ValueError(f"credential name {name!r} may only use letters, digits, _ . -")
        return value

    @model_validator(mode="after")
    def _trap_credentials_exist(self) -> Config:
        if self.traps is not None:
            for name in self.traps.credentials:
                if name not in self.credentials:
                    raise ValueError(f"traps.credentials: unknown credential {name!r}")
        return self


# -- loading ------------------------------------------------------------------------------


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("function-after", "function-before", "function-wrap"):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        problems.append((_key_path(tuple(err["loc"])), message))
    return problems


def parse_config(data: Mapping[str, Any] | None, *, source: str = "<config>",
                 base_dir: Path | None = None) -> Config:
    """Validate an already-parsed mapping; raises :class:`ConfigError`."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(source, [("", "the config must be a mapping of keys to values")])
    try:
        return Config.model_validate(dict(data), context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from None


_BARE_ENV_REF = re.compile(r"(?<=[\s:,\[{])\$\{([A-Za-z_][A-Za-z0-9_]*)\}(?=\s*(?:[,}\]#]|$))",
                           re.MULTILINE)


def _quote_bare_env_refs(text: str) -> str:
    """Quote bare ``${ENV}`` values so that ``{secret: ${X}}`` (a flow mapping, as the
    alerting examples write it) is valid YAML; the reference itself is resolved later."""
    return _BARE_ENV_REF.sub(r'"${\1}"', text)


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raises :class:`ConfigError` naming key paths."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read: {exc.strerror}")]) from None
    try:
        data = yaml.safe_load(_quote_bare_env_refs(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(str(path), [(where, str(problem))]) from None
    config = parse_config(data, source=str(path), base_dir=path.resolve().parent)
    return config.model_copy(update={"source": path})


def default_config() -> Config:
    """The embedded default: no file, everything on one machine."""
    return Config()


def secret_values(model: BaseModel) -> list[str]:
    """Every resolved secret in a config, for the log redactor. Never print these."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(model)
    return found
