"""Repaint only the DataTable cells that changed: Textual's ``update_cell`` re-renders the whole table.

Relies on DataTable's private ``_data`` and render caches (``_cell_render_cache``,
``_row_render_cache``, ``_row_renderable_cache``, ``_line_cache``) and
``_row_locations``: the values are written in place and only the changed cells'
and rows' cache entries are evicted. When a Textual upgrade renames them this
raises AttributeError and :class:`~opsconsole.ui.widgets.pane_table.PaneTable`
falls back to ``update_cell``; ``tests/test_textual_patches.py`` says which moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


def update_cells_in_place(table: DataTable[Any], changes: Mapping[str, Mapping[str, Any]]) -> None:
    """Set ``changes[row_key][column_key] = value`` in ``table`` and evict just those cells from its caches."""
    data: dict[RowKey, dict[ColumnKey, Any]] = table._data
    cell_cache, row_cache = table._cell_render_cache, table._row_render_cache
    renderable_cache, locations = table._row_renderable_cache, table._row_locations
    touched_cells: set[tuple[RowKey, ColumnKey]] = set()
    touched_rows: set[RowKey] = set()
    touched_indexes: set[int] = set()
    for row, cells in changes.items():
        row_key = RowKey(row)
        row_data = data[row_key]
        for column, value in cells.items():
            column_key = ColumnKey(column)
            row_data[column_key] = value
            touched_cells.add((row_key, column_key))
        touched_rows.add(row_key)
        touched_indexes.add(locations.get(row_key))
    # Cache keys: cell (row_key, column_key, ...), row (row_key, line_no, ...),
    # renderables (update_count, row_index); lines are keyed by screen line, cheap to rebuild.
    for key in [k for k in cell_cache.keys() if (k[0], k[1]) in touched_cells]:
        cell_cache.discard(key)
    for key in [k for k in row_cache.keys() if k[0] in touched_rows]:
        row_cache.discard(key)
    for key in [k for k in renderable_cache.keys() if k[1] in touched_indexes]:
        renderable_cache.discard(key)
    table._line_cache.clear()
    table.refresh()
