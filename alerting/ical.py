"""``pubnet maintenance import --ics FILE_OR_URL --scope-from LOCATION|SUMMARY``.

Maintenance is planned elsewhere: the operator's change calendar, the electricity
authority's planned-outage notices. Both publish iCalendar (RFC 5545), read here with the
``icalendar`` library. Each event becomes a maintenance window; its scope is read from the
event's LOCATION or SUMMARY:

1. an explicit scope anywhere in the text: ``province:55``, ``district:5501``,
   ``site:S-0042``, ``device:gw-0042``;
2. else the district it names (``อำเภอเมืองน่าน``, ``อ.เมืองน่าน`` or ``Mueang Nan``; a
   name several provinces share is told apart by the province named beside it), else
   the province (``จังหวัดน่าน``, ``จ.น่าน``, ``Nan``); several, or none: the event is
   skipped with a warning.

An event's UID is its identity: importing the same feed again updates the windows it made
(new times, a new scope, a cancellation) and never adds a second one. Times without a zone
are Thailand time; an all-day event covers its days in Thailand time.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from alerting.messages import BANGKOK, local_time

if TYPE_CHECKING:
    from alerting.db import IncidentDB
    from inventory.model import Inventory

ScopeFrom = Literal["LOCATION", "SUMMARY"]
MAX_FEED_BYTES = 16 << 20
FETCH_TIMEOUT = 30.0
_EXPLICIT = re.compile(r"\b(province|district|site|device):([^\s,;()]+)", re.IGNORECASE)

IMPORTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS maintenance_imports (
    uid TEXT PRIMARY KEY,
    window_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    imported_at REAL NOT NULL
);
"""


class FeedError(Exception):
    """The feed cannot be read or is not iCalendar; the text names the source."""


@dataclass(frozen=True, slots=True)
class Event:
    uid: str
    summary: str
    location: str
    starts_at: float
    ends_at: float
    cancelled: bool


@dataclass(slots=True)
class Outcome:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    cancelled: int = 0
    past: int = 0
    skipped: int = 0


