"""One logging style in the shell (issue 11 §5): fields go in ``extra``, never into the
message with ``%s`` or an f-string, so that ``--log-format json`` gives them as keys instead
of burying them in ``msg`` (the key=value format prints them after ``msg`` either way)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL = [ROOT / "pubnet" / "cli.py", *sorted((ROOT / "pubnet" / "app").rglob("*.py"))]
LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}
ALLOWED = {"starting component=%s %s"}
"""``Planned.detail`` (pubnet/app/components.py) is written as ``key=value`` text already;
it becomes fields when the plan carries them as a mapping."""


def _fields_in_message(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in LEVELS and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("log", "logger") and node.args):
            continue
        message = node.args[0]
        if isinstance(message, ast.JoinedStr):
            found.append((node.lineno, "f-string"))
        elif len(node.args) > 1 and not any(k.arg == "extra" for k in node.keywords):
            # (a prepared human line logged as "%s" beside its fields in extra is fine)
            text = message.value if isinstance(message, ast.Constant) else "?"
            if text not in ALLOWED:
                found.append((node.lineno, repr(text)))
    return found


def test_shell_logs_fields_as_keys() -> None:
    problems = [f"{path.relative_to(ROOT)}:{line}: {what}"
                for path in SHELL
                for line, what in _fields_in_message(ast.parse(path.read_text("utf-8")))]
    assert problems == []


def test_the_check_sees_both_styles() -> None:
    tree = ast.parse('log.info("a x=%s", 1)\nlog.warning(f"b {x}")\n'
                     'log.info("c", extra={"x": 1})\n')
    assert [line for line, _ in _fields_in_message(tree)] == [1, 2]
