"""Loading an inventory: a folder of three CSV files or one YAML file.

The loader reports what stops a single row from being read -- missing files or columns,
unknown kinds, roles and media, numbers and addresses that do not parse, duplicate ids
-- and :func:`inventory.validate.validate` adds what needs other rows or reference
data. A row with any problem is kept out of the inventory, so everything in it is well
formed, and its id is remembered so that rows referring to it get no second, misleading
"unknown id" error.
"""

from __future__ import annotations

from pathlib import Path

from inventory.csv_reader import read_csv_file
from inventory.gc_pause import gc_paused
from inventory.model import Inventory
from inventory.records import (
    COLUMNS,
    DEVICE_COLUMNS,
    FILE_NAMES,
    KINDS,
    LINK_COLUMNS,
    SITE_COLUMNS,
    RecordKind,
)
from inventory.result import LoadResult, SourceLocations
from inventory.yaml_reader import read_yaml_file

__all__ = [
    "COLUMNS",
    "DEVICE_COLUMNS",
    "FILE_NAMES",
    "LINK_COLUMNS",
    "SITE_COLUMNS",
    "InventoryError",
    "LoadResult",
    "RecordKind",
    "SourceLocations",
    "load_inventory",
]

_YAML_SUFFIXES = (".yaml", ".yml")


class InventoryError(Exception):
    """The path cannot be an inventory at all: it is missing, or neither a folder nor a
    YAML file. Problems *inside* an inventory are returned, never raised, so that all of
    them can be reported at once."""


def load_inventory(path: str | Path) -> LoadResult:
    """Read an inventory folder (``sites.csv``, ``devices.csv``, optional ``links.csv``)
    or a ``.yaml``/``.yml`` file with ``sites``, ``devices`` and ``links`` lists.

    Problems in the content never raise; they are collected in ``LoadResult.problems``.
    Pass the result to :func:`inventory.validate.validate` for the complete list.

    Raises:
        InventoryError: ``path`` does not exist or is neither a folder nor a YAML file.
    """
    source = Path(path)
    result = LoadResult(Inventory(source=str(path)))
    with gc_paused():
        if source.is_dir():
            for kind in KINDS:
                read_csv_file(result, kind, source / FILE_NAMES[kind], required=kind != "link")
        elif source.is_file() and source.suffix.lower() in _YAML_SUFFIXES:
            read_yaml_file(result, source)
        elif not source.exists():
            raise InventoryError(f"{path}: no such file or folder")
        else:
            raise InventoryError(
                f"{path}: not an inventory: expected a folder with sites.csv and devices.csv "
                "(links.csv optional), or a .yaml/.yml file"
            )
    return result
