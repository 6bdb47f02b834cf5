"""Reading an inventory written as one YAML file with ``sites``, ``devices`` and ``links``.

Small inventories (a lab, a test, a single province) are easier to write by hand in
YAML than as three CSV files. Records use the CSV column names as keys, so the same
parsers and rules apply. The file is composed into nodes rather than loaded into Python
values so that every record and key keeps its line number, and so that each value is
taken as written (``province_code: 050`` stays ``"050"``, ``credential: no`` stays
``"no"``) instead of being reinterpreted by YAML's type guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from inventory.bounded import MAX_LINE_BYTES, read_bounded
from inventory.csv_reader import decode
from inventory.problems import Problem, Severity, quoted
from inventory.records import COLUMNS, KINDS, MAX_TEXT, FieldErrors, RecordKind, row_parser
from inventory.result import Collector, LoadResult

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

__all__ = ["read_yaml_file"]

_SECTIONS: Mapping[str, RecordKind] = {"sites": "site", "devices": "device", "links": "link"}
_REQUIRED: tuple[RecordKind, ...] = ("site", "device")
_NULL_TAG = "tag:yaml.org,2002:null"
_KEY = re.compile(r"\s*(?:-\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*:")


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def read_yaml_file(result: LoadResult, path: Path) -> None:
    """Add the records of a YAML inventory to ``result``, or the problems that prevent it."""
    file = str(path)
    for kind in KINDS:
        result.files[kind] = file

    def fail(line: int, field: str, message: str) -> None:
        result.problems.append(Problem(file, line, field, message))
        result.unreadable.update(KINDS)

    try:
        data, long_lines = read_bounded(path)
    except OSError as exc:
        return fail(0, "file", f"cannot read: {exc.strerror}")
    if long_lines:
        # Unlike a CSV row, a YAML line cannot be left out without changing what the rest
        # means: the file is refused at the first one.
        long = long_lines[0]
        named = _KEY.match(long.prefix.decode("utf-8", "replace"))
        return fail(long.line, named.group(1) if named else "yaml",
                    f"line has over {MAX_LINE_BYTES:,} bytes and was not read (a value holds "
                    f"at most {MAX_TEXT} characters)")
    text = decode(data)
    del data
    if isinstance(text, tuple):
        return fail(text[0], "encoding", text[1])
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return fail(mark.line + 1 if mark else 1, "yaml", f"not valid YAML: {exc.problem}")
    except yaml.YAMLError as exc:
        return fail(1, "yaml", f"not valid YAML: {exc}")
    if not isinstance(root, yaml.MappingNode):
        return fail(
            1 if root is None else _line(root),
            "yaml",
            "expected a mapping with the keys sites, devices and links",
        )

    seen: set[RecordKind] = set()
    for key_node, value_node in root.value:
        key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
        section = _SECTIONS.get(key)
        if section is None:
            result.problems.append(
                Problem(
                    file,
                    _line(key_node),
                    key,
                    "unknown section is ignored (expected sites, devices and links)",
                    Severity.WARNING,
                )
            )
        elif section in seen:
            result.problems.append(
                Problem(file, _line(key_node), key, f"section {quoted(key)} appears twice")
            )
        else:
            seen.add(section)
            _read_section(Collector(result, section, file), key, value_node)
    for kind in _REQUIRED:
        if kind not in seen:
            result.problems.append(Problem(file, 1, f"{kind}s", f"missing section '{kind}s'"))
            result.unreadable.add(kind)


def _read_section(collector: Collector, section: str, node: yaml.Node) -> None:
    if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
        return  # "links:" with nothing under it
    if not isinstance(node, yaml.SequenceNode):
        collector.problem(_line(node), section, f"expected a list of {section}")
        collector.mark_unreadable()
        return
    columns = COLUMNS[collector.kind]
    parse = row_parser(collector.kind)
    for item in node.value:
        line = _line(item)
        if not isinstance(item, yaml.MappingNode):
            collector.problem(line, section, "expected a mapping of column: value")
            continue
        values: dict[str, str] = {}
        field_lines: dict[str, int] = {}
        errors: FieldErrors = []
        for key_node, value_node in item.value:
            name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            key_line = _line(key_node)
            if name not in columns:
                collector.problem(
                    key_line,
                    name,
                    f"unknown key is ignored (keys: {', '.join(columns)})",
                    Severity.WARNING,
                )
            elif name in field_lines:
                errors.append((name, f"key {quoted(name)} appears twice"))
            else:
                field_lines[name] = key_line
                if not isinstance(value_node, yaml.ScalarNode):
                    errors.append((name, "expected a single value, not a list or mapping"))
                elif value_node.tag != _NULL_TAG:
                    values[name] = str(value_node.value)
        row = [values.get(column, "") for column in columns]
        parsed = parse(row)
        if errors:
            # A key that was not a plain value also reads as empty: say so only once.
            flagged = {name for name, _ in errors}
            others = [e for e in parsed if e[0] not in flagged] if isinstance(parsed, list) else []
            parsed = errors + others
        collector.add(row[0].strip(), parsed, line, field_lines)
