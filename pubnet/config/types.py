"""Value types every config section uses: durations, secrets, paths, and the
strict section base.

Secrets are written as ``${ENV_VAR}`` or ``file:/path`` references and resolved at load time
into :class:`pydantic.SecretStr`, which prints as ``**********`` in every repr, log line and
error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    SecretStr,
    ValidationInfo,
)

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


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def positive(value: float) -> float:
    """A validator body for durations that must be greater than zero."""
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value
