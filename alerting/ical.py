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
(new times, a new scope, a cancellation) and never adds a second one. A recurring event
(RRULE, RDATE, EXDATE, occurrences overridden with RECURRENCE-ID) is expanded with the
``recurring-ical-events`` library over ``--horizon`` days (90 by default) into one window
per occurrence, keyed on UID + the occurrence's original start (its RECURRENCE-ID), so a
moved occurrence is updated in place. The feed is the truth for what it made: a window of
an occurrence that is no longer in it (an EXDATE added, a COUNT shortened, a cancelled
override, a whole event deleted from the same feed) is ended -- never started if it had not
begun, cut short now if it had. Times carry their TZID (or the feed's VTIMEZONE); times
without a zone are Thailand time; an all-day event covers its days in Thailand time.

An event that cannot be read (no UID, no DTSTART, a malformed RRULE/RDATE/EXDATE, a time
that is not one) is reported as ``FEED:LINE: event UID: problem: skipped`` and the others
are imported: one bad entry in the electricity authority's feed must not keep the rest of
its planned outages out. Windows already imported for a skipped UID are left as they were.
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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from alerting.cliopen import database_path, open_database, scope_inventory
from alerting.messages import BANGKOK, local_time
from pubnet.sqlite import transaction

if TYPE_CHECKING:
    from alerting.db import IncidentDB
    from inventory.model import Inventory

ScopeFrom = Literal["LOCATION", "SUMMARY"]
DEFAULT_HORIZON_DAYS = 90
MAX_HORIZON_DAYS = 3660
MAX_FEED_BYTES = 16 << 20
FETCH_TIMEOUT = 30.0
_EXPLICIT = re.compile(r"\b(province|district|site|device):([^\s,;()]+)", re.IGNORECASE)

IMPORTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS maintenance_occurrences (
    uid TEXT NOT NULL,
    occurrence TEXT NOT NULL,
    window_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    imported_at REAL NOT NULL,
    PRIMARY KEY (uid, occurrence)
);
"""
"""Which window each imported event (``occurrence`` ``''``) or occurrence of a recurring
event (its original start, ``20261215T020000Z`` or ``20261215``) made. The first release
keyed on UID alone in ``maintenance_imports``; :func:`import_events` moves those rows over."""


class FeedError(Exception):
    """The feed cannot be read or is not iCalendar; the text names the source."""


@dataclass(frozen=True, slots=True)
class Event:
    """One window to be: an event, or one occurrence of a recurring event."""

    uid: str
    summary: str
    location: str
    starts_at: float
    ends_at: float
    cancelled: bool
    occurrence: str = ""
    """``''`` for an event that does not recur, else the occurrence's original start."""
    line: int = 0
    """Where the event begins in the feed (for messages)."""


@dataclass(slots=True)
class Feed:
    """What a feed says: its windows-to-be, and what could not be used."""

    events: list[Event] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    uids: set[str] = field(default_factory=set)
    """Every UID in the feed, readable or not."""
    unreadable: set[str] = field(default_factory=set)
    """UIDs skipped for a problem: their windows are left as they were."""
    recurring: set[str] = field(default_factory=set)
    nameless: int = 0
    """Events without a UID (skipped)."""
    until: float = 0.0
    """End of the horizon recurring events were expanded to."""


@dataclass(slots=True)
class Outcome:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    cancelled: int = 0
    past: int = 0
    skipped: int = 0
    removed: int = 0


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


def parse_events(data: bytes, source: str, now: float,
                 horizon_days: int = DEFAULT_HORIZON_DAYS) -> Feed:
    """The windows-to-be of a feed, recurring events expanded up to ``horizon_days`` after
    ``now``, and a problem line for each event that cannot be used. Raises FeedError when
    the data is not iCalendar at all."""
    from icalendar import Calendar

    try:
        calendar = Calendar.from_ical(data)
    except ValueError as exc:
        raise FeedError(f"{_safe_url(source)}: not iCalendar ({exc})") from None
    feed = Feed(until=now + horizon_days * 86400.0)
    lines = _event_lines(data)
    series: dict[str, list[Any]] = {}
    for number, component in enumerate(calendar.walk("VEVENT")):
        uid = str(component.get("UID", "")).strip()
        line = lines[number] if number < len(lines) else 0
        if not uid:
            feed.nameless += 1
            feed.problems.append(f"{_where(source, line)}: event (no UID): a re-import could "
                                 "not update it: skipped")
            continue
        series.setdefault(uid, []).append((line, component))
    for uid, members in series.items():
        feed.uids.add(uid)
        line = members[0][0]
        broken = _broken(component for _line, component in members)
        if broken is not None:
            feed.problems.append(f"{_where(source, line)}: event {uid}: {broken}: skipped")
            feed.unreadable.add(uid)
            continue
        if any(c.get("RRULE") is not None or c.get("RDATE") is not None
               or c.get("RECURRENCE-ID") is not None for _line, c in members):
            feed.recurring.add(uid)
            problem = _expand(feed, calendar, uid, members, now)
        else:
            problem = None
            for member_line, component in members:  # the same UID twice: the last one wins
                line = member_line
                found = _event(uid, component, "", line)
                if isinstance(found, str):
                    problem = found
                    break
                feed.events.append(found)
        if problem is not None:
            feed.problems.append(f"{_where(source, line)}: event {uid}: {problem}: skipped")
            feed.unreadable.add(uid)
            feed.events = [e for e in feed.events if e.uid != uid]
    return feed


_RECURRENCE_PROPERTIES = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE",
                          "RECURRENCE-ID")


