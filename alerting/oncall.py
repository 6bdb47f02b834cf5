"""The on-call rota (``oncall.csv``) and the route target ``oncall``.

A route whose channels name ``oncall`` sends to a person, not a group: the technician on
call for the incident's district *now* (Asia/Bangkok), else the one on call for its
province. Each escalation step of such a route (``escalate_to: [oncall]``,
``escalate_steps``) walks one person further down the same list, and the last step reaches
the provincial lead (:meth:`alerting.directory.Directory.lead_of`).

``oncall.csv`` columns: ``district_code,technician_id,weekdays,from,to``.

* ``district_code``: a 4-digit district, or a 2-digit province for a province-wide row;
* ``weekdays``: ``mon-fri``, ``sat,sun``, ``mon``, ``daily``; or a date ``2026-04-13`` or a
  date range ``2026-04-13..2026-04-16``, which makes the row an *override*: while an
  override row of an area is on, the area's regular rows are not (someone is on leave);
* ``from``/``to``: ``HH:MM`` Thailand time; ``to`` at or before ``from`` runs past midnight
  (the shift belongs to the day it starts); ``00:00``-``24:00`` is the whole day.

Everything here is a pure function of a timestamp, so tests set the clock instead of
sleeping. A message to a technician goes out on the channel ``oncall:<technician_id>``
(one outbox queue per person, so one slow phone never holds up another), through the
first configured LINE channel when the technician has a LINE user id, else Telegram, else
e-mail (:func:`personal_channel`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from alerting.directory import (
    Directory,
    DirectoryError,
    Technician,
    load_technicians,
    read_rows,
)
from alerting.impact import Location
from alerting.messages import BANGKOK, Language
from alerting.model import Incident, Reason, Send
from inventory.problems import Problem
from pubnet.config import AlertChannel, EmailChannel, LineChannel, TelegramChannel

log = logging.getLogger("pubnet.alerting")

ONCALL = "oncall"
"""The route target: the person on call, resolved per message."""
PERSONAL = "oncall:"
"""Prefix of a technician's own outbox channel: ``oncall:tech-07``."""

COLUMNS = ("district_code", "technician_id", "weekdays", "from", "to")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_DATE_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?")


def personal(technician_id: str) -> str:
    return PERSONAL + technician_id


@dataclass(frozen=True, slots=True)
class Shift:
    """One row of ``oncall.csv``."""

    line: int
    area: str
    """District (4 digits) or province (2 digits) code."""
    technician_id: str
    weekdays: frozenset[int]
    """0 = Monday; empty for an override row."""
    dates: tuple[date, date] | None
    """First and last day of an override row."""
    start: int
    """Minutes after midnight, Thailand time."""
    end: int

    @property
    def override(self) -> bool:
        return self.dates is not None

    def covers(self, at: datetime) -> bool:
        """Whether the shift is on at ``at`` (a Thailand-time datetime)."""
        minute = at.hour * 60 + at.minute
        if self.start < self.end:
            if not self.start <= minute < self.end:
                return False
            day = at.date()
        elif minute >= self.start:
            day = at.date()
        elif minute < self.end:
            day = at.date() - timedelta(days=1)  # the night shift that started yesterday
        else:
            return False
        if self.dates is not None:
            return self.dates[0] <= day <= self.dates[1]
        return day.weekday() in self.weekdays


