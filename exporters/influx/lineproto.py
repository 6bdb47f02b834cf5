"""Observations as InfluxDB line protocol.

One point per observation (timestamp in nanoseconds, exact to the microsecond the float
holds): measurement = metric family (``pubnet_ap_clients``), tags =
``device`` plus the device's ``site`` and ``province`` from the inventory plus the
observation's own labels (``ifname``, ``radio``...), one float field ``value``, and the
observation's timestamp in nanoseconds. Tag keys are sorted, as InfluxDB prefers.

Escaping follows the line-protocol rules: commas, spaces and equals signs are backslash
escaped in tag keys and values, commas and spaces in measurements. A newline cannot appear in
a point at all, so it is written as the two characters ``\\n`` (and a carriage return as
``\\r``); a backslash that would otherwise escape what follows is doubled. Thai text is plain
UTF-8. Values that InfluxDB cannot store (NaN, ±Inf) and empty names are rejected with a
reason instead of corrupting the batch.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, cast

from inventory.model import Inventory
from pubnet.model import Labels, Observation


class Rejected(StrEnum):
    """Why an observation was not written; the label of the drop counter."""

    NON_FINITE = "non_finite_value"
    EMPTY_NAME = "empty_name"
    RESERVED_TAG = "reserved_tag"


RESERVED_TAGS = frozenset({"_measurement", "_field", "_value", "_start", "_stop", "time"})


@dataclass(frozen=True, slots=True)
class RejectedPoint:
    reason: Rejected
    device: str
    metric: str


_TAG_SPECIAL = re.compile(r"[,= \\\n\r]")
_TAG_HARD = re.compile(r"[\\\n\r]")
_TAG_ESCAPE = re.compile(r"[,= \n\r]|\\(?=[,= \\\n\r]|\Z)")
_TAG_REPLACEMENT = {",": "\\,", "=": "\\=", " ": "\\ ", "\n": "\\n", "\r": "\\r",
                    "\\": "\\\\"}


def _escape_tag(text: str) -> str:
    """Commas, equals signs and spaces backslash escaped; a newline or carriage return
    as ``\\n``/``\\r``; a backslash doubled when it would escape what follows it (or
    ends the text)."""
    if _TAG_SPECIAL.search(text) is None:
        return text
    return _escape_special(text)


def _escape_special(text: str) -> str:
    """:func:`_escape_tag` of a text known to hold something to escape (a template
    built at every poll has searched it already)."""
    if _TAG_HARD.search(text) is None:  # the usual case: spaces in a description
        return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")
    return _TAG_ESCAPE.sub(lambda match: _TAG_REPLACEMENT[match.group()], text)


def _escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ").replace(
        "\n", "\\n")


def device_tags(inventory: Inventory) -> dict[str, tuple[tuple[str, str], ...]]:
    """Inventory tags per device (site, province), resolved once at start."""
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    for device in inventory.devices.values():
        province = inventory.province_of(device)  # a provincial node or core has no site
        tags = [("site", device.site_id)]
        if province:
            tags.append(("province", province))
        out[device.device_id] = tuple(tags)
    return out


_SLOTS = ("device", "province", "site")
"""Tags every point may carry besides its labels, in sorted order: the observation's device
and the device's inventory tags (see :func:`device_tags`)."""
_SLOT_SET = frozenset(_SLOTS)

_Template = tuple[str, str, str, str]
"""A series prefix around the three slots: measurement and the labels sorting before
``device``, the labels between ``device`` and ``province``, between ``province`` and
``site``, and after ``site``."""


class _Plain(NamedTuple):
    """A template with no label between ``province`` and ``site`` (~95 % of the points:
    ``ifname``, ``status``...): the device's province and site pieces go in as one
    string, so a point is a 7-part f-string instead of a 9-part one."""

    first: str
    between_device: str
    last: str


_DeviceTags = tuple[str, str, str, str]
"""``,device=…``, ``,province=…``, ``,site=…`` of one device (empty when it has none),
and the last two joined (what a :class:`_Plain` template puts between its pieces)."""