def read_feed(source: str) -> bytes:
    """The bytes of a file or an http(s) URL. Raises FeedError."""
    if re.match(r"^https?://", source, re.IGNORECASE):
        try:
            with urllib.request.urlopen(source, timeout=FETCH_TIMEOUT) as response:
                data: bytes = response.read(MAX_FEED_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise FeedError(f"{_safe_url(source)}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise FeedError(f"{_safe_url(source)}: cannot fetch ({reason})") from None
    else:
        try:
            with open(source, "rb") as handle:
                data = handle.read(MAX_FEED_BYTES + 1)
        except OSError as exc:
            raise FeedError(f"{source}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_FEED_BYTES:
        raise FeedError(f"{_safe_url(source)}: larger than {MAX_FEED_BYTES >> 20} MiB")
    return data


def _safe_url(source: str) -> str:
    """A URL without its query (private calendar links carry a token there)."""
    return source.split("?", 1)[0]


def _timestamp(value: object) -> float:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=BANGKOK)
        return moment.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=BANGKOK).timestamp()
    raise ValueError("not a date or date-time")


def parse_events(data: bytes, source: str) -> tuple[list[Event], list[str]]:
    """The VEVENTs of a feed, and a problem line for each one that cannot be used.
    Raises FeedError when the data is not iCalendar at all."""
    from icalendar import Calendar

    try:
        calendar = Calendar.from_ical(data)
    except ValueError as exc:
        raise FeedError(f"{_safe_url(source)}: not iCalendar ({exc})") from None
    events: list[Event] = []
    problems: list[str] = []
    for component in calendar.walk("VEVENT"):
        uid = str(component.get("UID", "")).strip()
        where = f"{_safe_url(source)}: event {uid or '(no UID)'}"
        if not uid:
            problems.append(f"{where}: no UID, so a re-import could not update it: skipped")
            continue
        start_prop = component.get("DTSTART")
        if start_prop is None:
            problems.append(f"{where}: no DTSTART: skipped")
            continue
        start_value = start_prop.dt
        try:
            starts = _timestamp(start_value)
            end_prop = component.get("DTEND")
            if end_prop is not None:
                ends = _timestamp(end_prop.dt)
            elif component.get("DURATION") is not None:
                ends = starts + component.get("DURATION").dt.total_seconds()
            elif not isinstance(start_value, datetime):
                ends = starts + 86400.0  # an all-day event: its day
            else:
                ends = starts
        except (ValueError, AttributeError, TypeError) as exc:
            problems.append(f"{where}: unreadable time ({exc}): skipped")
            continue
        if ends <= starts and str(component.get("STATUS", "")).upper() != "CANCELLED":
            problems.append(f"{where}: ends before it starts: skipped")
            continue
        events.append(Event(uid, str(component.get("SUMMARY", "")),
                            str(component.get("LOCATION", "")), starts, ends,
                            str(component.get("STATUS", "")).upper() == "CANCELLED"))
    return events, problems


@cache
def _names() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Name -> codes, for districts and provinces. English names as they are; Thai names only
    with their prefix (``อำเภอจอมทอง``, ``อ.จอมทอง``, ``จังหวัดน่าน``, ``จ.น่าน``; Bangkok's
    ``เขต...`` as they are), since Thai runs words together and a bare ``หนองบัว`` is as
    likely a village."""
    from inventory.geography import area_names

    def table(level: Literal["district", "province"], prefixes: tuple[str, ...]) -> (
            dict[str, set[str]]):
        found: dict[str, set[str]] = {}
        for code, (thai, english) in area_names(level).items():
            names = [english] if len(english) >= 3 else []
            if thai.startswith("เขต"):
                names.append(thai)
            else:
                names += [prefix + thai for prefix in prefixes]
            for name in names:
                found.setdefault(name.casefold(), set()).add(code)
        return found

    return (table("district", ("อำเภอ", "อ.", "อ. ")),
            table("province", ("จังหวัด", "จ.", "จ. ")))


def _matches(text: str, table: dict[str, set[str]]) -> set[str]:
    """Codes of the longest names found in ``text`` (names inside longer ones dropped)."""
    hits = sorted((name for name in table if name in text and _word(text, name)),
                  key=len, reverse=True)
    kept: list[str] = []
    for name in hits:
        if not any(name in longer for longer in kept):
            kept.append(name)
    return {code for name in kept for code in table[name]}


def scope_from_text(text: str) -> str | None:
    """A maintenance scope named in ``text`` (module docstring), or None when it names
    none, or several districts it cannot tell apart."""
    from alerting.routing import parse_scope

    match = _EXPLICIT.search(text)
    if match is not None:
        try:
            return parse_scope(f"{match.group(1)}:{match.group(2)}")
        except ValueError:
            return None
    folded = text.casefold()
    districts, provinces = _names()
    province_codes = _matches(folded, provinces)
    district_codes = _matches(folded, districts)
    if len(district_codes) > 1 and province_codes:  # Chom Thong, Chiang Mai: not Bangkok's
        district_codes = {d for d in district_codes if d[:2] in province_codes}
    if len(district_codes) == 1:
        return f"district:{district_codes.pop()}"
    if not district_codes and len(province_codes) == 1:
        return f"province:{province_codes.pop()}"
    return None


def _word(text: str, name: str) -> bool:
    """``name`` in ``text`` not inside a longer Latin word (``Nan`` is not ``Nanny``);
    Thai names carry their prefix and match anywhere."""
    if not name.isascii():
        return True
    return re.search(rf"(?<![a-z]){re.escape(name)}(?![a-z])", text) is not None


def import_events(db: IncidentDB, events: Iterable[Event], scope_from: ScopeFrom,
                  source: str, by: str, inventory: Inventory | None, now: float,
                  problems: list[str]) -> Outcome:
    """Add or update one window per event UID (one transaction)."""
    from alerting.scopes import scope_problem

    outcome = Outcome()
    conn = db.conn
    conn.executescript(IMPORTS_SCHEMA)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for event in events:
            where = f"{_safe_url(source)}: event {event.uid}"
            known = conn.execute(
                "SELECT m.id, m.scope, m.starts_at, m.ends_at, m.note FROM maintenance_imports i "
                "JOIN maintenance m ON m.id = i.window_id WHERE i.uid = ?",
                (event.uid,)).fetchone()
            if event.cancelled:
                if known is not None and known[3] > known[2]:
                    conn.execute("UPDATE maintenance SET ends_at = starts_at WHERE id = ?",
                                 (known[0],))
                    outcome.cancelled += 1
                else:
                    outcome.unchanged += 1
                continue
            if event.ends_at <= now and known is None:
                outcome.past += 1
                continue
            text = event.location if scope_from == "LOCATION" else event.summary
            scope = scope_from_text(text)
            problem = ("names no province, district, site or device" if scope is None
                       else scope_problem(scope, inventory))
            if problem is not None or scope is None:
                problems.append(f"{where}: {scope_from} {text!r}: {problem}: skipped")
                outcome.skipped += 1
                continue
            note = event.summary[:500]
            row = (scope, event.starts_at, event.ends_at, note)
            if known is None:
                cur = conn.execute(
                    "INSERT INTO maintenance (scope, starts_at, ends_at, note, created_by, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?)", (*row, by, now))
                conn.execute("INSERT INTO maintenance_imports (uid, window_id, source, "
                             "imported_at) VALUES (?, ?, ?, ?)",
                             (event.uid, int(cur.lastrowid or 0), _safe_url(source), now))
                outcome.added += 1
            elif tuple(known[1:]) != row:
                conn.execute("UPDATE maintenance SET scope = ?, starts_at = ?, ends_at = ?, "
                             "note = ? WHERE id = ?", (*row, known[0]))
                conn.execute("UPDATE maintenance_imports SET imported_at = ? WHERE uid = ?",
                             (now, event.uid))
                outcome.updated += 1
            else:
                outcome.unchanged += 1
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return outcome


def cmd_maintenance_import(args: argparse.Namespace) -> int:
    """The command's handler (registered in :mod:`alerting.cli`)."""
    from alerting.cli import EXIT_BAD_INPUT, EXIT_OK, _open, _scope_inventory, database_path

    path = database_path(args.config)
    if path is None:
        return EXIT_BAD_INPUT
    try:
        events, problems = parse_events(read_feed(args.ics), args.ics)
    except FeedError as exc:
        print(f"pubnet maintenance import: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    ok, inventory = _scope_inventory(args)
    if not ok:
        return EXIT_BAD_INPUT
    db = _open(path)
    try:
        outcome = import_events(db, events, args.scope_from, args.ics, args.by, inventory,
                                time.time(), problems)
    except sqlite3.Error as exc:
        print(f"pubnet maintenance import: {path}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        db.close()
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(f"{_safe_url(args.ics)}: {len(events)} events: {outcome.added} added, "
          f"{outcome.updated} updated, {outcome.unchanged} unchanged, {outcome.cancelled} "
          f"cancelled, {outcome.past} already over, {outcome.skipped} skipped "
          f"({local_time(time.time())} Thailand time)")
    return EXIT_OK


def register(maint_cmds: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``import`` to ``pubnet maintenance``."""
    imp = maint_cmds.add_parser(
        "import", help="add or update windows from an iCalendar file or URL (by UID)")
    imp.add_argument("--ics", required=True, metavar="FILE_OR_URL",
                     help="an .ics file, or an http(s) URL of a calendar feed")
    imp.add_argument("--scope-from", required=True, choices=["LOCATION", "SUMMARY"],
                     help="the event property that names the scope")
    imp.add_argument("--by", default="ics", help="recorded as who added the windows")
    imp.add_argument("--config", type=Path)
    imp.add_argument("--inventory", type=Path,
                     help="inventory to check scopes against (default: the config's)")
    imp.set_defaults(handler=cmd_maintenance_import)


__all__ = ["Event", "FeedError", "cmd_maintenance_import", "import_events", "parse_events",
           "read_feed", "register", "scope_from_text"]
