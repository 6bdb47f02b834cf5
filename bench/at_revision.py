"""A module of this repository as it was at a git revision: benchmarks time the old code
against the new in the same run (``--against REV``), on the same machine and load."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

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