class _Overriding(NamedTuple):
    """The template of a label set that names a device tag: a ``province`` or ``site``
    label takes the place of the inventory's (its value is in the pieces, and the device's
    own piece for that slot is left out), a ``device`` label yields to the device."""

    first: str
    between_device: str
    between_province: str
    last: str
    province: bool
    site: bool


_AnyTemplate = _Plain | _Template | _Overriding | Rejected


class _Single:
    """A cached template only one device has used so far (see :class:`LineEncoder`); not
    a tuple, so that it is never taken for a template."""

    __slots__ = ("device", "template")

    def __init__(self, template: _AnyTemplate, device: str) -> None:
        self.template = template
        self.device = device


class LineEncoder:
    """Encodes observations; keeps no state but caches of escaped tag pieces.

    Tag keys are sorted, so the device's tags (``device``, ``province``, ``site``) fall at
    fixed places among a series' labels: a prefix is a template per (metric, labels), shared
    by every device with that label set, and three pieces per device. Memory grows with the
    distinct label sets and the devices, not with the series (5 M at 100,000 devices).
    Labels that name a device tag (``pubnet_device_up``'s and ``pubnet_device_info``'s
    ``site`` and ``province``) have templates too, which say which of the device's pieces
    they replace (:class:`_Overriding`).

    The template cache holds at most :attr:`CACHE_MAX` label sets (~70 MB: the old bound's
    peak, each entry now also naming its first device). The label sets
    many devices share (``ifname="eth0"``: a few thousand in a national fleet) are hit by
    every poll; those one device has (``ifalias``, ``pubnet_device_info``'s,
    ``pubnet_device_up``'s: ~6 per device, 640,000 at 100,000 devices) once per round at
    best. A label set is cached with the device that first used it (:class:`_Single`)
    until another device uses it. When the cache is full a new label set is built and not
    kept, and the cache is not cleared: rounds of polls meet the label sets in the same
    order, so clearing when full (as before) threw each one away before its next use
    beyond ~15,000 devices and rebuilt the shared ones after every clear, whereas refusing
    keeps the ~90,000 device label sets it holds useful every round. Every
    :attr:`ROTATE_AFTER` refusals the cache is looked at: if its device label sets were
    hit fewer times meanwhile than a quarter of its size, they were an old fleet's
    (renamed interfaces, new descriptions) and go (the shared stay, unless they alone
    fill half the cache), so that the new fleet's are cached. A cache in use stays: at
    100,000 devices (~550,000 refusals a round) making room at every check threw away and
    rebuilt ~90,000 entries every other round, ~300,000 objects that the garbage
    collector walked as young and then middle-aged (pauses of 0.4-0.7 s) for nothing,
    since the new entries were no more useful than the old. A miss costs ~1 µs: the shape its
    metric and label names share is cached, only the values are escaped. A bigger bound
    does not pay: at 500,000 entries the old policy filled and cleared it every round at
    100,000 devices, ~600 bytes per entry (~80 bytes per series) for nothing.
    """

    CACHE_MAX = 92_000
    ROTATE_AFTER = 1_000_000
    DEVICES_MAX = 500_000
    SHAPES_MAX = 10_000

    def __init__(self, inventory_tags: Mapping[str, tuple[tuple[str, str], ...]]) -> None:
        self._inventory_tags = inventory_tags
        self._templates: dict[tuple[str, Labels], _AnyTemplate | _Single] = {}
        self._refused = 0
        """Label sets built and not kept since the cache was last looked at."""
        self._hits = 0
        """Device label sets found cached for their own device, since then."""
        self._shapes: dict[tuple[str, tuple[str, ...]], _Shape | Rejected] = {}
        self._devices: dict[str, _DeviceTags | Rejected] = {}

    def encode(self, obs: Observation) -> str | RejectedPoint:
        """One line (without newline), or why the point was rejected."""
        out: list[str] = []
        rejected = self.encode_into((obs,), out)
        return rejected[0] if rejected else out[0]

    def encode_into(self, observations: Sequence[Observation],
                    out: list[str]) -> list[RejectedPoint]:
        """Append one line (without newline) per observation to ``out``, in order; return
        the observations rejected, with why."""
        rejected: list[RejectedPoint] = []
        templates = self._templates
        devices = self._devices
        isfinite = math.isfinite
        append = out.append
        last_ts = -1.0
        stamp = ""
        # a batch is a poll or a few: its points share a device and a timestamp in runs
        last_device: str | None = None
        tags: _DeviceTags | Rejected = Rejected.EMPTY_NAME
        for obs in observations:
            device, metric, value, ts, _source, labels = obs
            if not isfinite(value):
                rejected.append(RejectedPoint(Rejected.NON_FINITE, device, metric))
                continue
            if ts != last_ts:
                last_ts = ts
                # microseconds are exact in a float of Unix time; nanoseconds are not
                stamp = str(round(ts * 1e6) * 1000)
            if device is not last_device:
                last_device = device
                found = devices.get(device)
                tags = self._device(device) if found is None else found
            key = (metric, labels)
            template = templates.get(key)
            if template is None or type(template) is _Single:
                template = self._lookup(template, device, key)
            if type(tags) is tuple:
                if type(template) is _Plain:
                    append(f"{template[0]}{tags[0]}{template[1]}{tags[3]}{template[2]}"
                           f" value={float(value)!r} {stamp}")
                    continue
                if type(template) is tuple:  # a label between province and site
                    template = cast(_Template, template)  # not a _Plain: a tuple exactly
                    append(f"{template[0]}{tags[0]}{template[1]}{tags[1]}{template[2]}"
                           f"{tags[2]}{template[3]} value={float(value)!r} {stamp}")
                    continue
                if type(template) is _Overriding:  # pubnet_device_up's, _info's labels
                    first, between_device, between_province, last, no_province, no_site = \
                        template
                    province = "" if no_province else tags[1]
                    site = "" if no_site else tags[2]
                    append(f"{first}{tags[0]}{between_device}{province}{between_province}"
                           f"{site}{last} value={float(value)!r} {stamp}")
                    continue
            reason = tags if isinstance(tags, Rejected) else template
            assert isinstance(reason, Rejected)
            rejected.append(RejectedPoint(reason, device, metric))
        return rejected

    def _lookup(self, cached: _Single | None, device: str, key: tuple[str, Labels]
                ) -> _AnyTemplate:
        """The template of a label set ``key`` (metric, labels) cached for one device
        (shared from now on when ``device`` is another), or not cached (built, and kept
        if there is room)."""
        if cached is not None:
            template = cached.template
            if cached.device != device:
                self._templates[key] = template
            else:
                self._hits += 1
            return template
        template = self._template(*key)
        templates = self._templates
        if len(templates) < self.CACHE_MAX:
            templates[key] = _Single(template, device)
        else:
            self._refused += 1
            if self._refused >= self.ROTATE_AFTER:
                stale = self._hits < len(templates) // 4
                self._refused = self._hits = 0
                if stale:
                    self._make_room()
        return template

    def _make_room(self) -> None:
        """Make room for the label sets the fleet has now: those of one device go, and
        the shared ones too when they alone hold half the cache."""
        templates = self._templates
        shared = {key: template for key, template in templates.items()
                  if type(template) is not _Single}
        templates.clear()
        if len(shared) < self.CACHE_MAX // 2:
            templates.update(shared)

    def _template(self, metric: str, labels: Labels) -> _AnyTemplate:
        """The template of a label set, from the shape of its metric and label names."""
        if not metric:
            return Rejected.EMPTY_NAME
        key = (metric, tuple([name for name, _ in labels]))
        shape = self._shapes.get(key)
        if shape is None:
            if len(self._shapes) >= self.SHAPES_MAX:
                self._shapes.clear()
            shape = self._shapes[key] = _build_shape(*key)
        return shape if isinstance(shape, Rejected) else _template_of(shape, labels)

    def _device(self, device: str) -> _DeviceTags | Rejected:
        tags: _DeviceTags | Rejected
        if not device:
            tags = Rejected.EMPTY_NAME
        else:
            known = dict(self._inventory_tags.get(device, ()))
            known["device"] = device
            own, province, site = (f",{name}={_escape_tag(known[name])}"
                                   if known.get(name) else "" for name in _SLOTS)
            # interned: a site's devices share one (~2.5 a site, 100,000 devices: ~4 MB)
            tags = own, province, site, sys.intern(province + site)
        if len(self._devices) >= self.DEVICES_MAX:
            self._devices.clear()
        self._devices[device] = tags
        return tags

    def _build_prefix(self, obs: Observation) -> str | Rejected:
        """A series' prefix built from its tags one by one: the reference the templates
        are tested against (``tests/exporters/test_influx_lineproto.py``)."""
        if not obs.metric or not obs.device:
            return Rejected.EMPTY_NAME
        tags: dict[str, str] = dict(self._inventory_tags.get(obs.device, ()))
        for name, value in obs.labels:
            if name in RESERVED_TAGS:
                return Rejected.RESERVED_TAG
            if not name:
                return Rejected.EMPTY_NAME
            tags[name] = value
        tags["device"] = obs.device
        parts = [_escape_measurement(obs.metric)]
        for name in sorted(tags):
            value = tags[name]
            if value == "":
                continue  # line protocol has no empty tag values; absent means the same
            parts.append(f"{_escape_tag(name)}={_escape_tag(value)}")
        return ",".join(parts)


