"""What is wrong with an inventory, said so a planner can find and fix it in a spreadsheet.

Both the loader (rows it cannot read) and the validator (rows that read fine but do not
make sense together) speak this one type, so the CLI prints a single sorted list.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """An error makes the inventory unusable; a warning is printed but does not fail it."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem, anchored at ``file:line`` and the column (or YAML key) it is about.

    ``line`` is 1-based; 0 means the file itself (for example, a missing file).
    """

    file: str
    line: int
    field: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        # The prefix is the same for errors and warnings so editors and grep can jump to it.
        tag = "warning: " if self.severity is Severity.WARNING else ""
        return f"{self.file}:{self.line}: {self.field}: {tag}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def quoted(text: str, limit: int = 60) -> str:
    """``text`` in quotes for a message, cut to ``limit`` characters with its length said,
    so that a runaway cell cannot turn one message into megabytes."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


def has_errors(problems: list[Problem]) -> bool:
    """True when any problem is an error: the CLI's exit status depends on exactly this."""
    return any(p.severity is Severity.ERROR for p in problems)
