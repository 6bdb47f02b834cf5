"""Profiles as data: YAML files that say what to read and how it becomes metrics.

A profile (``collectors/profiles/<name>.yaml``) lists table columns to walk with GETBULK and
scalars to GET, and for each metric: name, gauge or counter, the column it comes from (with
fallbacks, e.g. 64-bit ifHCInOctets then 32-bit ifInOctets), labels from the row index or
other columns, scaling, enum mapping, a per-row multiplier and a bound for 32-bit wraps.
``include`` merges other profiles; ``select`` (the ``auto`` profile) picks one by
sysObjectID prefix. Everything is parsed and checked once at start-up into the frozen
structures below, so the poll loop never touches text; a file with an error is rejected with
``file: key: reason``. Metric names are an interface: a profile may only map to a metric of
the catalog (:mod:`pubnet.catalog`) that SNMP produces, with the catalog's kind and labels.
See docs/profiles.md for the format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from pubnet import catalog

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"
"""The profiles shipped with pubnet."""

INDEX = "index"
"""In a label's column list: the row's index (the OID suffix, e.g. ``3`` or ``1.4``)."""

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
CORE_SCALARS: tuple[str, ...] = (SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, SYS_NAME)
"""Read in the first GET of every poll, whatever the profile: status, reboot detection
(sysUpTime), ``pubnet_device_info`` and ``auto`` selection need them."""

_OID = re.compile(r"^\.?[0-2](\.(0|[1-9][0-9]*))+$")
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = frozenset({"device", "site", "role", "province", "district", "profile"})


class ProfileError(Exception):
    """A profile that cannot be used: ``file: key: reason`` for each problem."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{f}: {k or '(top level)'}: {r}" for f, k, r in problems))


