"""Checking that an inventory makes sense as a whole, reporting every problem at once.

A planner fixing a 100,000-row spreadsheet wants the whole list, not one error per run,
so nothing here stops at the first problem. The loader has already reported the rows it
could not read (and left them out); this module checks what needs other rows or
reference data: references between records, the shape of the upstream forest, Thai
administrative codes, coordinates, profiles and credentials.

Each rule first asks "is anything wrong?" of a whole column with set operations (C
speed, so a clean national inventory validates in well under a second) and only then
walks the records to say which ones and why.

Typical use (the CLI's ``inventory validate``)::

    result = load_inventory(path)
    problems = validate(result, known_credentials=set(config.credentials))
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from itertools import compress
from operator import attrgetter, eq, not_

from inventory.geography import (
    THAILAND_BBOX,
    District,
    Province,
    Subdistrict,
    district_index,
    province_index,
    subdistrict_index,
)
from inventory.model import NON_SNMP_PROFILES, SNMP_PROFILES, Device, Role
from inventory.problems import Problem, Severity, has_errors, quoted
from inventory.records import COLUMNS, KINDS, RecordKind
from inventory.result import LoadResult
from inventory.topology import Topology, find_cycles

__all__ = ["Problem", "Severity", "has_errors", "sort_problems", "validate"]

_SITELESS_ROLES = frozenset({Role.PROVINCIAL_NODE, Role.CORE})
_ROOT_ROLES = frozenset({Role.CORE})


class _Report:
    """Problems anchored at a record's line (in YAML: at the key's line)."""

    __slots__ = ("problems", "result")

    def __init__(self, result: LoadResult) -> None:
        self.result = result
        self.problems: list[Problem] = []

    def add(
        self,
        kind: RecordKind,
        record_id: str,
        field: str,
        message: str,
        severity: Severity = Severity.ERROR,
    ) -> None:
        location = self.result.location(kind, record_id, field)
        file, line = (location.file, location.line) if location else (self.result.files[kind], 0)
        self.problems.append(Problem(file, line, field, message, severity))


# -- sites -----------------------------------------------------------------------------


def _unknown_code(field: str, code: str, form: str) -> tuple[str, str]:
    """The problem of an administrative code not in the index: unknown, or missing."""
    if not code:
        return (field, f"{field} is required")
    return (field, f"unknown {field} {quoted(code)} ({form})")


def _elsewhere(level: str, code: str, name: str, parent: str, parent_code: str,
               parent_name: str, actual: str) -> tuple[str, str]:
    """The problem of an area whose code belongs to another parent than the row's."""
    return (f"{level}_code", f"{level} {code} ({name}) is not in {parent} {parent_code} "
                             f"({parent_name}) but in {parent} {actual}")


_Area = Province | District | Subdistrict
_LEVELS: tuple[tuple[str, Callable[[], Mapping[str, _Area]], str], ...] = (
    ("province", province_index, "2 digits, e.g. 50 for Chiang Mai"),
    ("district", district_index, "4 digits, e.g. 5001"),
    ("subdistrict", subdistrict_index, "6 digits, e.g. 500101"),
)
"""A site's administrative levels from the top, with the form of each code; an area
names the code of the one above it as ``<level above>_code``."""


def _site_code_problems(*codes: str) -> list[tuple[str, str]]:
    """What is wrong with one combination of province, district and subdistrict codes (the
    subdistrict may be empty): codes not in the index, and areas not inside the one above."""
    found: list[tuple[str, str]] = []
    above: tuple[str, str, _Area] | None = None  # the level above, when its code is known
    for (level, index, form), code in zip(_LEVELS, codes, strict=True):
        if level == "subdistrict" and not code:
            break
        area = index().get(code)
        if area is None:
            found.append(_unknown_code(f"{level}_code", code, form))
        elif above is not None:
            parent_level, parent_code, parent = above
            actual = getattr(area, f"{parent_level}_code")
            if actual != parent_code:
                found.append(_elsewhere(level, code, area.name_en, parent_level, parent_code,
                                        parent.name_en, actual))
        above = (level, code, area) if area is not None else None
    return found


def _check_sites(report: _Report) -> None:
    """Coordinates inside Thailand and administrative codes that exist and nest."""
    sites = report.result.inventory.sites
    records = sites.values()
    box = THAILAND_BBOX
    for axis, low, high in (("lat", box.min_lat, box.max_lat), ("lon", box.min_lon, box.max_lon)):
        values = list(map(attrgetter(axis), records))
        if values and (min(values) < low or max(values) > high):
            for site_id, value in zip(sites, values, strict=True):
                if not low <= value <= high:
                    report.add(
                        "site",
                        site_id,
                        axis,
                        f"{axis} {value} is outside Thailand ({low} to {high})",
                    )

    codes = attrgetter("province_code", "district_code", "subdistrict_code")
    # A national inventory has ~100,000 sites but only a few thousand distinct code triples.
    bad = {
        combo: found for combo in set(map(codes, records)) if (found := _site_code_problems(*combo))
    }
    if bad:
        for site_id, site in sites.items():
            for field, message in bad.get(codes(site), ()):
                report.add("site", site_id, field, message)


