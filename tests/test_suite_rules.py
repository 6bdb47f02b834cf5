"""The test suite's own rules (issue 11), kept by a test so they do not erode: pytest runs
with ``--strict-markers``, ``xfail_strict`` and warnings as errors, and every table of
cases (``pytest.mark.parametrize``) names its cases, with ``ids`` or with each case a
``pytest.param(..., id=...)``, so a failure says which case in words rather than
``expr3-expected3``."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pytest_is_strict() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pytest_options = options["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in pytest_options["addopts"]
    assert pytest_options["xfail_strict"] is True
    assert pytest_options["filterwarnings"][0] == "error"


def _is_named_case(case: ast.expr) -> bool:
    """``pytest.param(..., id=...)``."""
    return (isinstance(case, ast.Call) and isinstance(case.func, ast.Attribute)
            and case.func.attr == "param" and any(k.arg == "id" for k in case.keywords))


def unnamed_tables(source: str) -> list[int]:
    """The lines of the ``parametrize`` calls in ``source`` that leave a case unnamed: no
    ``ids``, and cases that are not all ``pytest.param(..., id=...)`` in a literal list."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "parametrize"):
            continue
        if any(k.arg == "ids" for k in node.keywords):
            continue
        cases = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg == "argvalues"), None)
        if (isinstance(cases, ast.List | ast.Tuple) and cases.elts
                and all(_is_named_case(case) for case in cases.elts)):
            continue
        lines.append(node.lineno)
    return lines


def test_every_parametrize_has_ids() -> None:
    missing = [f"{path.relative_to(ROOT)}:{line}"
               for path in sorted((ROOT / "tests").rglob("*.py"))
               for line in unnamed_tables(path.read_text(encoding="utf-8"))]
    assert missing == []


def test_the_ids_check_tells_named_from_unnamed_tables() -> None:
    """The checker itself: a table is named by ``ids`` or by an ``id`` on every case."""
    source = (
        "import pytest\n"
        "@pytest.mark.parametrize('x', [1, 2], ids=['one', 'two'])\n"
        "def a(x): ...\n"
        "@pytest.mark.parametrize('x', [pytest.param(1, id='one'), pytest.param(2, id='two')])\n"
        "def b(x): ...\n"
        "@pytest.mark.parametrize(argnames='x', argvalues=(pytest.param(1, id='one'),))\n"
        "def c(x): ...\n"
        "@pytest.mark.parametrize('x', [1, 2])\n"
        "def d(x): ...\n"
        "@pytest.mark.parametrize('x', [pytest.param(1, id='one'), pytest.param(2)])\n"
        "def e(x): ...\n"
        "@pytest.mark.parametrize('x', [pytest.param(1, id='one'), 2])\n"
        "def f(x): ...\n"
        "@pytest.mark.parametrize('x', CASES)\n"
        "def g(x): ...\n"
        "@pytest.mark.parametrize('x', [])\n"
        "def h(x): ...\n"
    )
    assert unnamed_tables(source) == [8, 10, 12, 14, 16]
