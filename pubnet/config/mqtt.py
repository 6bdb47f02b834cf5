"""The MQTT broker section: the MQTT collector subscribes through it, alerting publishes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pubnet.config.types import Duration, PositiveDuration, RelPath, Secret, Section

_MQTT_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
_MQTT_NAME = re.compile(r"[^/+#\s]+")
_HOST_CHARS = re.compile(r"[^A-Za-z0-9-]+")
EMBEDDED_PACKET_OVERHEAD = 1024
"""Room in an embedded-broker packet beyond the payload: topic, packet id, headers."""


def default_client_id(config_file: Path | str | None) -> str:
    """``pubnet-<host>-<8 hex>``: unique per installation, the same across restarts.

    The hex digits hash the host name and the config file's absolute path, so two pubnet
    instances on one host (two config files) never share a client id, hence never take
    each other's broker session; the host name is in clear so that a broker's client list
    says which machine is connected.
    """
    host = socket.gethostname() or "localhost"
    where = str(Path(config_file).resolve()) if config_file is not None else "(no config file)"
    digest = hashlib.sha256(f"{host}\0{where}".encode()).hexdigest()[:8]
    return f"pubnet-{_HOST_CHARS.sub('-', host).strip('-')[:40] or 'host'}-{digest}"


def _config_file(info: ValidationInfo) -> Path | None:
    """The config file being validated, from the loader's context (None: no file)."""
    context = info.context if isinstance(info.context, dict) else {}
    source, base_dir = context.get("source"), context.get("base_dir")
    if not isinstance(source, str) or source.startswith("<"):
        return None
    path = Path(source)
    return path if path.is_absolute() or base_dir is None else Path(base_dir) / path.name


class MqttConfig(Section):
    """The MQTT broker pubnet talks to (the MQTT collector subscribes, alerting publishes).

    Without ``url`` pubnet starts an embedded broker on ``embedded_host:embedded_port``
    (loopback by default) and connects to that; deployments point ``url`` at Mosquitto or
    EMQX.
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
    client_id: str = Field(default="", max_length=128)
    """Fixed so that the broker keeps pubnet's session (and its queued messages). Default
    (empty): :func:`default_client_id` of this host and config file."""
    shared_group: str | None = None
    """Subscribe as ``$share/<group>/...`` so that several pubnet instances split the load."""
    heartbeat_interval: PositiveDuration = 30.0
    down_after_missed: int = Field(default=3, ge=1, le=1000)
    protocol: Literal["3.1.1", "5"] | None = None
    """MQTT version; default 5 for a configured broker, 3.1.1 for the embedded one."""
    qos: Literal[0, 1] = 1
    session_expiry: Duration = 86400.0
    """How long the broker keeps pubnet's session and queues for it while it is away (v5)."""
    keepalive: PositiveDuration = 30.0
    connect_timeout: PositiveDuration = 10.0
    reconnect_min: PositiveDuration = 0.5
    reconnect_max: PositiveDuration = 30.0
    max_payload_bytes: int = Field(default=4096, ge=64, le=1_048_576)
    max_clock_skew: Duration = 300.0
    """A telemetry ``ts`` further than this in the future is rejected (``clock_skew``)."""
    max_age: Duration = 21600.0
    """A telemetry ``ts`` older than this is rejected (``stale``)."""
    embedded_port: int = Field(default=1883, ge=1, le=65535)
    embedded_host: str = "127.0.0.1"
    """Address the embedded broker listens on. Beyond loopback it requires ``username`` and
    ``password`` from every client (pubnet included)."""
    embedded_max_packet_bytes: int = Field(default=65_536, ge=1_024, le=16_777_216)
    """The largest MQTT packet the embedded broker reads; a larger one closes the
    connection before its body is read (alerts are published through it too, so this is
    above ``max_payload_bytes``)."""

    @model_validator(mode="before")
    @classmethod
    def _derive_client_id(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and not data.get("client_id"):
            return {**data, "client_id": default_client_id(_config_file(info))}
        return data

    @field_validator("embedded_host")
    @classmethod
    def _embedded_host(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("embedded_host must be an IP address (127.0.0.1, 0.0.0.0, "
                             "::1, ...)") from None
        return value

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

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.password is not None and not self.username:
            raise ValueError("password needs a username")
        if self.url is None:
            given = [k for k in ("ca_file", "cert_file") if getattr(self, k)]
            if given:
                raise ValueError(f"{', '.join(given)}: only with a url (the embedded broker "
                                 "speaks plain MQTT)")
            if self.protocol == "5":
                raise ValueError("the embedded broker speaks MQTT 3.1.1 only")
            if (self.username is None) != (self.password is None):
                raise ValueError("the embedded broker takes username and password together "
                                 "(every client must then log in with them)")
            if not self.embedded_loopback and not (self.username and self.password):
                raise ValueError(
                    f"embedded_host {self.embedded_host} listens beyond loopback: set "
                    "username and password (every client must then log in with them), or "
                    "keep embedded_host 127.0.0.1")
            if self.embedded_max_packet_bytes < self.max_payload_bytes + \
                    EMBEDDED_PACKET_OVERHEAD:
                raise ValueError(
                    f"embedded_max_packet_bytes must be at least max_payload_bytes + "
                    f"{EMBEDDED_PACKET_OVERHEAD} "
                    f"({self.max_payload_bytes + EMBEDDED_PACKET_OVERHEAD})")
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
    def embedded_loopback(self) -> bool:
        """Whether the embedded broker listens on a loopback address only."""
        return ipaddress.ip_address(self.embedded_host).is_loopback

    @property
    def tls(self) -> bool:
        return self.url is not None and self.url.lower().startswith("mqtts://")

    @property
    def host(self) -> str:
        if self.url is None:
            address = ipaddress.ip_address(self.embedded_host)
            if address.is_unspecified:  # listening everywhere: pubnet comes in by loopback
                return "::1" if address.version == 6 else "127.0.0.1"
            return self.embedded_host
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