_Shape = tuple[str, tuple[tuple[int, tuple[tuple[int, str], ...]], ...], bool, bool]
"""How every label set with the same metric and label names becomes a template: the
escaped measurement; the template pieces that hold labels, each as (its place among the
four, its labels as (index in the label set, escaped ``,name=``) in sorted name order);
and whether a ``province`` or ``site`` label replaces the device's."""


def _build_shape(metric: str, names: tuple[str, ...]) -> _Shape | Rejected:
    if "" in names or not RESERVED_TAGS.isdisjoint(names):
        return _rejected(names)  # rare: say which label is wrong
    last = {name: index for index, name in enumerate(names)}  # a repeated name: the last
    written = [name for name in sorted(last) if name != "device"]  # the device's own
    # the device's tags fall between the labels, in sorted order: device, province, site
    # (a province or site label is the first of the piece after its slot)
    cuts = [0, *(sum(1 for name in written if name < slot) for slot in _SLOTS), len(written)]
    items = [(last[name], f",{_escape_tag(name)}=") for name in written]
    filled = tuple((place, tuple(items[cuts[place]:cuts[place + 1]]))
                   for place in range(4) if cuts[place] < cuts[place + 1])
    return _escape_measurement(metric), filled, "province" in last, "site" in last


def _template_of(shape: _Shape, labels: Labels) -> _Plain | _Template | _Overriding:
    """The template of one label set of ``shape``: its values escaped into their pieces
    (an empty value is left out: line protocol has no empty tag values).

    Only the pieces that hold labels are built (most label sets fill one of the four),
    and a value is escaped only when it has something to escape: a template not cached
    (the devices' own label sets beyond ``CACHE_MAX``) is built at every poll."""
    measurement, filled, overrides_province, overrides_site = shape
    search = _TAG_SPECIAL.search
    pieces = ["", "", "", ""]
    for place, items in filled:
        piece = ""
        for index, prefix in items:
            value = labels[index][1]
            if value:
                piece += prefix + (value if search(value) is None else _escape_special(value))
        pieces[place] = piece
    first, between_device, between_province, last = pieces
    if overrides_province or overrides_site:
        return _Overriding(measurement + first, between_device, between_province, last,
                           overrides_province, overrides_site)
    if not between_province:
        return _Plain(measurement + first, between_device, last)
    return measurement + first, between_device, between_province, last


def _rejected(names: tuple[str, ...]) -> Rejected:
    """Why a label set cannot be written: the first offending label, in label order."""
    for name in names:
        if name in RESERVED_TAGS:
            return Rejected.RESERVED_TAG
        if not name:
            return Rejected.EMPTY_NAME
    raise AssertionError(f"{names!r} has no offending label")
