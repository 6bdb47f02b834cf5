"""Explicit panel placement on Grafana's 24-column grid.

The SDK's auto-layout lets a panel overflow the grid (it wraps only after the overflow) and
``Row.with_panel()`` collapses the row. So every panel gets its position and id here, rows
stay expanded (their panels follow them at the top level, as Grafana stores an open row),
and a panel wider than the grid is an error at build time rather than a broken screen.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as models

COLUMNS = 24


class LayoutError(ValueError):
    """A panel does not fit the grid."""


class _Placed(cogbuilder.Builder[models.Panel]):
    """A built panel with its final position and id."""

    def __init__(self, panel: models.Panel) -> None:
        self._panel = panel

    def build(self) -> models.Panel:
        return self._panel


class _PlacedRow(cogbuilder.Builder[models.RowPanel]):
    def __init__(self, row: models.RowPanel) -> None:
        self._row = row

    def build(self) -> models.RowPanel:
        return self._row


class Grid:
    """Lays panels out left to right, wrapping to a new line when the next one would not
    fit; a row header always starts a new line."""

    def __init__(self, dashboard: builders.Dashboard) -> None:
        self._dashboard = dashboard
        self._x = 0
        self._y = 0
        self._line_height = 0
        self._next_id = 1

    def _take_id(self) -> int:
        panel_id = self._next_id
        self._next_id += 1
        return panel_id

    def _newline(self) -> None:
        if self._x:
            self._x = 0
            self._y += self._line_height
            self._line_height = 0

    def row(self, title: str) -> None:
        """An expanded row header across the grid."""
        self._newline()
        row = builders.Row(title).build()
        row.collapsed = False
        row.id_val = self._take_id()
        row.grid_pos = models.GridPos(h=1, w=COLUMNS, x=0, y=self._y)
        row.panels = []
        self._dashboard.with_row(_PlacedRow(row))
        self._y += 1

    def add(self, panel: cogbuilder.Builder[models.Panel], width: int, height: int) -> None:
        """Place ``panel`` (``width`` columns, ``height`` grid units)."""
        if not 1 <= width <= COLUMNS or height < 1:
            built = panel.build()
            raise LayoutError(f"panel {built.title!r}: {width}x{height} does not fit the "
                              f"{COLUMNS}-column grid")
        if self._x + width > COLUMNS:
            self._newline()
        built = panel.build()
        built.id_val = self._take_id()
        built.grid_pos = models.GridPos(h=height, w=width, x=self._x, y=self._y)
        self._dashboard.with_panel(_Placed(built))
        self._x += width
        self._line_height = max(self._line_height, height)
        if self._x == COLUMNS:
            self._newline()
