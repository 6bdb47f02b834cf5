"""Checking a maintenance scope against the inventory before a window is stored.

A window whose scope matches nothing (``province:99``, ``site:NOPE``, a province written by
name) silences nothing, and the technician who added it believes the opposite until the
first alert arrives in the middle of the work. ``pubnet maintenance add`` therefore refuses
a scope that names nothing the inventory has, and says which form it wanted.
"""

from __future__ import annotations

from collections.abc import Iterable

from inventory.geography import district_index, province_index
from inventory.model import Inventory

SCOPE_FORMS = ("province:<2-digit code> (e.g. province:50), district:<4-digit code> "
               "(e.g. district:5001), site:<site_id> or device:<device_id>")
"""The valid forms, for error messages."""

_PREFIXES = ("จังหวัด", "จ.", "อำเภอ", "อ.", "เขต", "province", "district", "amphoe", "khet")


def _plain(name: str) -> str:
    """A name compared loosely: case, spaces and a leading/trailing kind word ignored."""
    text = name.casefold().strip()
    for word in _PREFIXES:
        if text.startswith(word):
            text = text[len(word):]
        if text.endswith(word):
            text = text[: -len(word)]
    return "".join(text.split())


def _codes_named(kind: str, name: str) -> list[str]:
    """Codes of the provinces or districts whose Thai or English name is ``name``."""
    wanted = _plain(name)
    if not wanted:
        return []
    index = province_index() if kind == "province" else district_index()
    return [code for code, area in index.items()
            if wanted in (_plain(area.name_th), _plain(area.name_en))]


def _suggest(kind: str, codes: Iterable[str]) -> str:
    index = province_index() if kind == "province" else district_index()
    found = [f"{kind}:{code} ({index[code].name_en})" for code in codes]
    return " or ".join(found[:3])


def scope_problem(scope: str, inventory: Inventory | None) -> str | None:
    """What is wrong with a normalised scope (``province:50``), or None if it names
    something: a province or district with a site (or a node standing there), a site or a
    device of ``inventory``. Without an inventory, province and district codes are checked
    against Thailand's and sites and devices cannot be checked at all."""
    kind, _, value = scope.partition(":")
    if kind in ("province", "district"):
        index = province_index() if kind == "province" else district_index()
        if value not in index:
            named = _codes_named(kind, value)
            if named:
                return f"{value!r} is a {kind} name, not a code: use {_suggest(kind, named)}"
            return f"{value!r} is not a {kind} code of Thailand"
        if inventory is None:
            return None
        if kind == "province":
            present = {s.province_code for s in inventory.sites.values()}
            present.update(inventory.province_of(d) for d in inventory.devices.values())
            if value not in present:
                return f"no site or device in province {value} in the inventory"
        elif value not in {s.district_code for s in inventory.sites.values()}:
            return f"no site in district {value} in the inventory"
        return None
    if inventory is None:
        return (f"cannot check {kind}:{value} without an inventory: give --config with an "
                "inventory: key, or --inventory PATH")
    if kind == "site" and value not in inventory.sites:
        return f"no site {value!r} in the inventory"
    if kind == "device" and value not in inventory.devices:
        return f"no device {value!r} in the inventory"
    return None