def _broken(components: Iterable[Any]) -> str | None:
    """What icalendar could not read in the properties that place an event in time."""
    for component in components:
        for name, error in getattr(component, "errors", ()):
            if name in _RECURRENCE_PROPERTIES:
                value = component.get(name)  # a broken value keeps its text (a str)
                text = str(value) if isinstance(value, str) else ""
                return f"{name} {text!r} cannot be read ({error})"
    return None


def _expand(feed: Feed, calendar: Any, uid: str, members: list[tuple[int, Any]],
            now: float) -> str | None:
    """Add the occurrences of one recurring event between ``now`` and the horizon; the
    problem that keeps it out, if any."""
    import recurring_ical_events
    from icalendar import Calendar

    one = Calendar()
    for timezone in calendar.walk("VTIMEZONE"):
        one.add_component(timezone)
    for _line, component in members:
        one.add_component(component)
    try:
        occurrences = list(recurring_ical_events.of(one).between(
            datetime.fromtimestamp(now, BANGKOK), datetime.fromtimestamp(feed.until, BANGKOK)))
    except (recurring_ical_events.InvalidCalendar, ValueError, TypeError,
            AttributeError, KeyError) as exc:
        return f"cannot expand its recurrence ({exc})"
    line = members[0][0]
    found: list[Event] = []
    for occurrence in occurrences:
        original = occurrence.get("RECURRENCE-ID") or occurrence.get("DTSTART")
        try:
            key = _occurrence_key(original.dt)
        except (ValueError, AttributeError) as exc:
            return f"unreadable occurrence ({exc})"
        event = _event(uid, occurrence, key, line)
        if isinstance(event, str):
            return f"occurrence {key}: {event}"
        found.append(event)
    feed.events.extend(found)
    return None


