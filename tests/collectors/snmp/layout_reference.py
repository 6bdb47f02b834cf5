"""Reference implementations the SNMP tests compare the product's fast paths with.

A layout's GET values rebuilt as the columns a walk gives (what the row loop once read,
before it took them by position from :meth:`TableLayout.cells`). Only tests use them
(issue #11), so they live here, not in the product.
"""

from __future__ import annotations

from collections.abc import Mapping

from collectors.snmp.client import Value
from collectors.snmp.layout import TableLayout


def column_spans(instance_columns: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """``(column OID, start, stop)``: the runs of equal column OIDs in ``instance_columns``
    (a walk files instances column by column, so usually one run per column)."""
    spans: list[tuple[str, int, int]] = []
    start = 0
    for stop in range(1, len(instance_columns) + 1):
        if stop == len(instance_columns) or instance_columns[stop] != instance_columns[start]:
            spans.append((instance_columns[start], start, stop))
            start = stop
    return tuple(spans)


def layout_columns(layout: TableLayout, values: Mapping[str, Value]
                   ) -> dict[str, dict[str, Value]] | None:
    """The table's columns rebuilt from a GET's ``values``, as a walk would give them;
    None when an instance is missing or a probe has a value (stale: walk again), exactly
    when :meth:`TableLayout.cells` says so."""
    if layout._moved(values):
        return None
    got = list(map(values.get, layout.instance_oids))
    if None in got:
        return None
    indexes = layout.instance_indexes
    columns: dict[str, dict[str, Value]] = {}
    for column, start, stop in column_spans(layout.instance_columns):
        col = columns.get(column)
        if col is None:
            columns[column] = dict(zip(indexes[start:stop], got[start:stop], strict=True))
        else:
            col.update(zip(indexes[start:stop], got[start:stop], strict=True))
    return columns
