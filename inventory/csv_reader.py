"""Reading one inventory CSV file (``sites.csv``, ``devices.csv`` or ``links.csv``).

Planners keep these files in spreadsheets, so the reader is forgiving where that costs
nothing: a UTF-8 BOM is accepted, cells are stripped, wholly empty rows are skipped,
columns may come in any order and extra columns only warn. What it cannot read it
reports with the file and line, in words a planner can act on.

Most files are regular -- one row per line, nothing wrong -- and a national inventory
has ~600,000 rows, so a regular file is split into columns (with string methods when
nothing is quoted, else ``csv.reader``) and handed to the column parsers; anything else,
or any doubt, goes row by row through the row parsers, which report every problem
precisely.

Sizes are bounded before anything is split: a line over
:data:`~inventory.bounded.MAX_LINE_BYTES` is never read (its row is reported and left out),
a quoted cell spanning lines stops at ``csv.field_size_limit()`` (128 KiB), and each text
cell at :data:`~inventory.records.MAX_TEXT` characters -- so a 200 MB cell costs a few MB,
not gigabytes. ``csv.reader`` reads lines from the text, never an ``io.StringIO`` copy of
it (which holds four bytes a character).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from inventory.bounded import MAX_LINE_BYTES, LongLine, read_bounded
from inventory.problems import Problem, Severity, quoted
from inventory.records import (
    COLUMNS,
    FILE_NAMES,
    MAX_TEXT,
    OPTIONAL_COLUMNS,
    RecordKind,
    column_parser,
    row_parser,
)
from inventory.result import Collector, LoadResult

if TYPE_CHECKING:
    from _csv import Reader

__all__ = ["decode", "lines", "read_csv_file"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+")
_UNSTRIPPED: dict[RecordKind, frozenset[str]] = {
    "site": frozenset({"kind", "lat", "lon"}),
    "device": frozenset({"role"}),
    "link": frozenset({"medium", "capacity_bps"}),
}
"""Columns the column parsers take unstripped: a stray space makes an enum or a capacity
fail to match (and the row path, which strips, reads the file instead), and ``float``
ignores surrounding whitespace itself. Not stripping them pays for the length checks."""


_OTHER_LINE_BREAKS = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"
"""What ``str.splitlines`` also splits at, but a CSV reader must not."""


def lines(text: str) -> Iterable[str]:
    """The lines of ``text`` with their endings (``\\n``, ``\\r\\n`` or ``\\r``), as
    ``io.StringIO(text, newline="")`` would give them to ``csv.reader``, without its copy of
    four bytes a character. ``str.splitlines`` (as fast) when no cell holds one of the other
    characters it splits at, else a regular expression (slower, rare)."""
    if any(c in text for c in _OTHER_LINE_BREAKS):
        return map(re.Match.group, _LINE.finditer(text))
    return text.splitlines(keepends=True)


def decode(data: bytes) -> str | tuple[int, str]:
    """Text of a UTF-8 file (BOM optional), or ``(line, message)`` if it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return line, (
            f"not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8, "
            "e.g. Excel's 'CSV UTF-8' or LibreOffice's 'Unicode (UTF-8)'"
        )


def read_csv_file(result: LoadResult, kind: RecordKind, path: Path, required: bool) -> None:
    """Add the rows of one CSV file to ``result``, or the problems that prevent it."""
    file = str(path)
    result.files[kind] = file
    if not path.is_file():
        if required:
            result.problems.append(
                Problem(
                    file,
                    0,
                    "file",
                    f"missing: an inventory folder needs sites.csv and devices.csv "
                    f"({FILE_NAMES[kind]} not found)",
                )
            )
            result.unreadable.add(kind)
        return
    try:
        data, long_lines = read_bounded(path)
    except OSError as exc:
        result.problems.append(Problem(file, 0, "file", f"cannot read: {exc.strerror}"))
        result.unreadable.add(kind)
        return
    text = decode(data)
    del data
    if isinstance(text, tuple):
        result.problems.append(Problem(file, text[0], "encoding", text[1]))
        result.unreadable.add(kind)
        return
    collector = Collector(result, kind, file)
    if long_lines:
        _report_long_lines(collector, text, long_lines)
    elif _read_columns(collector, text):
        return
    reader = csv.reader(lines(text))
    try:
        _read_rows(collector, reader)
    except csv.Error as exc:
        message = str(exc)
        if "field larger than field limit" in message:
            message = (f"a quoted cell is longer than {csv.field_size_limit():,} characters "
                       f"(a cell holds at most {MAX_TEXT}); reading stopped here")
        collector.problem(reader.line_num, "csv", f"cannot parse CSV: {message}")


def _report_long_lines(collector: Collector, text: str, long_lines: list[LongLine]) -> None:
    """One problem per line left out by :func:`read_bounded`, naming its column when the
    line is plain enough to tell, and its record as known (so references to it do not
    cascade into "unknown id" errors)."""
    first_line = text[: text.find("\n")] if "\n" in text else text
    header = [cell.strip() for cell in first_line.split(",")] if '"' not in first_line else []
    columns = COLUMNS[collector.kind]
    id_position = header.index(columns[0]) if columns[0] in header else None
    for long in long_lines:
        prefix = long.prefix.decode("utf-8", "replace")
        cells = prefix.split(",") if '"' not in prefix and long.line > 1 else []
        where = next((i for i, c in enumerate(cells) if len(c) > MAX_TEXT), len(cells) - 1)
        column = header[where] if 0 <= where < len(header) else ""
        if column in columns:
            message = (f"{column} is longer than {MAX_TEXT} characters (the line has over "
                       f"{MAX_LINE_BYTES:,} bytes and was not read); the row is left out")
        else:
            column = "header" if long.line == 1 else "row"
            message = (f"line has over {MAX_LINE_BYTES:,} bytes and was not read (a cell "
                       f"holds at most {MAX_TEXT} characters); the row is left out")
        collector.problem(long.line, column, message)
        if id_position is not None and id_position < len(cells) and where != id_position:
            record_id = cells[id_position].strip()
            if len(record_id) <= MAX_TEXT:
                collector.reject(record_id, long.line)