def _occurrence_key(value: object) -> str:
    """An occurrence's original start as a stable key: UTC for a time, the day for a date."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=BANGKOK)
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    raise ValueError("not a date or date-time")


def _event(uid: str, component: Any, occurrence: str, line: int) -> Event | str:
    """The window of one event or occurrence, or why it has none."""
    start_prop = component.get("DTSTART")
    if start_prop is None:
        return "no DTSTART"
    start_value = start_prop.dt
    cancelled = str(component.get("STATUS", "")).upper() == "CANCELLED"
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
        return f"unreadable time ({exc})"
    if ends <= starts and not cancelled:
        return "ends before it starts"
    return Event(uid, str(component.get("SUMMARY", "")), str(component.get("LOCATION", "")),
                 starts, ends, cancelled, occurrence, line)


def _event_lines(data: bytes) -> list[int]:
    """The line each VEVENT begins on, in feed order (as icalendar walks them)."""
    text = data.decode("utf-8", errors="replace")
    return [number for number, line in enumerate(text.splitlines(), start=1)
            if line.strip().upper() == "BEGIN:VEVENT"]


def _where(source: str, line: int) -> str:
    return f"{_safe_url(source)}:{line}" if line else _safe_url(source)


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


def import_events(db: IncidentDB, feed: Feed, scope_from: ScopeFrom, source: str, by: str,
                  inventory: Inventory | None, now: float, problems: list[str]) -> Outcome:
    """Add or update one window per event UID and occurrence, and end the windows of
    occurrences no longer in the feed (one transaction; module docstring)."""
    from alerting.scopes import scope_problem

    outcome = Outcome()
    conn = db.conn
    conn.executescript(IMPORTS_SCHEMA)
    origin = source_key(source)
    with transaction(conn):
        _move_old_imports(conn)
        seen: set[tuple[str, str]] = set()
        for event in feed.events:
            where = f"{_where(source, event.line)}: event {event.uid}" + (
                f" on {event.occurrence}" if event.occurrence else "")
            seen.add((event.uid, event.occurrence))
            known = conn.execute(
                "SELECT m.id, m.scope, m.starts_at, m.ends_at, m.note FROM "
                "maintenance_occurrences i JOIN maintenance m ON m.id = i.window_id "
                "WHERE i.uid = ? AND i.occurrence = ?",
                (event.uid, event.occurrence)).fetchone()
            if event.cancelled:
                if known is not None and known[3] > known[2]:
                    _end_window(conn, known[0], now)
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
                conn.execute(
                    "INSERT INTO maintenance_occurrences (uid, occurrence, window_id, source, "
                    "imported_at) VALUES (?, ?, ?, ?, ?)",
                    (event.uid, event.occurrence, int(cur.lastrowid or 0), origin, now))
                outcome.added += 1
            elif tuple(known[1:]) != row:
                conn.execute("UPDATE maintenance SET scope = ?, starts_at = ?, ends_at = ?, "
                             "note = ? WHERE id = ?", (*row, known[0]))
                conn.execute("UPDATE maintenance_occurrences SET imported_at = ? "
                             "WHERE uid = ? AND occurrence = ?",
                             (now, event.uid, event.occurrence))
                outcome.updated += 1
            else:
                outcome.unchanged += 1
        outcome.removed = _end_missing(conn, feed, seen, origin, now)
    return outcome


def _end_missing(conn: sqlite3.Connection, feed: Feed, seen: set[tuple[str, str]],
                 origin: str, now: float) -> int:
    """End the windows (not over yet) of occurrences the feed no longer has: an occurrence
    of an event it still has, up to the horizon it was expanded to; or any window of an
    event gone from the same feed. Events skipped for a problem keep theirs."""
    rows = conn.execute(
        "SELECT i.uid, i.occurrence, i.source, m.id, m.starts_at FROM "
        "maintenance_occurrences i JOIN maintenance m ON m.id = i.window_id "
        "WHERE m.ends_at > ? AND m.ends_at > m.starts_at", (now,)).fetchall()
    removed = 0
    for uid, occurrence, origin_of, window_id, starts_at in rows:
        if (uid, occurrence) in seen or uid in feed.unreadable:
            continue
        if uid in feed.uids:
            if uid in feed.recurring and occurrence and starts_at >= feed.until:
                continue  # beyond this import's horizon: not looked at
        elif origin_of != origin:
            continue  # another feed's event
        _end_window(conn, window_id, now)
        removed += 1
    return removed


def _end_window(conn: sqlite3.Connection, window_id: int, now: float) -> None:
    """Never start a window not begun; cut one under way short now (the row stays)."""
    conn.execute("UPDATE maintenance SET ends_at = MAX(MIN(ends_at, ?), starts_at) "
                 "WHERE id = ?", (now, window_id))


def _move_old_imports(conn: sqlite3.Connection) -> None:
    """Rows of the first release's ``maintenance_imports`` (UID alone) become occurrence
    ``''`` rows (inside the import's transaction, so two imports cannot both move them)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                    "name = 'maintenance_imports'").fetchone() is None:
        return
    conn.execute("INSERT OR IGNORE INTO maintenance_occurrences (uid, occurrence, window_id, "
                 "source, imported_at) SELECT uid, '', window_id, source, imported_at "
                 "FROM maintenance_imports")
    conn.execute("DROP TABLE maintenance_imports")


def source_key(source: str) -> str:
    """How a feed is known between imports: a URL without its query, a file's full path."""
    if re.match(r"^https?://", source, re.IGNORECASE):
        return _safe_url(source)
    return str(Path(source).resolve())


def cmd_maintenance_import(args: argparse.Namespace) -> int:
    """The command's handler (registered in :mod:`alerting.cli`)."""
    from pubnet.cliout import EXIT_BAD_INPUT, EXIT_OK

    path = database_path(args.config)
    if path is None:
        return EXIT_BAD_INPUT
    now = time.time()
    try:
        feed = parse_events(read_feed(args.ics), args.ics, now, args.horizon)
    except FeedError as exc:
        print(f"pubnet maintenance import: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    ok, inventory = scope_inventory(args, "pubnet maintenance import")
    if not ok:
        return EXIT_BAD_INPUT
    with open_database(path) as db:
        try:
            outcome = import_events(db, feed, args.scope_from, args.ics, args.by, inventory,
                                    now, feed.problems)
        except sqlite3.Error as exc:
            print(f"pubnet maintenance import: {path}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    for problem in feed.problems:
        print(f"warning: {problem}", file=sys.stderr)
    windows = len(feed.events)
    events = len(feed.uids) + feed.nameless
    expanded = (f" ({windows} windows: recurring events up to {local_time(feed.until)})"
                if feed.recurring else "")
    print(f"{_safe_url(args.ics)}: {events} events{expanded}: {outcome.added} added, "
          f"{outcome.updated} updated, {outcome.unchanged} unchanged, {outcome.cancelled} "
          f"cancelled, {outcome.past} already over, {outcome.skipped} skipped, "
          f"{len(feed.unreadable)} unreadable, {outcome.removed} removed "
          f"({local_time(now)} Thailand time)")
    return EXIT_OK


def _horizon(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_HORIZON_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r}: a number of days, 1 to {MAX_HORIZON_DAYS}")
    return days


def register(maint_cmds: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``import`` to ``pubnet maintenance``."""
    imp = maint_cmds.add_parser(
        "import", help="add or update windows from an iCalendar file or URL (by UID)")
    imp.add_argument("--ics", required=True, metavar="FILE_OR_URL",
                     help="an .ics file, or an http(s) URL of a calendar feed")
    imp.add_argument("--scope-from", required=True, choices=["LOCATION", "SUMMARY"],
                     help="the event property that names the scope")
    imp.add_argument("--horizon", type=_horizon, default=DEFAULT_HORIZON_DAYS, metavar="DAYS",
                     help="expand recurring events this many days ahead "
                          f"(default {DEFAULT_HORIZON_DAYS})")
    imp.add_argument("--by", default="ics", help="recorded as who added the windows")
    imp.add_argument("--config", type=Path)
    imp.add_argument("--inventory", type=Path,
                     help="inventory to check scopes against (default: the config's)")
    imp.set_defaults(handler=cmd_maintenance_import)


__all__ = ["Event", "Feed", "FeedError", "cmd_maintenance_import", "import_events", "parse_events",
           "read_feed", "register", "scope_from_text", "source_key"]
