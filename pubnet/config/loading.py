"""Reading and validating a config file into :class:`~pubnet.config.root.Config`.

An error names the key path (``credentials.noc-v3.auth_protocol``) and never a value that
could be a secret, so a password typed into the wrong key cannot leak through an error.

Two modes: the daemon's (``resolve=True``: secrets are read from the environment and
files; :func:`check_files_before_start` then checks the certificate and key files) and the
database commands' (``resolve=False``: ``pubnet alerts``/``maintenance`` only need
``alerting.database`` and must work where the daemon's secrets are not set).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    SecretStr,
    ValidationError,
)

from pubnet.config.files import check_files
from pubnet.config.root import Config
from pubnet.config.types import UnresolvedSecret, looks_secret

_SECRET_KEYS = frozenset({"community", "auth_key", "priv_key", "password", "token", "secret"})


class ConfigError(Exception):
    """A config file that cannot be used. ``problems`` are ``(key path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path or '(top level)'}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))


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
    for err in exc.errors(include_url=False):
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        loc = tuple(err["loc"])
        secret_key = bool(loc) and loc[-1] in _SECRET_KEYS
        # A safety net behind the validators' own care: whatever a validator (or pydantic)
        # wrote, the text of a value never reaches the message for a secret key, nor a
        # value (or a key of a mapping, or an item of a list) that looks like a password.
        for text in _texts(err.get("input")):
            if text and text in message and (secret_key or looks_secret(text)):
                message = message.replace(repr(text), "(value not shown)").replace(
                    text, "(value not shown)")
        problems.append((_key_path(loc), message))
    return problems


def _texts(value: object) -> list[str]:
    """The strings of an error's input: itself, or one level of a mapping or list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [t for pair in value.items() for t in pair if isinstance(t, str)]
    if isinstance(value, list | tuple):
        return [t for t in value if isinstance(t, str)]
    return []


def parse_config(data: Mapping[str, Any] | None, *, source: str = "<config>",
                 base_dir: Path | None = None, resolve: bool = True) -> Config:
    """Validate an already-parsed mapping; raises :class:`ConfigError`.

    With ``resolve=False`` secret references are kept unread (:class:`UnresolvedSecret`).
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(source, [("", "the config must be a mapping of keys to values")])
    try:
        return Config.model_validate(dict(data), context={"base_dir": base_dir,
                                                          "source": source,
                                                          "resolve": resolve})
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from None


_BARE_ENV_REF = re.compile(r"(?<=[\s:,\[{])\$\{([A-Za-z_][A-Za-z0-9_]*)\}(?=\s*(?:[,}\]#]|$))",
                           re.MULTILINE)


def _quote_bare_env_refs(text: str) -> str:
    """Quote bare ``${ENV}`` values so that ``{secret: ${X}}`` (a flow mapping, as the
    alerting examples write it) is valid YAML; the reference itself is resolved later."""
    return _BARE_ENV_REF.sub(r'"${\1}"', text)


def load_config(path: str | Path, *, resolve: bool = True) -> Config:
    """Read and validate a config file; raises :class:`ConfigError` naming key paths.

    ``resolve=True`` (the daemon, ``config check``, ``poll``) reads every secret;
    ``resolve=False`` (commands that only read or write the alerting database) reads none.
    The files the config names are checked by :func:`check_files_before_start`.
    """
    path = Path(path)
    try:
        data_bytes = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read: {exc.strerror}")]) from None
    try:
        text = data_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data_bytes.count(b"\n", 0, exc.start) + 1
        raise ConfigError(str(path), [(f"line {line}", (
            f"not UTF-8 (byte 0x{data_bytes[exc.start]:02x}); save the file as UTF-8 "
            "(a Thai comment written in TIS-620 or Windows-874 does this)"))]) from None
    try:
        data = yaml.safe_load(_quote_bare_env_refs(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(str(path), [(where, str(problem))]) from None
    config = parse_config(data, source=str(path), base_dir=path.resolve().parent,
                          resolve=resolve)
    return config.model_copy(update={"source": path})


def check_files_before_start(config: Config) -> None:
    """Raise :class:`ConfigError` (``file: key: message``) if a certificate, key or CA file
    the config names cannot be used. ``pubnet run``, ``config check`` and ``poll`` call it
    after :func:`load_config`, so that a missing or mismatched file stops them at once
    rather than in a traceback from the component that opens it; other readers of a
    config (tests, tools on a machine without the daemon's files) need not."""
    problems = check_files(config)
    if problems:
        raise ConfigError(str(config.source or "<config>"), problems)


def default_config() -> Config:
    """The embedded default: no file, everything on one machine."""
    return Config()


def secret_values(model: BaseModel) -> list[str]:
    """Every resolved secret in a config, for the log redactor. Never print these."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, UnresolvedSecret):
            return  # never read, so it cannot leak; its reference text is not a secret
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
