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
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from inventory.problems import Problem, Severity
from inventory.records import (
    COLUMNS,
    FILE_NAMES,
    OPTIONAL_COLUMNS,
    RecordKind,
    column_parser,
    row_parser,
)
from inventory.result import Collector, LoadResult

if TYPE_CHECKING:
    from _csv import Reader

__all__ = ["decode", "read_csv_file"]


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
        data = path.read_bytes()
    except OSError as exc:
        result.problems.append(Problem(file, 0, "file", f"cannot read: {exc.strerror}"))
        result.unreadable.add(kind)
        return
    text = decode(data)
    if isinstance(text, tuple):
        result.problems.append(Problem(file, text[0], "encoding", text[1]))
        result.unreadable.add(kind)
        return
    collector = Collector(result, kind, file)
    if _read_columns(collector, text):
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        _read_rows(collector, reader)
    except csv.Error as exc:
        collector.problem(reader.line_num, "csv", f"cannot parse CSV: {exc}")


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
    reader = csv.reader(io.StringIO(text, newline=""))
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
    # Stripping every cell is cheaper than proving that none needs it.
    by_name = {
        name: list(map(str.strip, column)) for name, column in zip(header, split[1], strict=True)
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
            collector.problem(1, "header", f"column {column!r} appears twice")
        elif column in columns:
            positions[column] = index
        elif column:
            collector.problem(
                1, "header", f"unknown column {column!r} is ignored", Severity.WARNING
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
