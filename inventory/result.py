"""What loading an inventory produces: the records, the problems and where each came from.

Source lines are kept as plain ``id -> line`` dicts (cheap for 600,000 rows) and turned
into :class:`SourceLocation` objects only when an error message or the CLI asks for one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from inventory.model import Device, Inventory, Link, Site, SourceLocation
from inventory.problems import Problem, Severity, quoted
from inventory.records import COLUMNS, KINDS, FieldErrors, Record, RecordKind

__all__ = ["Collector", "LoadResult", "SourceLocations"]


class SourceLocations(Mapping[tuple[RecordKind, str], SourceLocation]):
    """``(kind, id) -> file:line`` for every row read, e.g. ``("device", "pn-50")``.

    Rows the loader rejected are included: they exist in the file, and a message about
    them still wants to point there.
    """

    __slots__ = ("_files", "_lines")

    def __init__(
        self, files: Mapping[RecordKind, str], lines: Mapping[RecordKind, Mapping[str, int]]
    ) -> None:
        self._files = files
        self._lines = lines

    def __getitem__(self, key: tuple[RecordKind, str]) -> SourceLocation:
        kind, record_id = key
        return SourceLocation(self._files[kind], self._lines[kind][record_id])

    def __iter__(self) -> Iterator[tuple[RecordKind, str]]:
        for kind, lines in self._lines.items():
            for record_id in lines:
                yield kind, record_id

    def __len__(self) -> int:
        return sum(len(lines) for lines in self._lines.values())

    def __contains__(self, key: object) -> bool:
        if not (isinstance(key, tuple) and len(key) == 2):
            return False
        lines = self._lines.get(key[0])
        return lines is not None and key[1] in lines


def _per_kind_lines() -> dict[RecordKind, dict[str, int]]:
    return {kind: {} for kind in KINDS}


def _per_kind_ids() -> dict[RecordKind, set[str]]:
    return {kind: set() for kind in KINDS}


@dataclass(slots=True)
class LoadResult:
    """An inventory as read, with everything needed to point back at its source.

    ``files`` names the file each kind of record came from (the same YAML file for all
    three kinds; for a folder, the CSV file whether or not it exists). ``rejected`` holds
    the ids of rows that had problems and are therefore not in ``inventory``;
    ``unreadable`` the kinds whose file or section could not be read at all, so
    references to them cannot be checked. Use :meth:`location` or :attr:`locations` to
    cite a record as ``file:line``.
    """

    inventory: Inventory
    problems: list[Problem] = field(default_factory=list)
    files: dict[RecordKind, str] = field(default_factory=dict)
    rejected: dict[RecordKind, set[str]] = field(default_factory=_per_kind_ids)
    unreadable: set[RecordKind] = field(default_factory=set)
    # Filled by Collector (below); read through lines_of() and location().
    _lines: dict[RecordKind, dict[str, int]] = field(
        default_factory=_per_kind_lines, init=False, repr=False
    )
    _field_lines: dict[tuple[RecordKind, str], dict[str, int]] = field(
        default_factory=dict, init=False, repr=False
    )
    _consecutive: dict[RecordKind, tuple[Sequence[str], int]] = field(
        default_factory=dict, init=False, repr=False
    )

    def lines_of(self, kind: RecordKind) -> Mapping[str, int]:
        """Record id -> line of its first occurrence, for every row of ``kind`` read.

        A clean CSV file is read in one go and its lines are implied by row order; the
        dict is only built on first use (most runs never cite a line).
        """
        lines = self._lines[kind]
        consecutive = self._consecutive.get(kind)
        if consecutive is not None:
            ids, first = consecutive
            lines.update(zip(ids, range(first, first + len(ids)), strict=True))  # idempotent
            self._consecutive.pop(kind, None)
        return lines

    @property
    def locations(self) -> SourceLocations:
        """``(kind, id) -> SourceLocation`` for every row read."""
        return SourceLocations(self.files, {kind: self.lines_of(kind) for kind in KINDS})

    def location(
        self, kind: RecordKind, record_id: str, field: str | None = None
    ) -> SourceLocation | None:
        """Where a record (in YAML: one of its keys, if given) was written; None if no
        row with that id was read."""
        line = self.lines_of(kind).get(record_id)
        if line is None:
            return None
        if field is not None and self._field_lines:
            line = self._field_lines.get((kind, record_id), {}).get(field, line)
        return SourceLocation(self.files[kind], line)

    def knows(self, kind: RecordKind, record_id: str) -> bool:
        """Whether a reference to ``record_id`` counts as resolved.

        True for every row read, even a rejected one, and for any id of a kind that
        could not be read at all: one broken row or file must not cascade into
        thousands of "unknown id" errors.
        """
        return kind in self.unreadable or record_id in self.lines_of(kind)


class Collector:
    """Files parsed rows of one kind into a :class:`LoadResult`: records, lines,
    duplicates, rejects and problems, all anchored in one file."""

    __slots__ = ("_file", "_kind", "_lines", "_problems", "_records", "_rejected", "_result")

    def __init__(self, result: LoadResult, kind: RecordKind, file: str) -> None:
        self._result = result
        self._kind = kind
        self._file = file
        self._lines = result._lines[kind]
        self._rejected = result.rejected[kind]
        self._problems = result.problems
        inventory = result.inventory
        records: dict[str, Site] | dict[str, Device] | dict[str, Link] = (
            inventory.sites
            if kind == "site"
            else inventory.devices
            if kind == "device"
            else inventory.links
        )
        self._records: dict[str, Record] = records  # type: ignore[assignment]

    @property
    def kind(self) -> RecordKind:
        return self._kind

    def add(
        self,
        record_id: str,
        parsed: Record | FieldErrors,
        line: int,
        field_lines: Mapping[str, int] | None = None,
    ) -> None:
        """One row: a record, or the problems that kept it from being one."""
        if isinstance(parsed, list):
            where = field_lines or {}
            self._problems.extend(
                Problem(self._file, where.get(name, line), name, message)
                for name, message in parsed
            )
        if not record_id:
            return
        first = self._lines.get(record_id)
        if first is not None:
            column = COLUMNS[self._kind][0]
            self._problems.append(
                Problem(
                    self._file,
                    line if field_lines is None else field_lines.get(column, line),
                    column,
                    f"duplicate {column} {quoted(record_id)} (first defined at line {first})",
                )
            )
            return
        self._lines[record_id] = line
        if field_lines:
            self._result._field_lines[(self._kind, record_id)] = dict(field_lines)
        if isinstance(parsed, list):
            self._rejected.add(record_id)
        else:
            self._records[record_id] = parsed

    def add_all(self, ids: Sequence[str], records: Sequence[Record], first_line: int) -> bool:
        """A whole clean file at once: non-empty ids on consecutive lines. Adds nothing
        and returns False if an id repeats (the row-by-row path then reports it)."""
        by_id = dict(zip(ids, records, strict=True))
        if len(by_id) != len(ids) or self._records:
            return False
        # Hand the new dict over rather than copying 250,000 entries into the old one.
        setattr(self._result.inventory, f"{self._kind}s", by_id)
        self._records = by_id
        self._result._consecutive[self._kind] = (ids, first_line)
        return True

    def reject(self, record_id: str, line: int) -> None:
        """A row that was not parsed (its file lacks columns): known, but not usable."""
        if record_id and record_id not in self._lines:
            self._lines[record_id] = line
            self._rejected.add(record_id)

    def mark_unreadable(self) -> None:
        self._result.unreadable.add(self._kind)

    def problem(
        self, line: int, name: str, message: str, severity: Severity = Severity.ERROR
    ) -> None:
        self._problems.append(Problem(self._file, line, name, message, severity))
