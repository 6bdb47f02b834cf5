"""The HTTP listener's counters: kept by the shell, shown on ``/metrics`` by the exporter.

The one HTTP listener belongs to the app layer (:mod:`pubnet.app.web`), and the Prometheus
exporter (a component) renders what it counts; a component may not import the app, so the
counters the two share live here, in the ground layer, as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ListenerStats:
    """Connections (``pubnet_exporter_connections*``, ``..._accept_errors``)."""

    limit: int = 0
    open: int = 0
    accepted: int = 0
    closed: dict[str, int] = field(default_factory=dict)
    """Connections closed by pubnet, by reason (``limit``, ``header_timeout``, ...)."""
    accept_errors: dict[str, int] = field(default_factory=dict)
    """Failed ``accept()`` calls by errno name (``EMFILE``, ...)."""


@dataclass(slots=True)
class AuthStats:
    """Basic auth (``pubnet_exporter_auth_*``)."""

    checks: int = 0
    """bcrypt verifications actually run (verdicts not remembered)."""
    failures: int = 0
    """Requests refused: no, malformed or wrong credentials."""


@dataclass(frozen=True, slots=True)
class HttpStats:
    """Everything the listener counts; ``auth`` is None when no basic auth is configured."""

    listener: ListenerStats = field(default_factory=ListenerStats)
    auth: AuthStats | None = None