def parse_weekdays(text: str) -> frozenset[int]:
    """``mon-fri``, ``sat,sun``, ``daily``; raises ValueError."""
    text = text.strip().lower()
    if text in ("daily", "*", "all"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        first, sep, last = part.partition("-")
        if first not in DAYS or (sep and last not in DAYS):
            raise ValueError(f"{text!r}: use mon-fri, sat,sun, daily or a date "
                             "(2026-04-13 or 2026-04-13..2026-04-16)")
        a = DAYS.index(first)
        b = DAYS.index(last) if sep else a
        day = a
        while True:  # mon-fri, and fri-mon wraps over the weekend
            days.add(day)
            if day == b:
                break
            day = (day + 1) % 7
    return frozenset(days)


def parse_clock(text: str, *, end: bool) -> int:
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time: use HH:MM (Thailand time)")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not end)):
        raise ValueError(f"{text!r} is not a time of day" + ("" if end else
                         " (24:00 only as the end of a shift)"))
    return hours * 60 + minutes


class Rota:
    """Shifts by area; :meth:`chain` is who to tell, in order, at a given time."""

    def __init__(self, shifts: Iterable[Shift] = ()) -> None:
        self.shifts = list(shifts)
        self._by_area: dict[str, list[Shift]] = {}
        for shift in self.shifts:
            self._by_area.setdefault(shift.area, []).append(shift)

    def areas(self) -> list[str]:
        """The districts and provinces the rota has rows for."""
        return list(self._by_area)

    def on_call(self, area: str, ts: float) -> list[str]:
        """Technician ids on call for ``area`` at ``ts``: its override rows when one is on,
        else its regular rows, in file order."""
        at = datetime.fromtimestamp(ts, BANGKOK)
        shifts = self._by_area.get(area, ())
        overrides = [s.technician_id for s in shifts if s.override and s.covers(at)]
        if overrides:
            return overrides
        return [s.technician_id for s in shifts if not s.override and s.covers(at)]

    def chain(self, directory: Directory, district: str, province: str,
              ts: float) -> list[Technician]:
        """Who is told, first to last: on call for the district, then for the province,
        then the provincial lead (each once)."""
        out: list[Technician] = []
        seen: set[str] = set()
        ids = [*self.on_call(district, ts), *self.on_call(province, ts)] if district else [
            *self.on_call(province, ts)]
        lead = directory.lead_of(province)
        if lead is not None:
            ids.append(lead.technician_id)
        for tech_id in ids:
            tech = directory.get(tech_id)
            if tech is not None and tech_id not in seen:
                seen.add(tech_id)
                out.append(tech)
        return out


def load_rota(path: Path, directory: Directory) -> Rota:
    """Read ``oncall.csv`` against the directory. Raises :class:`DirectoryError`."""
    from inventory.geography import district_index, province_index

    problems: list[Problem] = []
    file = str(path)
    shifts: list[Shift] = []
    for line, row in read_rows(path, COLUMNS, COLUMNS, problems):
        bad = len(problems)

        def problem(field: str, message: str, line: int = line) -> None:
            problems.append(Problem(file, line, field, message))

        area = row["district_code"]
        if len(area) == 4 and area.isdigit():
            if area not in district_index():
                problem("district_code", f"no district has the code {area}")
        elif len(area) == 2 and area.isdigit():
            if area not in province_index():
                problem("district_code", f"no province has the code {area}")
        else:
            problem("district_code", f"{area!r}: a 4-digit district code (or a 2-digit "
                    "province code for a province-wide row)")
        tech_id = row["technician_id"]
        if directory.get(tech_id) is None:
            problem("technician_id", f"{tech_id!r} is not in the technician directory")
        weekdays: frozenset[int] = frozenset()
        dates: tuple[date, date] | None = None
        text = row["weekdays"]
        match = _DATE_RANGE.fullmatch(text)
        try:
            if match is not None:
                first = date.fromisoformat(match.group(1))
                last = date.fromisoformat(match.group(2) or match.group(1))
                if last < first:
                    raise ValueError(f"{text!r}: the range ends before it starts")
                dates = (first, last)
            else:
                weekdays = parse_weekdays(text)
        except ValueError as exc:
            problem("weekdays", str(exc))
        start = end = 0
        try:
            start = parse_clock(row["from"], end=False)
        except ValueError as exc:
            problem("from", str(exc))
        try:
            end = parse_clock(row["to"], end=True)
        except ValueError as exc:
            problem("to", str(exc))
        if len(problems) == bad:
            shifts.append(Shift(line, area, tech_id, weekdays, dates, start, end))
    if problems:
        raise DirectoryError(problems)
    return Rota(shifts)


def personal_channel(tech: Technician,
                     channels: Mapping[str, AlertChannel]) -> AlertChannel | None:
    """The channel a technician is reached on: the first LINE channel (to their LINE user
    id), else the first Telegram channel (to their chat), else the first e-mail channel
    (to their address); None when they cannot be reached."""
    def first(kind: type) -> AlertChannel | None:
        return next((c for c in channels.values() if isinstance(c, kind)), None)

    line = first(LineChannel)
    if tech.line_user_id and isinstance(line, LineChannel):
        return line.model_copy(update={"to": tech.line_user_id})
    telegram = first(TelegramChannel)
    if tech.telegram_user_id and isinstance(telegram, TelegramChannel):
        return telegram.model_copy(update={"chat_id": tech.telegram_user_id})
    email = first(EmailChannel)
    if tech.email and isinstance(email, EmailChannel):
        return email.model_copy(update={"to": [tech.email]})
    return None


@dataclass(frozen=True, slots=True)
class Oncall:
    """The directory, the rota and how each technician is reached: what the alerting
    service needs to turn the ``oncall`` target into people."""

    directory: Directory
    rota: Rota
    reachable: frozenset[str]
    """Technicians with a channel (:func:`personal_channel`)."""

    def people(self, district: str, province: str, ts: float,
               steps: Sequence[int], escalation: bool = False) -> list[str]:
        """Outbox channels (``oncall:<id>``) for the given positions on the chain (0 = on
        call now; a position past the end is the last person, the lead)."""
        chain = [t for t in self.rota.chain(self.directory, district, province, ts)
                 if t.technician_id in self.reachable]
        if not chain:
            return []
        out: list[str] = []
        if escalation and max(steps, default=0) >= len(chain) and (
                self.directory.lead_of(province) is None):
            log.warning("escalation has nobody further: no provincial lead, the last person "
                        "on call is told again", extra={
                            "province": province, "district": district,
                            "step": max(steps), "last": chain[-1].technician_id})
        for step in steps:
            name = personal(chain[min(step, len(chain) - 1)].technician_id)
            if name not in out:
                out.append(name)
        return out


def expand(oncall: Oncall | None, pairs: Sequence[tuple[str, Language]], incident: Incident,
           send: Send, location: Location, now: float) -> list[tuple[str, Language]]:
    """Replace the ``oncall`` target in a message's (channel, language) pairs by the people
    it means now: an escalation step ``k`` of a route reaches position ``k`` on the chain;
    every other message reaches whoever was reached so far (positions 0..k)."""
    if not any(name == ONCALL for name, _ in pairs):
        return list(pairs)
    if send.reason is Reason.ESCALATE:
        timer = next((t for t in incident.timers if t.route == send.route), None)
        steps: Sequence[int] = [timer.escalations if timer is not None else 1]
    else:
        steps = range(max((t.escalations for t in incident.timers), default=0) + 1)
    out: list[tuple[str, Language]] = []
    for name, language in pairs:
        if name != ONCALL:
            out.append((name, language))
        elif oncall is not None:
            out.extend((person, language) for person in oncall.people(
                location.district_code, location.province_code, now, steps,
                escalation=send.reason is Reason.ESCALATE))
    return out


def load_oncall(technicians: Path, oncall: Path | None,
                channels: Mapping[str, AlertChannel]) -> tuple[Oncall, dict[str, AlertChannel]]:
    """Read both files; returns the :class:`Oncall` and each reachable technician's
    channel by outbox name. Raises :class:`DirectoryError`."""
    directory = load_technicians(technicians)
    rota = load_rota(oncall, directory) if oncall is not None else Rota()
    for province in sorted({area[:2] for area in rota.areas()}):
        if directory.lead_of(province) is None:
            log.warning("no provincial lead: escalation there stops at the last person on "
                        "call", extra={"province": province, "file": str(technicians)})
    personal_channels: dict[str, AlertChannel] = {}
    for tech in directory.by_id.values():
        channel = personal_channel(tech, channels)
        if channel is not None:
            personal_channels[personal(tech.technician_id)] = channel
    reachable = frozenset(name[len(PERSONAL):] for name in personal_channels)
    return Oncall(directory, rota, reachable), personal_channels


__all__ = ["ONCALL", "PERSONAL", "DirectoryError", "Oncall", "Rota", "Shift", "expand",
           "load_oncall", "load_rota", "personal", "personal_channel"]
