"""The ``web:`` section: who may act from the status page, and the lifecycle endpoint.

The status page itself is served whenever the HTTP listener runs (``prometheus.listen``,
with its TLS and basic auth). Reading needs nothing more; acknowledging an incident from
the page needs an operator listed here. ``POST /-/reload`` changes what pubnet does, so it
is off unless ``lifecycle`` turns it on (like Prometheus' ``--web.enable-lifecycle``):
anyone who reaches the listener could use it. Passwords are bcrypt hashes, as for
``prometheus.basic_auth_users`` (``htpasswd -nbBC 10 user pass``), never plain text.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from pubnet.config.exporters import bcrypt_users
from pubnet.config.types import Section


class WebConfig(Section):
    operators: dict[str, str] = Field(default_factory=dict)
    """Operator name → bcrypt hash. Empty: the page is read-only (acknowledging answers
    403)."""
    lifecycle: bool = False
    """Serve ``POST /-/reload`` (the same reload as SIGHUP)."""

    @field_validator("operators")
    @classmethod
    def _bcrypt_hashes(cls, value: dict[str, str]) -> dict[str, str]:
        return bcrypt_users(value, "operator")
