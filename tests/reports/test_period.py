"""Periods and Thai dates: Bangkok days, months, fiscal years, Buddhist-era years."""

from __future__ import annotations

from datetime import datetime

import pytest

from dashboards.reports.period import (
    BANGKOK,
    PeriodError,
    days,
    fiscal_year_period,
    format_date,
    month_period,
    period_name,
    period_title,
    previous_month,
    range_period,
)


def test_month_is_bangkok_midnight_to_midnight() -> None:
    p = month_period("2026-11")
    assert p.start == datetime(2026, 11, 1, tzinfo=BANGKOK)
    assert p.end == datetime(2026, 12, 1, tzinfo=BANGKOK)
    assert p.start_ts == datetime.fromisoformat("2026-10-31T17:00:00+00:00").timestamp()
    assert [d.day for d in days(p.start_ts, p.end_ts)][::29] == ["2026-11-01", "2026-11-30"]
    assert month_period("2026-12").end == datetime(2027, 1, 1, tzinfo=BANGKOK)


def test_fiscal_year_2569_is_october_2025_to_september_2026() -> None:
    p = fiscal_year_period(2569)
    assert (p.start, p.end) == (datetime(2025, 10, 1, tzinfo=BANGKOK),
                                datetime(2026, 10, 1, tzinfo=BANGKOK))
    assert period_title(p, "th") == "ประจำปีงบประมาณ พ.ศ. 2569"
    assert "2569" in period_title(p, "en")


def test_thai_and_english_dates() -> None:
    moment = datetime(2026, 11, 5, 10, tzinfo=BANGKOK)
    assert format_date(moment, "th") == "5 พฤศจิกายน พ.ศ. 2569"
    assert format_date(moment, "th", short=True) == "5 พ.ย. 69"
    assert format_date(moment, "en") == "5 November 2026"
    assert period_name(month_period("2026-11"), "th") == "เดือนพฤศจิกายน พ.ศ. 2569"
    assert period_title(month_period("2026-11"), "en") == "November 2026"


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [("2026-11-01", "2026-11-02", 86400.0),
     ("2026-11-01T06:00+07:00", "2026-11-01T07:30+07:00", 5400.0),
     ("2026-11-01T00:00Z", "2026-11-01", None)],
    ids=["days", "iso-with-zone", "utc-after-bangkok-midnight"],
)
def test_ranges(start: str, end: str, seconds: float | None) -> None:
    if seconds is None:  # 00:00 UTC is 07:00 in Bangkok: after --to 2026-11-01 (00:00 +07)
        with pytest.raises(PeriodError, match="is not before"):
            range_period(start, end)
        return
    assert range_period(start, end).seconds == seconds


def test_previous_month_across_the_year() -> None:
    jan = datetime(2027, 1, 1, 6, tzinfo=BANGKOK).timestamp()
    assert previous_month(jan).start == datetime(2026, 12, 1, tzinfo=BANGKOK)
    # 31 Dec 20:00 UTC is already 1 January in Bangkok
    assert previous_month(datetime.fromisoformat("2026-12-31T20:00:00+00:00").timestamp()
                          ).start == datetime(2026, 12, 1, tzinfo=BANGKOK)