# -- devices ---------------------------------------------------------------------------


def _each(
    devices: dict[str, Device], flagged: Callable[[Device], bool]
) -> Iterable[tuple[str, Device]]:
    return ((device_id, d) for device_id, d in devices.items() if flagged(d))


def _require(report: _Report, roles: list[Role], values: list[str], column: str,
             exempt: frozenset[Role], message: str) -> None:
    """A problem for each device that leaves ``column`` empty although its role is not
    ``exempt`` (``message`` formatted with the ``role``); ``roles`` and ``values`` are
    the whole columns, checked in C first so a clean fleet costs no Python loop."""
    if set(compress(roles, map(not_, values))) - exempt:
        devices = report.result.inventory.devices
        for device_id, d in _each(devices, lambda d: not getattr(d, column)):
            if d.role not in exempt:
                report.add("device", device_id, column, message.format(role=d.role))


def _check_device_shape(report: _Report, topology: Topology | None) -> None:
    """Roles against site_id and upstream: the forest has cores as roots, and only
    provincial nodes and cores may stand outside a site."""
    result = report.result
    devices = result.inventory.devices
    records = devices.values()
    roles = list(map(attrgetter("role"), records))
    site_ids = list(map(attrgetter("site_id"), records))
    upstreams = list(map(attrgetter("upstream"), records))

    _require(report, roles, site_ids, "site_id", _SITELESS_ROLES,
             "site_id is required for role {role} (only provincial_node and core may have none)")
    sites = result.inventory.sites
    if not sites.keys() >= set(site_ids).difference(("",)):
        for device_id, d in _each(devices, lambda d: bool(d.site_id) and d.site_id not in sites):
            if not result.knows("site", d.site_id):
                report.add("device", device_id, "site_id", f"unknown site {quoted(d.site_id)}")

    if set(compress(roles, upstreams)) & _ROOT_ROLES:
        for device_id, d in _each(devices, lambda d: bool(d.upstream) and d.role in _ROOT_ROLES):
            report.add(
                "device",
                device_id,
                "upstream",
                f"a core device is a root and has no upstream (got {quoted(d.upstream)})",
            )
    _require(report, roles, upstreams, "upstream", _ROOT_ROLES,
             "upstream is required for role {role} (only core devices are roots)")
    if not devices.keys() >= set(upstreams).difference(("",)):
        for device_id, d in _each(
            devices, lambda d: bool(d.upstream) and d.upstream not in devices
        ):
            if not result.knows("device", d.upstream):
                report.add(
                    "device", device_id, "upstream", f"unknown upstream device {quoted(d.upstream)}"
                )

    cycles = (
        topology.find_cycles()
        if topology is not None
        else find_cycles(dict(zip(devices, upstreams, strict=True)))
    )
    for cycle in cycles:
        members = " -> ".join([*cycle, cycle[0]])
        plural = "s" if len(cycle) > 1 else ""
        report.add(
            "device",
            cycle[0],
            "upstream",
            f"upstream cycle of {len(cycle)} device{plural}: {members} (no core above them)",
        )


def _check_device_provinces(report: _Report) -> None:
    """A device's optional ``province_code`` exists and, for a device at a site, is the
    site's (a second, contradicting answer to "where is it" would split its alerts)."""
    devices = report.result.inventory.devices
    codes = set(map(attrgetter("province_code"), devices.values()))
    codes.discard("")
    if not codes:
        return
    known = province_index()
    sites = report.result.inventory.sites
    for device_id, d in _each(devices, lambda d: bool(d.province_code)):
        if d.province_code not in known:
            report.add(
                "device",
                device_id,
                "province_code",
                f"unknown province_code {d.province_code!r} (2 digits, e.g. 50 for Chiang Mai)",
            )
            continue
        site = sites.get(d.site_id)
        if site is not None and site.province_code != d.province_code:
            report.add(
                "device",
                device_id,
                "province_code",
                f"province_code {d.province_code} differs from the province of its site "
                f"{d.site_id} ({site.province_code}); leave it empty for a device at a site",
            )


def _polling_problems(
    profile: str,
    credential: str,
    snmp_profiles: Collection[str],
    known_credentials: Collection[str] | None,
) -> list[tuple[str, str, Severity]]:
    """What is wrong with one (profile, credential) pair."""
    found: list[tuple[str, str, Severity]] = []
    if profile in snmp_profiles:
        if not credential:
            found.append(
                (
                    "credential",
                    f"profile {quoted(profile)} polls SNMP and needs a credential",
                    Severity.ERROR,
                )
            )
    elif profile in NON_SNMP_PROFILES:
        if credential:
            found.append(
                (
                    "credential",
                    f"profile {quoted(profile)} uses no credential; "
                    f"{quoted(credential)} is ignored",
                    Severity.WARNING,
                )
            )
            return found
    else:
        known = ", ".join(sorted({*snmp_profiles, *NON_SNMP_PROFILES}))
        found.append(
            (
                "profile",
                f"unknown profile {quoted(profile)} (known: {known})"
                if profile
                else f"profile is required (one of: {known})",
                Severity.ERROR,
            )
        )
    if credential and known_credentials is not None and credential not in known_credentials:
        found.append(
            (
                "credential",
                f"unknown credential {quoted(credential)} "
                "(not defined under credentials: in the config)",
                Severity.ERROR,
            )
        )
    return found


