"""Report periods and dates: Bangkok days, months, Thai fiscal years, Buddhist-era dates.

Every day boundary in pubnet's reports is midnight in Asia/Bangkok (UTC+7 all year), the
day the ministry counts in, whatever the server's time zone. Pure functions only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")
BE_OFFSET = 543
"""Buddhist-era year = Gregorian year + 543 (พ.ศ. 2569 is 2026)."""

THAI_MONTHS = ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม",
               "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม")
THAI_MONTHS_SHORT = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.",
                     "ต.ค.", "พ.ย.", "ธ.ค.")
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")


class PeriodError(ValueError):
    """A period that cannot be reported on; the message says why, for the command line."""


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` as aware datetimes; ``kind`` says how it was asked for."""

    start: datetime
    end: datetime
    kind: str = "range"
    """``month``, ``fiscal_year`` or ``range``."""

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        return self.end.timestamp()

    @property
    def seconds(self) -> float:
        return self.end_ts - self.start_ts


def day_of(ts: float) -> str:
    """``YYYY-MM-DD`` of the Bangkok day containing Unix time ``ts``."""
    return datetime.fromtimestamp(ts, BANGKOK).date().isoformat()


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=BANGKOK).timestamp()


@dataclass(frozen=True, slots=True)
class Day:
    """One Bangkok day of a period, clipped to it: ``[start, end)``; ``whole`` when the
    period covers the day from midnight to midnight."""

    day: str
    start: float
    end: float
    whole: bool


def days(start: float, end: float) -> list[Day]:
    """The Bangkok days ``[start, end)`` touches, each clipped to it."""
    found: list[Day] = []
    current = datetime.fromtimestamp(start, BANGKOK).date()
    while True:
        d0 = day_start(current)
        if d0 >= end:
            break
        nxt = current + timedelta(days=1)
        d1 = day_start(nxt)
        s, e = max(start, d0), min(end, d1)
        if e > s:
            found.append(Day(current.isoformat(), s, e, s == d0 and e == d1))
        current = nxt
    return found


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_moment(text: str, what: str) -> datetime:
    """A day (``2026-11-03``: midnight in Bangkok) or an ISO time with a zone."""
    text = text.strip()
    try:
        if _DAY.match(text):
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=BANGKOK)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{what} {text!r}: expected a day (2026-11-01) or an ISO time with "
                          "a zone (2026-11-01T06:00+07:00)") from None
    if moment.tzinfo is None:
        raise PeriodError(f"{what} {text!r}: an ISO time needs a zone, e.g. "
                          f"{text}+07:00 (or give a day, which is Bangkok's)")
    return moment


def month_period(text: str) -> Period:
    """``2026-11`` → from 2026-11-01 to 2026-12-01, Bangkok."""
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise PeriodError(f"--month {text!r}: expected YYYY-MM, e.g. 2026-11")
    year, month = int(match.group(1)), int(match.group(2))
    if year > 2400:
        raise PeriodError(f"--month {text!r}: give the Gregorian year "
                          f"({year - BE_OFFSET}-{month:02d} for พ.ศ. {year})")
    start = datetime(year, month, 1, tzinfo=BANGKOK)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=BANGKOK)
    return Period(start, end, "month")


def fiscal_year_period(be_year: int) -> Period:
    """Thai government fiscal year ``be_year`` (พ.ศ.): 1 October of the year before to
    1 October. ``2569`` → 2025-10-01 to 2026-10-01."""
    if not 2400 < be_year < 2700:
        raise PeriodError(f"--fiscal-year {be_year}: give the Buddhist-era year, e.g. 2569")
    year = be_year - BE_OFFSET
    return Period(datetime(year - 1, 10, 1, tzinfo=BANGKOK),
                  datetime(year, 10, 1, tzinfo=BANGKOK), "fiscal_year")


def range_period(start: str, end: str) -> Period:
    begin, finish = parse_moment(start, "--from"), parse_moment(end, "--to")
    if finish <= begin:
        raise PeriodError(f"--from {start} is not before --to {end} (--to is exclusive)")
    return Period(begin, finish, "range")


def check_not_future(period: Period, now: float) -> None:
    if period.start_ts >= now:
        raise PeriodError("the period starts in the future "
                          f"({period.start.astimezone(BANGKOK):%Y-%m-%d %H:%M} Bangkok): "
                          "nothing has been recorded for it yet")


def previous_month(now: float) -> Period:
    """The calendar month before the one containing ``now`` (Bangkok)."""
    today = datetime.fromtimestamp(now, BANGKOK)
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return month_period(f"{year}-{month:02d}")


def format_date(moment: datetime, lang: str, *, short: bool = False) -> str:
    """``1 พฤศจิกายน พ.ศ. 2569`` / ``1 November 2026`` (``short``: ``1 พ.ย. 69``)."""
    local = moment.astimezone(BANGKOK)
    if lang == "th":
        if short:
            return f"{local.day} {THAI_MONTHS_SHORT[local.month - 1]} " \
                   f"{(local.year + BE_OFFSET) % 100:02d}"
        return f"{local.day} {THAI_MONTHS[local.month - 1]} พ.ศ. {local.year + BE_OFFSET}"
    if short:
        return f"{local.day} {EN_MONTHS[local.month - 1][:3]}"
    return f"{local.day} {EN_MONTHS[local.month - 1]} {local.year}"


def format_day(day: str, lang: str, *, short: bool = False) -> str:
    d = date.fromisoformat(day)
    return format_date(datetime(d.year, d.month, d.day, tzinfo=BANGKOK), lang, short=short)


def format_time(ts: float, lang: str) -> str:
    """A moment for the report's footer, Bangkok time."""
    local = datetime.fromtimestamp(ts, UTC).astimezone(BANGKOK)
    return f"{format_date(local, lang)} {local:%H:%M}"


def period_name(period: Period, lang: str) -> str:
    """``เดือนพฤศจิกายน พ.ศ. 2569`` / ``November 2026``; the fiscal year; a date range."""
    start = period.start.astimezone(BANGKOK)
    if period.kind == "month":
        if lang == "th":
            return f"เดือน{THAI_MONTHS[start.month - 1]} พ.ศ. {start.year + BE_OFFSET}"
        return f"{EN_MONTHS[start.month - 1]} {start.year}"
    if period.kind == "fiscal_year":
        end = period.end.astimezone(BANGKOK)
        if lang == "th":
            return f"ปีงบประมาณ พ.ศ. {end.year + BE_OFFSET}"
        return f"Thai fiscal year {end.year + BE_OFFSET} (Oct {start.year} – Sep {end.year})"
    last = period.end - timedelta(seconds=1)
    span = f"{format_date(period.start, lang)} – {format_date(last, lang)}"
    return f"วันที่ {span}" if lang == "th" else span


def period_title(period: Period, lang: str) -> str:
    """The period as the report's title says it: ``ประจำเดือนพฤศจิกายน พ.ศ. 2569``."""
    name = period_name(period, lang)
    if lang == "th":
        return f"ประจำ{name}" if period.kind != "range" else f"ช่วง{name}"
    return name
