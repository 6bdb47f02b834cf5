"""How a subcommand ends: its exit status, and the list of files it wrote.

Every ``pubnet`` subcommand returns 0 when it did its work and 1 for bad input (a file that
cannot be read or written, a value out of range) or work that failed, argparse's 2 for
usage, 3 when ``pubnet poll`` reached some devices but not all, 130 when the demo is
interrupted; scripts rely on these, so they are all here.

A command that writes files prints each path on its own line on stdout, so a script can
pick them up, or one line on stderr naming the file it could not write and why.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_FAILED = 1
"""The work itself failed (Grafana refused a dashboard, the demo's pubnet stopped)."""
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3
"""``pubnet poll``: at least one device did not answer."""
EXIT_INTERRUPTED = 130


def print_written(write: Callable[[], Iterable[Path]], *, prefix: str = "") -> int:
    """Run ``write``; print the paths it returns and give :data:`EXIT_OK`, or, when it raises
    :class:`OSError`, print ``{prefix}{file}: {reason}`` to stderr and give
    :data:`EXIT_BAD_INPUT` (``prefix`` for a command that names itself first)."""
    try:
        written = list(write())
    except OSError as exc:
        where = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else exc
        print(f"{prefix}{where}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for path in written:
        print(path)
    return EXIT_OK
