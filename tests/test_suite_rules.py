"""The test suite's own rules (issue 11), kept by a test so they do not erode: pytest runs
with ``--strict-markers``, ``xfail_strict`` and warnings as errors, and every table of
cases (``pytest.mark.parametrize``) names its cases with ``ids``, so a failure says which
case in words rather than ``expr3-expected3``."""

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


def test_every_parametrize_has_ids() -> None:
    missing = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "parametrize"
                    and not any(k.arg == "ids" for k in node.keywords)):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert missing == []