def _split_plain(text: str) -> tuple[list[str], list[list[str]]] | None:
    """Header and body columns of a file without quoting, split with string methods; None
    unless every line is one row of exactly the header's width."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    header_end = text.find("\n")
    if header_end < 0:
        return None
    header = text[:header_end].split(",")
    width = len(header)
    newlines = text.count("\n")
    lines = newlines + (not text.endswith("\n"))
    # Each newline becomes the end of a row's last cell ("...,upstream\n,next_id,...").
    # A cell then holds at most one newline, at its end, so the rows are intact exactly
    # when the cell count is right and every newline sits in a last-column cell. This
    # also rules out blank lines. (Splitting the whole text at once copies it least.)
    cells = text.replace("\n", "\n,").split(",")
    if text.endswith("\n"):
        cells.pop()  # the empty cell after the final newline
    if len(cells) != lines * width or "".join(cells[width - 1 :: width]).count("\n") != newlines:
        return None
    return header, [cells[width + index :: width] for index in range(width)]


def _split_quoted(text: str) -> tuple[list[str], list[list[str]]] | None:
    """The same for a file with quoted cells (what spreadsheets write when a name has a
    comma), through ``csv.reader``; None unless every line is one row of the header's
    width (no cell spans lines, no blank lines)."""
    reader = csv.reader(lines(text))
    try:
        rows = list(reader)
    except csv.Error:
        return None
    if not rows or reader.line_num != len(rows) or set(map(len, rows)) != {len(rows[0])}:
        return None
    return rows[0], list(map(list, zip(*rows[1:], strict=True))) or [[] for _ in rows[0]]


def _read_columns(collector: Collector, text: str) -> bool:
    """Read a whole file with no problems at once, column by column; False (having
    changed nothing) if the file has any irregularity or problem, for the row-by-row
    path to report."""
    split = _split_plain(text) if '"' not in text else _split_quoted(text)
    if split is None:
        return False
    header = [cell.strip() for cell in split[0]]
    columns = COLUMNS[collector.kind]
    names = set(header)
    if (
        len(names) != len(header)
        or not names <= set(columns)
        or not names >= set(columns) - OPTIONAL_COLUMNS[collector.kind]
    ):
        return False
    # Stripping every cell is cheaper than proving that none needs it (but see _UNSTRIPPED).
    unstripped = _UNSTRIPPED[collector.kind]
    by_name = {
        name: column if name in unstripped else list(map(str.strip, column))
        for name, column in zip(header, split[1], strict=True)
    }
    rows = len(by_name[columns[0]])
    ordered = [by_name[name] if name in by_name else [""] * rows for name in columns]
    records = column_parser(collector.kind)(ordered)
    if records is None:
        return False
    return collector.add_all(ordered[0], records, first_line=2)


def _read_rows(collector: Collector, reader: Reader) -> None:
    kind = collector.kind
    columns = COLUMNS[kind]
    optional = OPTIONAL_COLUMNS[kind]
    header_row = next(reader, None)
    if header_row is None:
        collector.problem(1, "header", f"empty file: expected a header row: {','.join(columns)}")
        collector.mark_unreadable()
        return
    header = [cell.strip() for cell in header_row]
    positions: dict[str, int] = {}
    for index, column in enumerate(header):
        if column in positions:
            collector.problem(1, "header", f"column {quoted(column)} appears twice")
        elif column in columns:
            positions[column] = index
        elif column:
            collector.problem(
                1, "header", f"unknown column {quoted(column)} is ignored", Severity.WARNING
            )
    missing = [column for column in columns if column not in positions and column not in optional]
    line_num = reader.line_num
    id_position = positions.get(columns[0])
    if missing:
        # Some spreadsheet locales save "CSV" with semicolons or tabs between cells.
        hint = next(
            (
                f"; cells must be separated by commas, not {name}"
                for sep, name in ((";", "semicolons"), ("\t", "tabs"))
                if len(header) == 1 and sep in header[0]
            ),
            "",
        )
        collector.problem(
            1,
            "header",
            f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)} "
            f"(expected: {','.join(c for c in columns if c not in optional)}){hint}",
        )
        # Remember the ids anyway, so references to these rows do not cascade.
        if id_position is None:
            collector.mark_unreadable()
            return
        for row in reader:
            line = line_num + 1
            line_num = reader.line_num
            if len(row) > id_position:
                collector.reject(row[id_position].strip(), line)
        return

    assert id_position is not None
    # An optional column the file leaves out reads as an empty cell: index -1 of each row,
    # padded with one "".
    picks = [positions.get(column, -1) for column in columns]
    needed = max(picks) + 1
    padded = -1 in picks
    parse = row_parser(kind)
    add = collector.add
    for row in reader:
        # A quoted cell may span lines: a row starts right after the previous one ended.
        line = line_num + 1
        line_num = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank lines, and rows of empty cells that spreadsheets export
        if len(row) < needed:
            collector.problem(
                line, "row", f"row has {len(row)} cells but the header has {len(header)} columns"
            )
            collector.reject(row[id_position].strip() if len(row) > id_position else "", line)
            continue
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
            collector.problem(
                line,
                "row",
                f"row has {len(row)} cells but the header has {len(header)} columns; "
                "the extra cells are ignored",
                Severity.WARNING,
            )
        if padded:
            row.append("")
        values = [row[index] for index in picks]
        add(values[0].strip(), parse(values), line)
