"""One logging style in the product (issue 11 §5): fields go in ``extra``, never into the
message with ``%s`` or an f-string, so that ``--log-format json`` gives them as keys instead
of burying them in ``msg`` (the key=value format prints them after ``msg`` either way)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("pubnet", "collectors", "exporters", "alerting", "dashboards", "inventory",
           "simulator")
LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}
ALLOWED = {"starting component=%s %s"}
"""``Planned.detail`` (pubnet/app/components.py) is written as ``key=value`` text already;
it becomes fields when the plan carries them as a mapping."""
NOT_CONVERTED_YET: set[str] = set()
"""Files converted on another branch at the same time; remove each once that branch is
merged (:func:`test_product_logs_fields_as_keys` fails while one is listed for nothing)."""
RESERVED = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName"}
"""``extra`` keys that ``logging`` refuses (KeyError at the call, not at import)."""


def _log_calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in LEVELS and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("log", "logger") and node.args]


def _fields_in_message(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in _log_calls(tree):
        message = node.args[0]
        if isinstance(message, ast.JoinedStr):
            found.append((node.lineno, "f-string"))
        elif len(node.args) > 1 and not any(k.arg == "extra" for k in node.keywords):
            # (a prepared human line logged as "%s" beside its fields in extra is fine)
            text = message.value if isinstance(message, ast.Constant) else "?"
            if text not in ALLOWED:
                found.append((node.lineno, repr(text)))
        for keyword in node.keywords:
            if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                found.extend((node.lineno, f"extra key {key.value!r} is a LogRecord attribute")
                             for key in keyword.value.keys
                             if isinstance(key, ast.Constant) and key.value in RESERVED)
    return found


def test_product_logs_fields_as_keys() -> None:
    problems: dict[str, list[str]] = {}
    for folder in PRODUCT:
        for path in sorted((ROOT / folder).rglob("*.py")):
            found = _fields_in_message(ast.parse(path.read_text("utf-8")))
            if found:
                problems[path.relative_to(ROOT).as_posix()] = [f"{line}: {what}"
                                                               for line, what in found]
    assert {p: found for p, found in problems.items() if p not in NOT_CONVERTED_YET} == {}
    assert NOT_CONVERTED_YET <= problems.keys(), "converted now: remove from NOT_CONVERTED_YET"


def test_the_check_sees_both_styles() -> None:
    tree = ast.parse('log.info("a x=%s", 1)\nlog.warning(f"b {x}")\n'
                     'log.info("c", extra={"x": 1})\nlogger.info("d", extra={"name": 1})\n')
    assert [line for line, _ in _fields_in_message(tree)] == [1, 2, 4]
