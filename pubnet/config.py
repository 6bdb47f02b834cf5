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

    @field_validator("interval", "timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than zero")
        return value


class LoggingConfig(_Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["kv", "json"] = "kv"


class Config(_Model):
    """The whole ``pubnet.yaml``. Absent sections take their defaults or are off."""

    inventory: RelPath | None = None
    credentials: dict[str, Credential] = Field(default_factory=dict)
    snmp: SnmpConfig = Field(default_factory=SnmpConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    source: Path | None = Field(default=None, exclude=True)
    """The file this config came from (not a key in the file)."""

    @field_validator("credentials")
    @classmethod
    def _credential_names(cls, value: dict[str, Credential]) -> dict[str, Credential]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
                raise ValueError(f"credential name {name!r} may only use letters, digits, _ . -")
        return value


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


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raises :class:`ConfigError` naming key paths."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read: {exc.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
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
