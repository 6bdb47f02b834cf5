"""The whole ``pubnet.yaml``: one field per section, each section in its own module.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from pubnet.config.alerting import AlertingConfig
from pubnet.config.collectors import IcmpConfig, SnmpConfig, TrapsConfig
from pubnet.config.credentials import Credential
from pubnet.config.exporters import InfluxConfig, PrometheusConfig
from pubnet.config.history import HistoryConfig, ReportsConfig
from pubnet.config.mqtt import MqttConfig
from pubnet.config.service import ClusterConfig, check_shard, parse_roles, role_problem
from pubnet.config.types import RelPath, Section, shown
from pubnet.config.web import WebConfig


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["kv", "json"] = "kv"


class Config(Section):
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
    history: HistoryConfig | None = Field(default_factory=HistoryConfig)
    """Status history for reports; on by default, ``history: null`` turns it off."""
    reports: ReportsConfig | None = None
    """The monthly coverage report; off when absent."""
    web: WebConfig = Field(default_factory=WebConfig)
    """The status page's operators (who may acknowledge from it) and ``POST /-/reload``."""
    shard: str | None = None
    """``I/N``: poll only shard I of N of the sites (:mod:`pubnet.shard`); ``pubnet run
    --shard`` overrides it. Absent: every device."""
    roles: list[str] | None = None
    """``poll``, ``alerting`` or both (:class:`pubnet.config.service.Role`); ``pubnet run
    --role`` overrides it. Absent: both, except on a shard of N > 1 (``poll``)."""
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    """Shard heartbeats, for sharded polling with an alerting instance."""
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

    @field_validator("shard")
    @classmethod
    def _shard_shape(cls, value: str | None) -> str | None:
        return check_shard(value)

    @field_validator("roles")
    @classmethod
    def _role_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return sorted(r.value for r in parse_roles(value))

    @model_validator(mode="after")
    def _roles_fit(self) -> Config:
        from pubnet.config.service import effective_roles
        from pubnet.shard import Shard

        shard = Shard.parse(self.shard) if self.shard is not None else None
        problem = role_problem(self, effective_roles(self.roles, shard), shard,
                               explicit=self.roles is not None)
        if problem is not None:
            raise ValueError(problem)
        return self

    @field_validator("credentials")
    @classmethod
    def _credential_names(cls, value: dict[str, Credential]) -> dict[str, Credential]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
                raise ValueError(f"credential name {shown(name)} may only use letters, digits, "
                                 "_ . -")
        return value

    @model_validator(mode="after")
    def _report_channel_exists(self) -> Config:
        from pubnet.config.history import report_channel_problem

        problem = report_channel_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _operators_agree_with_readers(self) -> Config:
        """An operator signs in once on the one listener: a name also in
        ``prometheus.basic_auth_users`` must have the same hash there."""
        readers = self.prometheus.basic_auth_users if self.prometheus is not None else {}
        for name, hashed in self.web.operators.items():
            if name in readers and readers[name] != hashed:
                raise ValueError(f"web.operators: {name!r} is also in "
                                 "prometheus.basic_auth_users with another password hash")
        return self

    @model_validator(mode="after")
    def _chat_hooks_need_the_listener(self) -> Config:
        """LINE and Telegram webhooks arrive on the one HTTP listener."""
        alerting = self.alerting
        if alerting is not None and self.prometheus is None and alerting.webhooks():
            raise ValueError("alerting: " + ", ".join(alerting.webhooks()) + " arrive on the "
                             "HTTP listener: set prometheus.listen (prometheus: null turns "
                             "it off)")
        return self

    @model_validator(mode="after")
    def _trap_credentials_exist(self) -> Config:
        if self.traps is not None:
            for name in self.traps.credentials:
                if name not in self.credentials:
                    raise ValueError(f"traps.credentials: unknown credential {shown(name)}")
        return self
