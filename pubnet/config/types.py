"""Value types every config section uses: durations, secrets, paths, and the
strict section base.

Secrets are written as ``${ENV_VAR}`` or ``file:/path`` references and resolved at load time
into :class:`pydantic.SecretStr`, which prints as ``**********`` in every repr, log line and
error.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
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
                # Never echo the text: a password pasted one line off lands here.
                raise ValueError(
                    "invalid duration: expected a number with ms, s, m, h or d, e.g. 2s"
                ) from None
    else:
        raise ValueError("expected a duration such as 500ms, 2s, 5m or 1h")
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number of seconds")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in the file as ``500ms``, ``2s``, ``5m``, ``1h`` or a number."""

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
MAX_SECRET_FILE_BYTES = 65536
"""A ``file:`` secret larger than this is refused (it is not a password file)."""


class UnresolvedSecret(SecretStr):
    """A secret left as written, for commands that never use it (``pubnet alerts list``,
    ``pubnet maintenance ...``): they must work on a machine without the daemon's secrets.

    Reading its value is a programming error, so it raises rather than handing out the
    reference text as if it were the password.
    """

    def get_secret_value(self) -> str:
        raise RuntimeError("secret not resolved: this config was loaded with resolve=False")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnresolvedSecret) and self._secret_value == other._secret_value

    def __hash__(self) -> int:
        return hash(self._secret_value)


def resolve_secret(value: object, base_dir: Path | None = None) -> SecretStr:
    """Turn ``${ENV}``, ``file:/path`` or a literal into a SecretStr.

    A relative ``file:`` path is relative to ``base_dir`` (the config file's folder), so
    that the daemon finds it whatever its working directory. Only a regular file of at
    most :data:`MAX_SECRET_FILE_BYTES` is read: a FIFO or a device would block start-up
    forever. Errors name the variable or file, never the secret itself.
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
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return SecretStr(_read_secret_file(path))
    return SecretStr(value)


def _read_secret_file(path: Path) -> str:
    try:
        # O_NONBLOCK: opening a FIFO nobody writes to must not hang before fstat says so.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"secret file {path} is not a regular file (a FIFO, socket or "
                             "device would never end); write the secret into a plain file")
        if info.st_size > MAX_SECRET_FILE_BYTES:
            raise ValueError(f"secret file {path} is larger than {MAX_SECRET_FILE_BYTES} "
                             "bytes; is it the right file?")
        data = handle.read(MAX_SECRET_FILE_BYTES + 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"secret file {path} is not UTF-8 text") from None
    return text.rstrip("\r\n")


def _resolve_secret_field(value: object, info: ValidationInfo) -> SecretStr:
    """The ``Secret`` type's validator: resolves unless the context says ``resolve: False``,
    in which case the reference is kept unread (see :class:`UnresolvedSecret`)."""
    context = info.context if isinstance(info.context, dict) else {}
    if not context.get("resolve", True):
        if isinstance(value, SecretStr):
            return value
        if not isinstance(value, str):
            raise ValueError("expected a string, ${ENV_VAR} or file:/path")
        return UnresolvedSecret(value)
    base = context.get("base_dir")
    return resolve_secret(value, Path(base) if base is not None else None)


Secret = Annotated[SecretStr, BeforeValidator(_resolve_secret_field)]
"""A secret value; never printed. Written as ``${ENV_VAR}``, ``file:/path`` or literally."""


_PLAIN_NAME = re.compile(r"[a-z][a-z0-9_.\-]{0,31}")


def looks_secret(text: str) -> bool:
    """Whether ``text`` could be a password or token typed into the wrong key: one word of
    six or more ASCII characters that is not a plain lower-case name or a number. Names
    with spaces, Thai text, numbers and ``noc-line`` style names do not."""
    return (
        len(text) >= 6
        and text.isascii()
        and not any(c.isspace() for c in text)
        and not text.isdigit()
        and not _PLAIN_NAME.fullmatch(text)
    )


def shown(text: str) -> str:
    """``text`` quoted for an error message, or only its length when it
    :func:`looks_secret`: config errors never echo what may be a password."""
    if looks_secret(text):
        return f"(a value of {len(text)} characters, not shown)"
    return repr(text)


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


PositiveDuration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(positive)]
"""A :data:`Duration` that must be greater than zero (intervals, timeouts)."""