def _check_device_polling(
    report: _Report, known_credentials: Collection[str] | None, snmp_profiles: Collection[str]
) -> None:
    """Profiles and credentials (what to poll, how to authenticate), and addresses that
    two devices share -- usually a copy-paste slip, hence only a warning."""
    devices = report.result.inventory.devices
    records = devices.values()
    profiles = list(map(attrgetter("profile"), records))
    credentials = list(map(attrgetter("credential"), records))
    # Cheap questions first, over whole columns; the (profile, credential) pairs -- a
    # handful of distinct ones -- only when one of them says something is off.
    suspect = (
        not set(profiles) <= {*snmp_profiles, *NON_SNMP_PROFILES}
        or not set(compress(profiles, map(not_, credentials))).isdisjoint(snmp_profiles)
        or not set(compress(profiles, credentials)).isdisjoint(NON_SNMP_PROFILES)
        or (
            known_credentials is not None
            and not set(credentials).difference(("",)) <= set(known_credentials)
        )
    )
    if suspect:
        bad = {
            pair: found
            for pair in set(zip(profiles, credentials, strict=True))
            if (found := _polling_problems(*pair, snmp_profiles, known_credentials))
        }
        for device_id, d in devices.items():
            for field, message, severity in bad.get((d.profile, d.credential), ()):
                report.add("device", device_id, field, message, severity)

    endpoint = attrgetter("host", "port")
    # Hosts are nearly always distinct and ports nearly always absent: compare hosts
    # alone first, which builds no tuples.
    if len(set(map(attrgetter("host"), records))) != len(devices) and len(
        set(map(endpoint, records))
    ) != len(devices):
        first: dict[tuple[str, int | None], str] = {}
        for device_id, d in devices.items():
            other = first.setdefault(endpoint(d), device_id)
            if other != device_id:
                report.add(
                    "device",
                    device_id,
                    "address",
                    f"address {d.address} is also used by device {quoted(other)}",
                    Severity.WARNING,
                )


# -- links -----------------------------------------------------------------------------


def _check_links(report: _Report) -> None:
    """Both ends of every link exist and differ (a link is watched from ``a_device``)."""
    result = report.result
    devices = result.inventory.devices
    links = result.inventory.links
    records = links.values()
    a_devices = list(map(attrgetter("a_device"), records))
    b_devices = list(map(attrgetter("b_device"), records))
    if not devices.keys() >= set(a_devices).union(b_devices):
        for link_id, link in links.items():
            for field, device_id in (("a_device", link.a_device), ("b_device", link.b_device)):
                if device_id not in devices and not result.knows("device", device_id):
                    report.add("link", link_id, field, f"unknown device {quoted(device_id)}")
    if any(map(eq, a_devices, b_devices)):
        for link_id, link in links.items():
            if link.a_device == link.b_device:
                report.add(
                    "link",
                    link_id,
                    "b_device",
                    f"a link joins two devices; both ends are {quoted(link.a_device)}",
                )


# -- entry point -----------------------------------------------------------------------


def sort_problems(result: LoadResult, problems: Iterable[Problem]) -> list[Problem]:
    """In reading order: sites, then devices, then links (or down the YAML file), by line,
    then by column."""
    file_rank: dict[str, int] = {}
    for kind in KINDS:
        file_rank.setdefault(result.files.get(kind, ""), len(file_rank))
    field_rank: dict[str, int] = {"file": -3, "encoding": -2, "header": -1}
    for kind in KINDS:
        for column in COLUMNS[kind]:
            field_rank.setdefault(column, len(field_rank))
    return sorted(
        problems,
        key=lambda p: (
            file_rank.get(p.file, len(file_rank)),
            p.file,
            p.line,
            field_rank.get(p.field, len(field_rank)),
        ),
    )


def validate(
    result: LoadResult,
    *,
    known_credentials: Collection[str] | None = None,
    extra_profiles: Collection[str] = frozenset(),
    topology: Topology | None = None,
) -> list[Problem]:
    """Every problem in a loaded inventory -- the loader's and the cross-record ones --
    sorted by file and line.

    ``known_credentials`` are the credential names the config defines; when None (no
    config given) credential names are not checked. ``extra_profiles`` are SNMP profile
    names from profile files, accepted next to the built-in ones. ``topology``, if the
    caller has built one for this inventory anyway, saves a pass to find upstream cycles.

    The inventory is usable exactly when :func:`has_errors` is False for the result;
    warnings are worth printing but do not make it unusable. Never raises for bad
    content.
    """
    report = _Report(result)
    _check_sites(report)
    _check_device_shape(report, topology)
    _check_device_provinces(report)
    _check_device_polling(report, known_credentials, SNMP_PROFILES | frozenset(extra_profiles))
    _check_links(report)
    return sort_problems(result, [*result.problems, *report.problems])