class MetricKind(StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"


class WalkMode(StrEnum):
    """How a table's columns are fetched.

    ``columns``: one GETBULK walk per column (best for long tables). ``entry``: one walk of
    the whole table entry (ifEntry, ifXEntry) per group of wanted columns, which for the few
    rows of an access point or village gateway is 2-3 PDUs instead of 10. ``auto``: entry
    walks while the device's table is short (``entry_max_rows``), column walks otherwise.
    """

    AUTO = "auto"
    COLUMNS = "columns"
    ENTRY = "entry"


@dataclass(frozen=True, slots=True)
class EntryWalk:
    """One walk of a table entry: ``parent`` OID, the columns (numbers) it yields that the
    profile knows, and the last column number needed."""

    parent: str
    known: tuple[tuple[str, str], ...]
    """``(column number as text, column OID)`` for every profile column under ``parent``."""
    last: int


# -- compiled form (what the poller uses) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """One place a metric's value may come from: a column (or scalar) OID."""

    oid: str
    width: int
    scale: float


@dataclass(frozen=True, slots=True)
class ColumnMetric:
    name: str
    kind: MetricKind
    sources: tuple[Source, ...]
    """Tried in order per row; empty when ``constant`` is set."""
    enum: Mapping[int, float] | None
    constant: float | None
    multiply_by: str | None
    """Column OID whose value multiplies this one (hrStorageAllocationUnits)."""
    bound: str | None
    """Name of a gauge metric in the same table giving the row's speed in bit/s; bounds
    32-bit counter wraps (octet counters)."""
    labels: tuple[tuple[str, tuple[str, ...]], ...]
    """Extra labels of this metric only: name → column OIDs (or ``index``), first non-empty."""


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    labels: tuple[tuple[str, tuple[str, ...]], ...]
    metrics: tuple[ColumnMetric, ...]
    where: tuple[str, str] | None
    """Keep only rows whose column OID equals the text value."""
    max_repetitions: int
    first_walks: tuple[str, ...]
    """Columns walked on every poll (first choices); fallbacks only for rows that lack them."""
    walk: WalkMode = WalkMode.AUTO
    entries: tuple[EntryWalk, ...] = ()
    """For ``walk: auto|entry``: table entries holding two or more first-choice columns,
    walked once as a whole instead of column by column."""
    entry_max_repetitions: int = 64
    entry_max_rows: int = 32
    """``auto`` walks entries while the device's table has at most this many rows."""
    fallback_chains: tuple[tuple[str, ...], ...] = ()
    """Column OID chains (metric sources, label choices) with more than one entry: a later
    column is walked only for rows that lack every earlier one."""
    row_count: str | None = None
    """A scalar holding the table's row count (ifNumber): when it changes, the rows pubnet
    knows from the last walk are stale and the table is walked again."""
    cells: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """Every column OID the row loop reads (metric sources, multipliers, label choices, the
    ``where`` column), each once: a row is handed to the loop as its values in this order
    (None where the row has none), so the loop indexes a list instead of looking columns
    and rows up in dicts."""
    plan: tuple[MetricPlan, ...] = field(init=False, repr=False, compare=False)
    """:attr:`metrics` flattened for the poll's row loop (:data:`MetricPlan`), one per metric."""
    label_cells: tuple[tuple[str, tuple[int, ...]], ...] = field(
        init=False, repr=False, compare=False)
    """:attr:`labels` with each column choice as its position in :attr:`cells` (-1: the
    row index)."""
    where_cell: int = field(init=False, repr=False, compare=False)
    """The position of the ``where`` column in :attr:`cells` (-1: no filter)."""

    def __post_init__(self) -> None:
        cells: dict[str, int] = {}

        def cell(oid: str) -> int:
            return cells.setdefault(oid, len(cells))

        def label_cells(spec: tuple[tuple[str, tuple[str, ...]], ...]
                        ) -> tuple[tuple[str, tuple[int, ...]], ...]:
            return tuple((name, tuple(-1 if oid == INDEX else cell(oid) for oid in choices))
                         for name, choices in spec)

        bounds = {m.bound for m in self.metrics if m.bound is not None}
        plan: list[MetricPlan] = []
        for m in self.metrics:
            first = m.sources[0] if m.sources else None
            plan.append((m.name, m.kind is MetricKind.COUNTER, m.constant,
                         -1 if first is None else cell(first.oid),
                         64 if first is None else first.width,
                         1.0 if first is None else first.scale,
                         tuple((cell(s.oid), s.width, s.scale) for s in m.sources[1:]),
                         m.enum, None if m.multiply_by is None else cell(m.multiply_by),
                         m.bound, m.name in bounds, label_cells(m.labels) or None))
        object.__setattr__(self, "plan", tuple(plan))
        object.__setattr__(self, "label_cells", label_cells(self.labels))
        object.__setattr__(self, "where_cell",
                           -1 if self.where is None else cell(self.where[0]))
        object.__setattr__(self, "cells", tuple(cells))


MetricPlan = tuple[str, bool, float | None, int, int, float, tuple[tuple[int, int, float], ...],
                   Mapping[int, float] | None, int | None, str | None, bool,
                   tuple[tuple[str, tuple[int, ...]], ...] | None]
"""A table metric as the poll's row loop reads it, without attribute lookups: name, whether
a counter, constant value, first source's position in :attr:`Table.cells` (-1 for a
constant), width and scale, the other sources as ``(position, width, scale)``, enum,
multiplier's position, bound (a gauge's name), whether another metric's bound names this
one (its value is kept for the row), extra labels as :attr:`Table.label_cells` (None:
none)."""


@dataclass(frozen=True, slots=True)
class ScalarMetric:
    name: str
    kind: MetricKind
    source: Source
    enum: Mapping[int, float] | None


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    source: str
    description: str
    scalars: tuple[ScalarMetric, ...]
    tables: tuple[Table, ...]
    get_oids: tuple[str, ...]
    """The one GET of every poll: the core system scalars, then the profile's scalars."""


@dataclass(frozen=True, slots=True)
class AutoProfile:
    name: str
    source: str
    choices: tuple[tuple[str, str], ...]
    """``(prefix + ".", profile)`` longest prefix first."""
    default: str


@dataclass(frozen=True, slots=True)
class ProfileSet:
    """All loaded profiles by name."""

    profiles: Mapping[str, Profile]
    auto: Mapping[str, AutoProfile]

    def names(self) -> frozenset[str]:
        return frozenset(self.profiles) | frozenset(self.auto)

    def is_auto(self, name: str) -> bool:
        return name in self.auto

    def get(self, name: str) -> Profile:
        """A concrete profile; for an ``auto`` name, its default. Raises KeyError."""
        if name in self.auto:
            return self.profiles[self.auto[name].default]
        return self.profiles[name]

    def select(self, name: str, sys_object_id: str | None) -> Profile:
        """The profile for a device: ``auto`` names choose by sysObjectID prefix."""
        auto = self.auto.get(name)
        if auto is None:
            return self.profiles[name]
        if sys_object_id:
            oid = sys_object_id.lstrip(".") + "."
            for prefix, profile in auto.choices:
                if oid.startswith(prefix):
                    return self.profiles[profile]
        return self.profiles[auto.default]


# -- file format (validated with pydantic) -------------------------------------------------


def _oid_text(value: object) -> object:
    if isinstance(value, float | int) and not isinstance(value, bool):
        raise ValueError("write OIDs as text (quote OIDs with fewer than three parts)")
    if isinstance(value, str):
        text = value.strip()
        if not _OID.match(text):
            raise ValueError(f"not a numeric OID: {value!r}")
        return text.lstrip(".")
    return value


OidText = Annotated[str, BeforeValidator(_oid_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Fallback(_Strict):
    column: str
    width: Literal[32, 64] | None = None
    scale: float | None = None


class _Metric(_Strict):
    name: str
    type: MetricKind
    column: str | None = None
    scalar: str | None = None
    value: float | None = None
    width: Literal[32, 64] | None = None
    scale: float = 1.0
    enum: dict[int, float] | None = None
    fallback: _Fallback | list[_Fallback] | None = None
    multiply_by: str | None = None
    bound: str | None = None
    labels: dict[str, list[str]] = Field(default_factory=dict)


class _Where(_Strict):
    column: str
    equals: str


class _Table(_Strict):
    columns: dict[str, OidText]
    labels: dict[str, list[str]] = Field(default_factory=dict)
    metrics: list[_Metric]
    where: _Where | None = None
    max_repetitions: int = Field(default=25, ge=1, le=200)
    walk: WalkMode = WalkMode.AUTO
    entry_max_repetitions: int = Field(default=64, ge=1, le=200)
    entry_max_rows: int = Field(default=32, ge=1)
    row_count: OidText | None = None


class _Choice(_Strict):
    prefix: OidText
    profile: str


class _File(_Strict):
    name: str | None = None
    description: str = ""
    include: list[str] = Field(default_factory=list)
    scalars: dict[str, OidText] = Field(default_factory=dict)
    metrics: list[_Metric] = Field(default_factory=list)
    tables: dict[str, _Table] = Field(default_factory=dict)
    select: list[_Choice] | None = None
    default: str | None = None


def _loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def _read(path: Path) -> tuple[str, _File]:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError([(where, "", f"cannot read: {exc.strerror}")]) from None
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else ""
        raise ProfileError([(where, line, str(getattr(exc, "problem", "") or "invalid YAML"))]
                           ) from None
    if not isinstance(data, dict):
        raise ProfileError([(where, "", "a profile must be a mapping")])
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            msg = msg.removeprefix("Value error, ")
            problems.append((where, _loc(err["loc"]), msg))
        raise ProfileError(problems) from None
    name = parsed.name or path.stem
    return name, parsed


class _Compiler:
    """Checks references between keys and builds the frozen profile structures."""

    def __init__(self, files: Mapping[str, tuple[Path, _File]]) -> None:
        self.files = files
        self.problems: list[tuple[str, str, str]] = []

    def fail(self, name: str, key: str, reason: str) -> None:
        self.problems.append((str(self.files[name][0]), key, reason))

    def _check_metric(self, name: str, key: str, m: _Metric,
                      labels: Iterable[tuple[str, str]] = ()) -> None:
        """The metric is one the catalog says SNMP produces, of the catalog's kind, and
        each ``(key, label)`` of ``labels`` is one of its labels there."""
        if not _METRIC.match(m.name):
            self.fail(name, f"{key}.name", f"invalid metric name {m.name!r}")
            return
        known = catalog.lookup(m.name)
        if known is None:
            self.fail(name, f"{key}.name", f"{m.name} is not in pubnet's metric catalog "
                                           "(pubnet/catalog.py; docs/metrics.md lists it)")
            return
        if catalog.Producer.SNMP not in known.producers:
            self.fail(name, f"{key}.name", f"{m.name} is not an SNMP metric (the catalog "
                                           f"has it from {', '.join(known.producers)})")
            return
        kind = MetricKind.COUNTER if known.kind is catalog.Kind.COUNTER else MetricKind.GAUGE
        if m.type is not kind:
            article = "an" if known.kind is catalog.Kind.INFO else "a"
            self.fail(name, f"{key}.type", f"{m.name} is {article} {known.kind} in the metric "
                                           f"catalog, so its type is {kind}, not {m.type}")
        for label_key, label in labels:
            if _LABEL.match(label) and label not in RESERVED_LABELS and \
                    label not in known.labels:
                self.fail(name, label_key, f"{m.name} has no label {label!r} in the metric "
                                           f"catalog (it has {', '.join(known.labels)})")

    def _label_columns(self, name: str, key: str, columns: Mapping[str, str],
                       labels: Mapping[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        out = []
        for label, choices in labels.items():
            if not _LABEL.match(label) or label in RESERVED_LABELS:
                self.fail(name, f"{key}.{label}", "invalid or reserved label name")
                continue
            if not choices:
                self.fail(name, f"{key}.{label}", "needs at least one column or 'index'")
            resolved = []
            for choice in choices:
                if choice == INDEX:
                    resolved.append(INDEX)
                elif choice in columns:
                    resolved.append(columns[choice])
                else:
                    self.fail(name, f"{key}.{label}", f"unknown column {choice!r}")
            out.append((label, tuple(resolved)))
        return tuple(out)

    def _table_metric(self, name: str, key: str, m: _Metric, table: _Table,
                      label_keys: Iterable[tuple[str, str]]) -> ColumnMetric | None:
        self._check_metric(name, key, m, label_keys)
        cols = table.columns
        sources: list[Source] = []
        if m.value is not None:
            if m.column is not None:
                self.fail(name, key, "give either column or value, not both")
        elif m.column is None:
            self.fail(name, key, "a table metric needs a column (or a constant value)")
            return None
        else:
            fallbacks = m.fallback if isinstance(m.fallback, list) else (
                [m.fallback] if m.fallback else [])
            chain = [_Fallback(column=m.column, width=m.width, scale=m.scale), *fallbacks]
            for i, fb in enumerate(chain):
                where = key if i == 0 else f"{key}.fallback"
                if fb.column not in cols:
                    self.fail(name, f"{where}.column", f"unknown column {fb.column!r}")
                    continue
                width = fb.width or (m.width if i == 0 else 32) or 64
                if m.type is MetricKind.COUNTER and (fb.width or (m.width if i == 0 else None)
                                                     ) is None:
                    self.fail(name, f"{where}.width", "a counter needs width: 32 or 64")
                scale = fb.scale if fb.scale is not None else (m.scale if i == 0 else 1.0)
                sources.append(Source(cols[fb.column], width, scale))
        if m.type is MetricKind.COUNTER and (m.enum or m.value is not None):
            self.fail(name, key, "a counter cannot have enum or a constant value")
        multiply = None
        if m.multiply_by is not None:
            if m.multiply_by not in cols:
                self.fail(name, f"{key}.multiply_by", f"unknown column {m.multiply_by!r}")
            else:
                multiply = cols[m.multiply_by]
        if m.bound is not None and not any(
                o.name == m.bound and o.type is MetricKind.GAUGE for o in table.metrics):
            self.fail(name, f"{key}.bound", f"no gauge {m.bound!r} in this table")
        if m.scalar is not None:
            self.fail(name, f"{key}.scalar", "scalars go in the top-level metrics list")
        labels = self._label_columns(name, f"{key}.labels", cols, m.labels)
        return ColumnMetric(m.name, m.type, tuple(sources), m.enum, m.value, multiply, m.bound,
                            labels)

    def _table(self, name: str, tname: str, t: _Table) -> Table:
        key = f"tables.{tname}"
        labels = self._label_columns(name, f"{key}.labels", t.columns, t.labels)
        metrics = []
        for i, m in enumerate(t.metrics):
            mkey = f"{key}.metrics[{i}]"
            label_keys = [(f"{key}.labels.{label}", label) for label in t.labels]
            label_keys += [(f"{mkey}.labels.{label}", label) for label in m.labels]
            cm = self._table_metric(name, mkey, m, t, label_keys)
            if cm is not None:
                metrics.append(cm)
        where = None
        if t.where is not None:
            if t.where.column not in t.columns:
                self.fail(name, f"{key}.where.column", f"unknown column {t.where.column!r}")
            else:
                where = (t.columns[t.where.column], t.where.equals)
        first: list[str] = []
        for m2 in metrics:
            if m2.sources:
                first.append(m2.sources[0].oid)
            if m2.multiply_by:
                first.append(m2.multiply_by)
            for _, choices in m2.labels:
                first.extend(c for c in choices[:1] if c != INDEX)
        for _, choices in labels:
            first.extend(c for c in choices[:1] if c != INDEX)
        if where is not None:
            first.insert(0, where[0])
        if not metrics:
            self.fail(name, f"{key}.metrics", "a table needs at least one metric")
        first = list(dict.fromkeys(first))
        groups: dict[str, list[str]] = {}
        for oid in first:
            groups.setdefault(oid.rsplit(".", 1)[0], []).append(oid)
        entries = []
        for parent, oids in groups.items():
            if len(oids) < 2:
                continue
            known = tuple(sorted(
                ((o.rsplit(".", 1)[1], o) for o in t.columns.values()
                 if o.rsplit(".", 1)[0] == parent), key=lambda item: int(item[0])))
            entries.append(EntryWalk(parent, known,
                                     max(int(o.rsplit(".", 1)[1]) for o in oids)))
        chains: list[tuple[str, ...]] = []
        for m3 in metrics:
            chains.append(tuple(src.oid for src in m3.sources))
            chains.extend(choices for _, choices in m3.labels)
        chains.extend(choices for _, choices in labels)
        chains = [c for c in dict.fromkeys(
            tuple(o for o in chain if o != INDEX) for chain in chains) if len(c) > 1]
        return Table(tname, labels, tuple(metrics), where, t.max_repetitions,
                     tuple(first), t.walk, tuple(entries), t.entry_max_repetitions,
                     t.entry_max_rows, tuple(chains), t.row_count)

    def _scalars(self, name: str, f: _File) -> list[ScalarMetric]:
        out = []
        for i, m in enumerate(f.metrics):
            key = f"metrics[{i}]"
            self._check_metric(name, key, m)
            if m.scalar is None or m.scalar not in f.scalars:
                self.fail(name, f"{key}.scalar", f"unknown scalar {m.scalar!r}")
                continue
            if m.column or m.fallback or m.multiply_by or m.bound or m.labels:
                self.fail(name, key, "a scalar metric takes only scalar, type, width, scale, "
                                     "enum")
            if m.type is MetricKind.COUNTER and m.width is None:
                self.fail(name, f"{key}.width", "a counter needs width: 32 or 64")
            out.append(ScalarMetric(m.name, m.type,
                                    Source(f.scalars[m.scalar], m.width or 64, m.scale),
                                    m.enum))
        return out

    def compile(self) -> ProfileSet:
        profiles: dict[str, Profile] = {}
        autos: dict[str, AutoProfile] = {}
        for name, (path, f) in self.files.items():
            if f.select is not None:
                if f.tables or f.metrics or f.scalars or f.include:
                    self.fail(name, "select", "an auto profile only selects: no tables, "
                                              "metrics, scalars or include")
                choices = []
                for i, c in enumerate(f.select):
                    if c.profile not in self.files or self.files[c.profile][1].select:
                        self.fail(name, f"select[{i}].profile",
                                  f"unknown profile {c.profile!r}")
                    choices.append((c.prefix + ".", c.profile))
                if f.default is None or f.default not in self.files or (
                        self.files[f.default][1].select is not None):
                    self.fail(name, "default", f"unknown profile {f.default!r}")
                choices.sort(key=lambda c: -len(c[0]))
                autos[name] = AutoProfile(name, str(path), tuple(choices), f.default or "")
                continue
            if f.default is not None:
                self.fail(name, "default", "default is for auto profiles (with select)")
            scalars: list[ScalarMetric] = []
            tables: list[Table] = []
            for inc_name in self._includes(name, [], "include"):
                inc = self.files[inc_name][1]
                scalars.extend(self._scalars(inc_name, inc))
                tables.extend(self._table(inc_name, t, tb) for t, tb in inc.tables.items())
            get_oids = tuple(dict.fromkeys((*CORE_SCALARS, *(s.source.oid for s in scalars))))
            profiles[name] = Profile(name, str(path), f.description, tuple(scalars),
                                     tuple(tables), get_oids)
        if self.problems:
            raise ProfileError(self.problems)
        return ProfileSet(profiles, autos)

    def _includes(self, name: str, stack: list[str], key: str) -> list[str]:
        """``name`` and everything it includes, depth first, each once."""
        if name in stack:
            self.fail(stack[0], key, f"include cycle: {' → '.join([*stack, name])}")
            return []
        order: list[str] = []
        f = self.files[name][1]
        for i, inc in enumerate(f.include):
            if inc not in self.files or self.files[inc][1].select is not None:
                self.fail(name, f"include[{i}]", f"unknown profile {inc!r}")
                continue
            for n in self._includes(inc, [*stack, name], key):
                if n not in order:
                    order.append(n)
        if name not in order:
            order.append(name)
        return order


def load_profiles(*folders: Path) -> ProfileSet:
    """Load every ``*.yaml`` in ``folders`` (default: the shipped profiles); later folders
    override earlier ones by name. Raises :class:`ProfileError` listing every problem."""
    files: dict[str, tuple[Path, _File]] = {}
    problems: list[tuple[str, str, str]] = []
    for folder in folders or (PROFILES_DIR,):
        paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
        if not folder.is_dir():
            problems.append((str(folder), "", "not a folder"))
        for path in paths:
            try:
                name, parsed = _read(path)
            except ProfileError as exc:
                problems.extend(exc.problems)
                continue
            files[name] = (path, parsed)
    if problems:
        raise ProfileError(problems)
    return _Compiler(files).compile()
