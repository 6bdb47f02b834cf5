"""Reading and validating a config file into :class:`~pubnet.config.root.Config`.

An error names the key path (``credentials.noc-v3.auth_protocol``) and never the value, so a
typo in a secret cannot leak it.
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

from pubnet.config.root import Config


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
        return Config.model_validate(dict(data), context={"base_dir": base_dir, "source": source})
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
