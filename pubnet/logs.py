"""Structured logging: ``key=value`` lines by default, JSON lines with ``--log-format json``.

Messages are short fixed text with their fields in ``extra``: ``log.warning("device down",
extra={"device": ...})`` gives ``msg="device down" device=gw-1``, or ``"device": "gw-1"`` in
JSON (tests/shell/test_log_style.py keeps every product folder to it). A
:class:`SecretRedactor` filter replaces any resolved secret value that might still slip into
a message or a field, as a second line of defence behind ``SecretStr``.

Values in log lines often come from the network (an MQTT topic, a trap varbind, a device's
sysName), so the formatters escape every control character -- CR, ESC, NUL, DEL, the C1
range, Unicode line separators and bidirectional overrides -- in both formats: a hostile
topic cannot forge a log line, clear a terminal or recolour it. Thai text is kept as it is.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import TextIO

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}


def _extra_fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


def _timestamp(record: logging.LogRecord) -> str:
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{base}.{int(record.msecs):03d}Z"


_UNSAFE_CLASS = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{_UNSAFE_CLASS}]")
"""C0 and C1 controls, DEL, line/paragraph separators and bidirectional marks/overrides."""
_NEEDS_QUOTES = re.compile(f'[ ="{_UNSAFE_CLASS}]')


def _escape_char(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape(text: str) -> str:
    """``text`` as a JSON string body with every unsafe character as ``\\uXXXX``
    (``json.dumps`` alone leaves DEL, C1 controls and bidi overrides raw)."""
    return _UNSAFE.sub(_escape_char, json.dumps(text, ensure_ascii=False)[1:-1])


def _quote(value: object) -> str:
    text = str(value)
    if text == "" or _NEEDS_QUOTES.search(text):
        return f'"{escape(text)}"'
    return text


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=info logger=pubnet.snmp msg="device down" device=gw-1``."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"ts={_timestamp(record)}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_quote(record.getMessage())}",
        ]
        parts.extend(f"{k}={_quote(v)}" for k, v in _extra_fields(record).items())
        if record.exc_info:
            parts.append(f"error={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, Thai text kept as UTF-8."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _extra_fields(record).items():
            data[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        line = json.dumps(data, ensure_ascii=False)
        return _UNSAFE.sub(_escape_char, line) if _UNSAFE.search(line) else line


class SecretRedactor(logging.Filter):
    """Replace known secret values in a record's message and fields with ``**********``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "**********")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        scrubbed = self._scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        for key, value in _extra_fields(record).items():
            if isinstance(value, str):
                setattr(record, key, self._scrub(value))
        return True


def setup_logging(
    level: str = "info",
    fmt: str = "kv",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Configure the root logger once for the process (the CLI calls this)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler.addFilter(SecretRedactor(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(
            logging.DEBUG if level == "debug" else logging.WARNING)


CHATTY_LIBRARIES = ("transitions", "amqtt", "pysnmp", "aiosqlite")
"""Libraries that log routine state changes at info level (amqtt's broker logs every state
machine callback); an operator sees their warnings, and everything with ``--log-level debug``."""
