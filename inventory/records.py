"""Turning cells of text into :class:`Site`, :class:`Device` and :class:`Link` records.

Both file formats end up here: a CSV row or a YAML mapping becomes a sequence of cell
texts in column order. Each kind has two parsers that must agree:

* the *row* parser handles one row and says exactly what is wrong with it, cell by cell;
* the *column* parser handles a whole clean file at once, doing its per-cell work in C
  (``map`` over builtins and dict lookups), and gives up (returns None) at the first
  sign of trouble so the caller can fall back to the row parser for precise problems.

A national inventory is ~600,000 rows and must load in a couple of seconds, which the
row parsers alone cannot do; the column parsers exist only for speed. Tests check that
both give identical records for clean input.
"""

from __future__ import annotations

import dataclasses
import math
import socket
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Literal, TypeAlias, TypeVar

from inventory.address import parse_address
from inventory.geography import AreaLevel, area_names
from inventory.model import Device, Link, Medium, Role, Site, SiteKind
from inventory.problems import quoted

__all__ = [
    "BOUNDED_COLUMNS",
    "COLUMNS",
    "DEVICE_COLUMNS",
    "DEVICE_OPTIONAL_COLUMNS",
    "FILE_NAMES",
    "KINDS",
    "LINK_COLUMNS",
    "MAX_CAPACITY_BPS",
    "MAX_TEXT",
    "OPTIONAL_COLUMNS",
    "SITE_COLUMNS",
    "FieldErrors",
    "Record",
    "RecordKind",
    "column_parser",
    "row_parser",
]

RecordKind: TypeAlias = Literal["site", "device", "link"]
KINDS: tuple[RecordKind, ...] = ("site", "device", "link")
Record: TypeAlias = Site | Device | Link

# Column names are an interface shared with planners' spreadsheets: never rename them.
# The id column comes first in each.
SITE_COLUMNS = (
    "site_id",
    "name",
    "kind",
    "province_code",
    "district_code",
    "subdistrict_code",
    "village",
    "lat",
    "lon",
)
DEVICE_COLUMNS = ("device_id", "site_id", "role", "address", "profile", "credential", "upstream")
DEVICE_OPTIONAL_COLUMNS = ("province_code",)
"""Columns a devices.csv may leave out (older files, and every site-bound device, do)."""
LINK_COLUMNS = (
    "link_id",
    "a_device",
    "a_interface",
    "b_device",
    "b_interface",
    "medium",
    "capacity_bps",
    "owner",
)
COLUMNS: Mapping[RecordKind, tuple[str, ...]] = {
    "site": SITE_COLUMNS,
    "device": DEVICE_COLUMNS + DEVICE_OPTIONAL_COLUMNS,
    "link": LINK_COLUMNS,
}
"""Every column a parser takes, in the order it takes them."""
OPTIONAL_COLUMNS: Mapping[RecordKind, frozenset[str]] = {
    "site": frozenset(),
    "device": frozenset(DEVICE_OPTIONAL_COLUMNS),
    "link": frozenset(),
}
"""Columns of :data:`COLUMNS` a file may omit; their cells then read as empty."""
FILE_NAMES: Mapping[RecordKind, str] = {
    "site": "sites.csv",
    "device": "devices.csv",
    "link": "links.csv",
}

MAX_TEXT = 200
"""Longest id, name, village, interface, credential or owner, in characters. Every one of
them ends up in log lines, messages to technicians or /metrics labels; a 20 MB site name
must be an error here, not a 20 MB scrape."""
BOUNDED_COLUMNS: Mapping[RecordKind, tuple[str, ...]] = {
    "site": ("site_id", "name", "village"),
    "device": ("device_id", "credential"),
    "link": ("link_id", "a_interface", "b_interface", "owner"),
}
"""The free-text columns :data:`MAX_TEXT` applies to. The others are bounded by what they
must match: kinds, roles and media are from a list, numbers and addresses must parse, and
codes, profiles and references must name something that exists (validate() says so)."""
MAX_CAPACITY_BPS = 2**63 - 1
"""A link capacity must fit the signed 64-bit integers of InfluxDB and Prometheus' clients."""

FieldErrors: TypeAlias = list[tuple[str, str]]
"""``(column, message)`` pairs for one row."""

RowParser: TypeAlias = Callable[[Sequence[str]], Record | FieldErrors]
ColumnParser: TypeAlias = Callable[[Sequence[list[str]]], Sequence[Record] | None]

# Plain dicts (their .get is what the column parsers map over), never mutated.
_SITE_KINDS: Mapping[str, SiteKind] = {k.value: k for k in SiteKind}
_ROLES: Mapping[str, Role] = {r.value: r for r in Role}
_MEDIA: Mapping[str, Medium] = {m.value: m for m in Medium}
_NO_NAME = ("", "")  # unknown codes leave names empty; validate() reports them
AREA_LEVELS: tuple[AreaLevel, ...] = ("province", "district", "subdistrict")
"""A site's area codes, in column order; each gives the site a Thai and an English name."""


