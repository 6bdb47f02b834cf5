"""The configuration file (``pubnet.yaml``), validated with pydantic v2.

Every section forbids unknown keys and is frozen; each lives in its own module
(:mod:`~pubnet.config.credentials`, :mod:`~pubnet.config.collectors`,
:mod:`~pubnet.config.mqtt`, :mod:`~pubnet.config.alerting`,
:mod:`~pubnet.config.exporters`), the whole file is :class:`Config`, and
:func:`load_config` reads one with errors that name key paths and never secret values.
Import from here: the split into modules is for readers, not callers.
"""

from pubnet.config.alerting import (
    AlertChannel,
    AlertingConfig,
    AlertKind,
    AlertRoute,
    AlertRouteMatch,
    AlertSeverity,
    BudgetLimits,
    BudgetSettings,
    DeliverySettings,
    EmailChannel,
    FlappingSettings,
    LineChannel,
    MqttChannel,
    PowerSettings,
    SmtpSettings,
    TelegramChannel,
    ThresholdSettings,
    WebhookChannel,
)
from pubnet.config.collectors import IcmpConfig, SnmpConfig, TrapsConfig
from pubnet.config.credentials import AuthProtocol, Credential, PrivProtocol
from pubnet.config.exporters import InfluxConfig, PrometheusConfig, split_listen
from pubnet.config.loading import (
    ConfigError,
    check_files_before_start,
    default_config,
    load_config,
    parse_config,
    secret_values,
)
from pubnet.config.mqtt import MqttConfig
from pubnet.config.root import Config, LoggingConfig
from pubnet.config.service import ClusterConfig, Role, effective_roles, role_problem
from pubnet.config.types import (
    Duration,
    RelPath,
    Secret,
    Section,
    UnresolvedSecret,
    looks_secret,
    parse_duration,
    positive,
    resolve_secret,
    shown,
)
from pubnet.config.web import WebConfig

__all__ = [
    "AlertChannel",
    "AlertKind",
    "AlertRoute",
    "AlertRouteMatch",
    "AlertSeverity",
    "AlertingConfig",
    "AuthProtocol",
    "BudgetLimits",
    "BudgetSettings",
    "ClusterConfig",
    "Config",
    "ConfigError",
    "Credential",
    "DeliverySettings",
    "Duration",
    "EmailChannel",
    "FlappingSettings",
    "IcmpConfig",
    "InfluxConfig",
    "LineChannel",
    "LoggingConfig",
    "MqttChannel",
    "MqttConfig",
    "PowerSettings",
    "PrivProtocol",
    "PrometheusConfig",
    "RelPath",
    "Role",
    "Secret",
    "Section",
    "SmtpSettings",
    "SnmpConfig",
    "TelegramChannel",
    "ThresholdSettings",
    "TrapsConfig",
    "UnresolvedSecret",
    "WebConfig",
    "WebhookChannel",
    "check_files_before_start",
    "default_config",
    "effective_roles",
    "load_config",
    "looks_secret",
    "parse_config",
    "parse_duration",
    "positive",
    "resolve_secret",
    "role_problem",
    "secret_values",
    "shown",
    "split_listen",
]
