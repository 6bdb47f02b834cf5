"""SNMP credentials: how to authenticate to an agent. Devices name one in the inventory;
profiles say what to poll; the two stay separate, linked by name.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    field_validator,
    model_validator,
)

from pubnet.config.types import Secret, Section

AuthProtocol = Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"]
PrivProtocol = Literal["des", "aes128", "aes192", "aes256", "none"]


class Credential(Section):
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
