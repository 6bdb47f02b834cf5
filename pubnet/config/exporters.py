"""Sections of the exporters: Prometheus ``/metrics`` and InfluxDB writes.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from pubnet.config.types import PositiveDuration, RelPath, Secret, Section

BCRYPT_HASH = re.compile(r"^\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}$")
"""A bcrypt hash as htpasswd -B writes it (also for ``web.operators``)."""


def bcrypt_users(value: dict[str, str], who: str) -> dict[str, str]:
    """A validator body for name → bcrypt hash maps (``prometheus.basic_auth_users``,
    ``web.operators``): names neither empty nor with ``:``, hashes as htpasswd -B writes
    them; ``who`` (user, operator) names them in the error."""
    for name, hashed in value.items():
        if not name or ":" in name:
            raise ValueError(f"{who} name {name!r} may not be empty or contain ':'")
        if not BCRYPT_HASH.match(hashed):
            raise ValueError(f"password of {who} {name!r} must be a bcrypt hash ($2b$...)")
    return value


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


class PrometheusConfig(Section):
    """The ``/metrics`` endpoint. On by default; ``prometheus: null`` turns it off.

    ``basic_auth_users`` and the TLS files follow Prometheus' exporter-toolkit web config:
    passwords are bcrypt hashes (``htpasswd -nbBC 10 user pass``), never plain text.
    """

    listen: str = "127.0.0.1:9108"
    basic_auth_users: dict[str, str] = Field(default_factory=dict)
    tls_cert_file: RelPath | None = None
    tls_key_file: RelPath | None = None
    gzip_level: int = Field(default=1, ge=1, le=9)
    """gzip level for responses: 1–3 are ISA-L's (1, the fastest, keeps a 5M-series scrape
    within its time budget), 4–9 zlib's, slower for a few per cent less."""
    max_connections: int = Field(default=100, ge=1, le=100_000)
    """HTTP connections held at once; more are answered 503 and closed at once. Lowered at
    start when file descriptors are scarce (pubnet/fdbudget.py): polling comes first."""
    header_timeout: PositiveDuration = 10.0
    """A request's head must be complete this long after the connection opened (or after
    its first byte, on a kept-alive connection), else the connection is closed."""
    request_timeout: PositiveDuration = 60.0
    """From a complete head until the response is sent; a client reading too slowly is
    cut off."""
    idle_timeout: PositiveDuration = 75.0
    """A kept-alive connection with no request for this long is closed."""

    @field_validator("listen")
    @classmethod
    def _listen_shape(cls, value: str) -> str:
        split_listen(value)
        return value

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_hashes(cls, value: dict[str, str]) -> dict[str, str]:
        return bcrypt_users(value, "user")

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


class InfluxConfig(Section):
    """Where every observation is also written as line protocol. Off when absent."""

    url: str
    token: Secret
    org: str = Field(min_length=1)
    bucket: str = Field(min_length=1)
    batch_size: int = Field(default=5000, ge=1, le=1_000_000)
    flush_interval: PositiveDuration = 1.0
    buffer_dir: RelPath = Field(default=Path("influx-buffer"), validate_default=True)
    """Points InfluxDB could not take wait here (append-only segment files) until it can."""
    buffer_max_bytes: int = Field(default=1 << 30, ge=1 << 16)
    """Over this the oldest buffered points are dropped, counted and logged."""
    timeout: PositiveDuration = 10.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("url must be http://host:port or https://host:port")
        return value.rstrip("/")