def _enum_message(column: str, text: str, allowed: Mapping[str, object]) -> str:
    choices = ", ".join(allowed)
    if not text:
        return f"{column} is required (one of: {choices})"
    return f"unknown {column} {quoted(text)} (expected one of: {choices})"


def _coordinate(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _coordinate_message(column: str, text: str) -> str:
    if not text:
        return f"{column} is required"
    return f"{column} {quoted(text)} is not a number (decimal degrees, e.g. 18.7883)"


def _is_capacity(text: str) -> bool:
    # isdigit() alone accepts Thai and other Unicode digits; int() would too, silently.
    # The length test first: int() refuses more than 4,300 digits with a ValueError.
    return (text.isdigit() and text.isascii() and len(text) <= 19
            and 0 < int(text) <= MAX_CAPACITY_BPS)


def _long_texts(columns: Sequence[str], texts: Sequence[str]) -> FieldErrors:
    """``(column, message)`` for each text longer than :data:`MAX_TEXT` characters."""
    return [
        (column, f"{column} is {len(text):,} characters long; at most {MAX_TEXT} are allowed")
        for column, text in zip(columns, texts, strict=True)
        if len(text) > MAX_TEXT
    ]


def _within_bounds(*columns: list[str]) -> bool:
    """Whether no cell of these whole columns is longer than :data:`MAX_TEXT`."""
    return all(not column or len(max(column, key=len)) <= MAX_TEXT for column in columns)


# -- one row at a time -----------------------------------------------------------------


def parse_site_row(v: Sequence[str]) -> Site | FieldErrors:
    (site_id, name, kind_text, province_code, district_code, subdistrict_code, village,
     lat_text, lon_text) = map(str.strip, v)
    kind = _SITE_KINDS.get(kind_text)
    lat = _coordinate(lat_text)
    lon = _coordinate(lon_text)
    too_long = _long_texts(BOUNDED_COLUMNS["site"], (site_id, name, village))
    if not site_id or kind is None or lat is None or lon is None or too_long:
        errors: FieldErrors = too_long
        if not site_id:
            errors.append(("site_id", "site_id is required"))
        if kind is None:
            errors.append(("kind", _enum_message("kind", kind_text, _SITE_KINDS)))
        if lat is None:
            errors.append(("lat", _coordinate_message("lat", lat_text)))
        if lon is None:
            errors.append(("lon", _coordinate_message("lon", lon_text)))
        errors.sort(key=lambda e: SITE_COLUMNS.index(e[0]))
        return errors
    codes = (province_code, district_code, subdistrict_code)
    names = (text for level, code in zip(AREA_LEVELS, codes, strict=True)
             for text in area_names(level).get(code, _NO_NAME))
    return Site(site_id, name, kind, *codes, village, lat, lon, *names)


def parse_device_row(v: Sequence[str]) -> Device | FieldErrors:
    device_id = v[0].strip()
    role_text = v[2].strip()
    address = v[3].strip()
    role = _ROLES.get(role_text)
    address_error = ""
    host = ""
    port: int | None = None
    try:
        host, port = parse_address(address)
    except ValueError as exc:
        address_error = str(exc)
    credential = v[5].strip()
    too_long = _long_texts(BOUNDED_COLUMNS["device"], (device_id, credential))
    if not device_id or role is None or address_error or too_long:
        errors: FieldErrors = too_long
        if not device_id:
            errors.append(("device_id", "device_id is required"))
        if role is None:
            errors.append(("role", _enum_message("role", role_text, _ROLES)))
        if address_error:
            errors.append(("address", address_error))
        errors.sort(key=lambda e: DEVICE_COLUMNS.index(e[0]))
        return errors
    return Device(
        device_id, v[1].strip(), role, host, port, v[4].strip(), credential, v[6].strip(),
        v[7].strip(),
    )


def parse_link_row(v: Sequence[str]) -> Link | FieldErrors:
    (link_id, a_device, a_interface, b_device, b_interface, medium_text, capacity_text,
     owner) = map(str.strip, v)
    medium = _MEDIA.get(medium_text)
    valid_capacity = _is_capacity(capacity_text)
    too_long = _long_texts(BOUNDED_COLUMNS["link"], (link_id, a_interface, b_interface, owner))
    if (not (link_id and a_device and a_interface and b_device and valid_capacity)
            or not medium or too_long):
        errors: FieldErrors = too_long
        for column, text in (("link_id", link_id), ("a_device", a_device), ("b_device", b_device)):
            if not text:
                errors.append((column, f"{column} is required"))
        if not a_interface:
            errors.append(("a_interface", "a_interface is required (the link is watched on it)"))
        if medium is None:
            errors.append(("medium", _enum_message("medium", medium_text, _MEDIA)))
        if not valid_capacity:
            errors.append(
                (
                    "capacity_bps",
                    f"capacity_bps {quoted(capacity_text)} is not a positive whole number of "
                    "bits per second up to 2^63-1 (e.g. 1000000000 for 1 Gbps)"
                    if capacity_text
                    else "capacity_bps is required (bits per second, e.g. 1000000000)",
                )
            )
        errors.sort(key=lambda e: LINK_COLUMNS.index(e[0]))
        return errors
    return Link(
        link_id,
        a_device,
        a_interface,
        b_device,
        b_interface,
        medium,
        int(capacity_text),
        owner,
    )


def row_parser(kind: RecordKind) -> RowParser:
    if kind == "site":
        return parse_site_row
    return parse_device_row if kind == "device" else parse_link_row


# -- a whole clean file at once --------------------------------------------------------
# Columns arrive stripped. Any doubt -> None; the row parsers then report precisely.

_R = TypeVar("_R", Site, Device, Link)


def build_columnwise(cls: type[_R], count: int, columns: Sequence[Iterable[object]]) -> list[_R]:
    """``count`` instances of the frozen slots dataclass ``cls``, one field at a time.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``,
    a Python-level call per field per record -- most of the load time of a national
    inventory. Setting one field of every record through the slot's descriptor keeps
    the loop in C and is 2-3x faster. The records are ordinary, equal to ones built with
    ``cls(...)`` (tests check this); this is only valid because the model classes have
    no ``__post_init__`` and ``columns`` covers every field, in declaration order.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    if len(columns) != len(names) or "__post_init__" in vars(cls):
        raise TypeError(f"cannot build {cls.__name__} column by column")
    records: list[_R] = list(map(object.__new__, repeat(cls, count)))
    for name, column in zip(names, columns, strict=True):
        deque(map(vars(cls)[name].__set__, records, column), maxlen=0)
    return records


def _names(level: AreaLevel, codes: list[str]) -> tuple[list[str], list[str]]:
    found = list(map(area_names(level).get, codes, repeat(_NO_NAME)))
    return list(map(itemgetter(0), found)), list(map(itemgetter(1), found))


def sites_from_columns(columns: Sequence[list[str]]) -> Sequence[Record] | None:
    ids, names, kind_texts, provinces, districts, subdistricts, villages, lats, lons = columns
    kinds = list(map(_SITE_KINDS.get, kind_texts))
    if "" in ids or None in kinds or not _within_bounds(ids, names, villages):
        return None
    try:
        lat = list(map(float, lats))
        lon = list(map(float, lons))
    except ValueError:
        return None
    if not (all(map(math.isfinite, lat)) and all(map(math.isfinite, lon))):
        return None
    codes = (provinces, districts, subdistricts)
    area = [texts for level, column in zip(AREA_LEVELS, codes, strict=True)
            for texts in _names(level, column)]
    return build_columnwise(Site, len(ids), (ids, names, kinds, *codes, villages, lat, lon,
                                              *area))


def devices_from_columns(columns: Sequence[list[str]]) -> Sequence[Record] | None:
    ids, sites, role_texts, addresses, profiles, credentials, upstreams, provinces = columns
    roles = list(map(_ROLES.get, role_texts))
    if "" in ids or None in roles or not _within_bounds(ids, credentials):
        return None
    hosts: Iterable[str]
    ports: Iterable[int | None]
    try:
        # Nearly every address is a bare IPv4 address: check them all in C.
        all(map(socket.inet_pton, repeat(socket.AF_INET), addresses))
        hosts, ports = addresses, repeat(None)
    except OSError:
        try:
            parsed = list(map(parse_address, addresses))
        except ValueError:
            return None
        hosts = list(map(itemgetter(0), parsed))
        ports = list(map(itemgetter(1), parsed))
    return build_columnwise(
        Device,
        len(ids),
        (ids, sites, roles, hosts, ports, profiles, credentials, upstreams, provinces),
    )


def links_from_columns(columns: Sequence[list[str]]) -> Sequence[Record] | None:
    ids, a_devices, a_interfaces, b_devices, b_interfaces, medium_texts, capacities, owners = (
        columns
    )
    media = list(map(_MEDIA.get, medium_texts))
    if "" in ids or "" in a_devices or "" in a_interfaces or "" in b_devices or None in media:
        return None
    if not _within_bounds(ids, a_interfaces, b_interfaces, owners):
        return None
    if not (all(map(str.isdigit, capacities)) and "".join(capacities).isascii()):
        return None
    try:
        capacity = list(map(int, capacities))
    except ValueError:  # more than 4,300 digits
        return None
    if 0 in capacity or (capacity and max(capacity) > MAX_CAPACITY_BPS):
        return None
    return build_columnwise(
        Link,
        len(ids),
        (ids, a_devices, a_interfaces, b_devices, b_interfaces, media, capacity, owners),
    )


def column_parser(kind: RecordKind) -> ColumnParser:
    if kind == "site":
        return sites_from_columns
    return devices_from_columns if kind == "device" else links_from_columns
