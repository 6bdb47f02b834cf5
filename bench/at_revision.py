"""Code of this repository as it was at a git revision: benchmarks time the old code
against the new in the same run (``--against REV``), on the same machine and load.

Either one module loaded beside today's (:func:`module_at`), or a whole package in a
scratch folder that a benchmark re-run as a child process imports instead of today's
(:func:`runs_against`; the child sees ``OLD_CODE`` set and leaves the repository off the
front of ``sys.path``). A benchmark that re-runs itself so puts the repository first with
:func:`this_tree_first` before it imports pubnet's packages, takes ``--against`` and
``--repeat`` with :func:`parse_or_compare`, and reports which copy of the package it
measured with :func:`imported_from`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import types
from collections.abc import Callable, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def module_at(path: str, revision: str) -> types.ModuleType:
    """``path`` (``exporters/influx/lineproto.py``) at ``revision``, loaded under a name of
    its own; its imports are today's modules."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:{path}"],
                            capture_output=True, text=True, check=True).stdout
    name = f"{path[:-3].replace('/', '.')}@{revision}"
    module = types.ModuleType(name)
    module.__file__ = f"{revision}:{path}"
    sys.modules[name] = module  # dataclasses look their class's module up
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


OLD_CODE = "PUBNET_BENCH_OLD_CODE"
"""Set in a child run by :func:`runs_against` for the old package."""


def this_tree_first() -> None:
    """Put the repository first on ``sys.path``, so that pubnet's packages are imported from
    this tree; not in a :func:`runs_against` child for the old code, whose ``PYTHONPATH``
    puts the old package first."""
    if os.environ.get(OLD_CODE) is None:
        sys.path.insert(0, str(ROOT))


def parse_or_compare(parser: argparse.ArgumentParser, package: str,
                     compare: Callable[[argparse.Namespace], dict[str, Any]],
                     argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The benchmark's arguments, with ``--against REF`` and ``--repeat N`` added: the
    benchmark with ``package`` as at git revision ``REF`` and as it is now, ``N`` times
    each, alternately. With ``--against``, as with ``--help``, this returns nothing:
    ``compare(args)`` runs the two (:func:`runs_against`), its report is printed as the
    last line's JSON object, and the process exits."""
    parser.add_argument("--against", metavar="REF",
                        help=f"also measure with the {package}/ of git revision REF; "
                             "print new/old")
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternations old/new with --against")
    args = parser.parse_args(argv)
    if args.against:
        print(json.dumps(compare(args)))
        raise SystemExit(0)
    return args


def imported_from(package: str) -> str:
    """The folder ``package`` was imported from: this tree's, or in a :func:`runs_against`
    child for the old code the scratch copy's."""
    return str(Path(sys.modules[package].__file__ or "").parent)


def runs_against(revision: str, package: str, command: list[str], repeat: int
                 ) -> dict[str, list[dict[str, Any]]]:
    """Run ``command`` (a benchmark as a child process, printing one JSON object last)
    ``repeat`` times with ``package`` (``collectors``) as at ``revision`` and as it is now,
    alternately; the JSON objects under ``"old"`` and ``"new"``, each also printed."""
    results: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp:
        data = subprocess.run(["git", "-C", str(ROOT), "archive", revision, package],
                              check=True, capture_output=True).stdout
        with tarfile.open(fileobj=BytesIO(data)) as tar:
            tar.extractall(tmp, filter="data")
        for _ in range(repeat):
            for which in ("old", "new"):
                env = dict(os.environ)
                if which == "old":
                    env["PYTHONPATH"] = f"{tmp}{os.pathsep}{ROOT}"
                    env[OLD_CODE] = "1"
                out = subprocess.run([sys.executable, *command], env=env, check=True,
                                     capture_output=True, text=True).stdout
                line = json.loads(out.strip().splitlines()[-1])
                results[which].append(line)
                print(which, json.dumps(line), flush=True)
    return results
