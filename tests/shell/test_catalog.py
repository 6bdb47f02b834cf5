"""The metric catalog: well formed, the only place names are spelled, and in step with the
docs' metric tables both ways (names, types, label names)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pubnet import catalog
from pubnet.catalog import Kind

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = ("metrics.md", "prometheus.md", "mqtt.md", "influxdb.md", "alerting.md", "reports.md")
"""The pages with metric tables."""
SUBSET_PAGES = frozenset({"mqtt.md"})
"""Pages that list the labels one collector writes, a subset of the catalog's."""
PRODUCT_PACKAGES = ("pubnet", "collectors", "exporters", "alerting")
"""Where a metric name must come from the catalog (the dashboards' queries are PromQL text,
checked against the catalog by their lint)."""

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
NAME_IN_CELL = re.compile(r"`(pubnet_[a-z0-9_]+)(?:\{([^}`]*)\})?")


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a metric table: where, the names in its first cell, its type and labels
    (None when the table has no such column and the name no ``{labels}``)."""

    where: str
    names: tuple[str, ...]
    kind: str | None
    labels: frozenset[str] | None


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _labels(cell: str) -> frozenset[str]:
    if "`" in cell:  # "`site`, `role`" or "`ifname` (`wan` for a plain number)"
        found = (re.search(r"`([A-Za-z_][A-Za-z0-9_]*)`", part) for part in cell.split(","))
        return frozenset(m.group(1) for m in found if m is not None)
    return frozenset(p.strip() for p in cell.split(",") if p.strip() not in ("", "—"))


def doc_rows(page: str) -> Iterator[Row]:
    """The rows of the tables whose first column is ``metric`` or ``series``."""
    header: list[str] | None = None
    for number, line in enumerate((DOCS / page).read_text(encoding="utf-8").splitlines(), 1):
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if header[0] not in ("metric", "series") or set(line) <= set("|-: "):
            continue
        found = NAME_IN_CELL.findall(cells[0])
        if not found:
            continue
        kind = cells[header.index("type")] if "type" in header else None
        labels: frozenset[str] | None = None
        if "labels" in header:
            labels = _labels(cells[header.index("labels")])
        elif found[0][1] or kind is not None:
            labels = _labels(found[0][1])
        yield Row(f"docs/{page}:{number}", tuple(name for name, _ in found), kind, labels)


def doc_kind(cell: str) -> Kind:
    """A docs type cell as a catalog kind: ``gauge 1`` is an info metric."""
    if cell == "gauge 1":
        return Kind.INFO
    return Kind(cell.split()[0])


def test_catalog_records_are_well_formed() -> None:
    names = [m.name for m in catalog.METRICS]
    assert len(names) == len(set(names))
    for m in catalog.METRICS:
        assert METRIC_NAME.match(m.name) and m.name.startswith("pubnet_"), m.name
        assert (m.kind is Kind.COUNTER) == m.name.endswith("_total"), m.name
        assert m.kind is not Kind.INFO or m.name.endswith("_info"), m.name
        assert m.kind is not Kind.HISTOGRAM or not m.name.endswith(
            catalog.HISTOGRAM_SUFFIXES), m.name
        if m.unit:
            assert m.name.endswith((f"_{m.unit}", f"_{m.unit}_total")), m.name
        assert m.help.strip() and "\n" not in m.help and m.help.endswith("."), m.name
        assert len(set(m.labels)) == len(m.labels), m.name
        assert all(LABEL_NAME.match(label) for label in m.labels), m.name
        assert m.producers and len(set(m.producers)) == len(m.producers), m.name
        assert catalog.lookup(m.name) is m


def test_every_catalog_metric_is_in_a_docs_table() -> None:
    documented = {name for page in PAGES for row in doc_rows(page) for name in row.names}
    assert sorted({m.name for m in catalog.METRICS} - documented) == []


def test_every_name_the_docs_mention_is_in_the_catalog() -> None:
    known = catalog.series_names()
    unknown = []
    for page in PAGES:
        text = (DOCS / page).read_text(encoding="utf-8")
        unknown += [f"docs/{page}: {name}"
                    for name in sorted(set(re.findall(r"\bpubnet_[a-z0-9_]+", text)))
                    if name not in known]
    assert unknown == []


def table_problems(page: str) -> list[str]:
    """Rows of ``page`` whose names, types or labels disagree with the catalog."""
    problems = []
    for row in doc_rows(page):
        for name in row.names:
            metric = catalog.lookup(name)
            if metric is None:
                problems.append(f"{row.where}: {name} is not in the catalog")
                continue
            if row.kind is not None and doc_kind(row.kind) is not metric.kind:
                problems.append(f"{row.where}: {name} is a {row.kind}, the catalog says "
                                f"{metric.kind}")
            if row.labels is None:
                continue
            labels = set(metric.labels) - {catalog.LABEL_DEVICE}
            documented = row.labels - {catalog.LABEL_DEVICE}
            if page in SUBSET_PAGES:
                if not documented <= labels:
                    problems.append(f"{row.where}: {name} has no labels "
                                    f"{sorted(documented - labels)} in the catalog")
            elif documented != labels:
                problems.append(f"{row.where}: {name} labels {sorted(documented)}, the "
                                f"catalog says {sorted(labels)}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=PAGES)
def test_docs_tables_give_the_catalog_kind_and_labels(page: str) -> None:
    assert list(doc_rows(page)), f"no metric table in docs/{page}"
    assert table_problems(page) == []


def test_the_docs_check_sees_a_wrong_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    """The table reader is not vacuous: a wrong type, a missing label and an unknown name
    are reported."""
    (tmp_path / "metrics.md").write_text(
        "| metric | type | labels |\n|---|---|---|\n"
        "| `pubnet_interface_receive_bytes_total` | gauge | device |\n"
        "| `pubnet_interface_recieve_bytes_total` | counter | device, ifname |\n",
        encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.DOCS", tmp_path)
    assert table_problems("metrics.md") == [
        "docs/metrics.md:3: pubnet_interface_receive_bytes_total is a gauge, the catalog "
        "says counter",
        "docs/metrics.md:3: pubnet_interface_receive_bytes_total labels [], the catalog says "
        "['ifname']",
        "docs/metrics.md:4: pubnet_interface_recieve_bytes_total is not in the catalog",
    ]


def _name_literals(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                node.value in catalog.BY_NAME:
            yield node.lineno, node.value


def test_metric_names_are_spelled_only_in_the_catalog() -> None:
    """Producers and consumers import the names: a literal elsewhere is a second copy."""
    catalog_file = ROOT / "pubnet" / "catalog.py"
    found = [f"{path.relative_to(ROOT)}:{line}: {name}"
             for package in PRODUCT_PACKAGES
             for path in sorted((ROOT / package).rglob("*.py")) if path != catalog_file
             for line, name in _name_literals(path)]
    assert found == []


def test_device_up_and_info_carry_the_catalog_labels() -> None:
    """Every collector labels ``pubnet_device_up``/``_info`` through collectors.identity (the
    exporter derives no second ``pubnet_device_up``): as the catalog says."""
    from collectors.identity import device_labels, info_labels
    from tests.exporters.helpers import small_inventory

    inventory = small_inventory()
    device = next(iter(inventory.devices.values()))
    up, info = device_labels(inventory, device)
    device_only = {catalog.LABEL_DEVICE}
    assert [k for k, _ in up] == [x for x in catalog.BY_NAME[catalog.DEVICE_UP].labels
                                  if x not in device_only]
    assert [k for k, _ in info_labels(info, "n", "d")] == [
        x for x in catalog.BY_NAME[catalog.DEVICE_INFO].labels if x not in device_only]
