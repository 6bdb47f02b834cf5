"""One site's time, split: up, down by cause, in maintenance, unmonitored. Pure functions.

The figures of a report are sums of :class:`SiteTime` values, one per site and Bangkok
day, so a month is the sum of its days (the daily rollups) and every number can be
checked by hand from a site's status changes, its maintenance windows and the incidents
that covered it.

Rules, in the order they apply to each moment of a site's day:

1. No status (pubnet was not running, or had not heard from the site yet): not monitored.
2. Inside one of the site's maintenance windows: ``maintenance`` (monitored, but neither
   up nor down).
3. Up: ``up``. Down: ``down_power`` while a ``power`` incident of alerting covered it (a
   power cut: the grid, not the network), else ``down_upstream`` while an incident rooted
   above the site covered it, else ``down_equipment`` while an incident rooted at the
   site's own devices covered it, else ``down_unknown``. Power comes first because a power
   incident *explains* the other two for that time: alerting groups sites into it from
   their own site incidents (which then covered the same minutes as equipment) and only
   while the routers above them answer; an outage explained as a power cut must not count
   against the site's equipment nor its backhaul.

An *outage* is one unbroken stretch of down time outside maintenance; it is counted on the
day it starts (``outages``), and ``continued`` marks a day that begins inside one, so that
a month counts an outage across midnight once.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, cast

UP = "up"
DOWN = "down"
EQUIPMENT = "equipment"
UPSTREAM = "upstream"
UNKNOWN = "unknown"
POWER = "power"

CAUSES = (EQUIPMENT, UPSTREAM, UNKNOWN, POWER)
"""The causes of down time, in the order every output lists them: the CSV columns
``outage_minutes_<cause>``, the JSON summary, the tables' columns (text ``col_<cause>``),
the summary tile and the chart (text ``cause_<cause>``, fill ``CAUSE_FILL``). A cause is
the field ``down_<cause>`` of :class:`SiteTime` (and of ``AreaFigures``, ``DailyRow`` and
the ``history_daily`` table); what sums, prints or stores causes goes through this table
(``tests/reports/test_causes.py`` checks that each cause has all of these). A new cause
goes last (the CSV columns are an interface), with its rule in :func:`split` and
``source_prometheus``, and its column migration in ``history.py`` (as ``down_power``)."""
DOWN_FIELDS = tuple(f"down_{cause}" for cause in CAUSES)
SUMMED = ("monitored", "maintenance", "up", *DOWN_FIELDS)
"""The seconds that add up from days to a period and from sites to an area, in the order
``history_daily`` rows are read and written."""

_by_cause = attrgetter(*DOWN_FIELDS)
_summed = attrgetter(*SUMMED)


def by_cause(seconds: object) -> tuple[float, ...]:
    """The down seconds of a :class:`SiteTime` (or anything with its ``down_<cause>``
    fields) in :data:`CAUSES` order."""
    return cast(tuple[float, ...], _by_cause(seconds))


def summed(seconds: object) -> tuple[float, ...]:
    """The :data:`SUMMED` seconds of a :class:`SiteTime` (or alike), in that order."""
    return cast(tuple[float, ...], _summed(seconds))


def _adder(term: str) -> Callable[[Any, Any], None]:
    """``add(into, other)`` doing ``into.<field> += <term>`` for each field of :data:`SUMMED`
    (``term`` formatted with the field's name ``f`` and position ``i``), compiled once from
    the table. It runs once per site-day (775,000 in a national month): as fast as the
    fields written out, where a ``getattr``/``setattr`` loop costs 0.4 µs more a call, about
    5 % of the report from the changes and 11 % of the one from rollups."""
    body = "".join(f"    into.{f} += {term.format(f=f, i=i)}\n" for i, f in enumerate(SUMMED))
    namespace: dict[str, Any] = {}
    exec(f"def add(into, other):\n{body}", namespace)
    return cast(Callable[[Any, Any], None], namespace["add"])


add_seconds = _adder("other.{f}")
"""``add_seconds(into, other)``: the :data:`SUMMED` seconds of ``other`` (a
:class:`SiteTime`, or an area's figures) added to ``into``."""
add_row_seconds = _adder("other[{i}]")
"""``add_row_seconds(into, values)``: seconds given in :data:`SUMMED` order (a
``history_daily`` row's) added to ``into``."""


@dataclass(slots=True)
class SiteTime:
    """Seconds of one site over one window (a day, or a whole period when summed)."""

    monitored: float = 0.0
    maintenance: float = 0.0
    up: float = 0.0
    down_equipment: float = 0.0
    down_upstream: float = 0.0
    down_unknown: float = 0.0
    down_power: float = 0.0
    outages: int = 0
    continued: bool = False
    incidents: frozenset[str] = frozenset()
    """Ids of the incidents that covered down time (immutable: most days share the empty
    one, which keeps a national month of 775,000 site-days small)."""

    @property
    def down(self) -> float:
        return sum(by_cause(self))

    def add(self, other: SiteTime) -> None:
        """Add a later window (its ``continued`` outage is already counted here)."""
        add_seconds(self, other)
        self.outages += other.outages
        if other.incidents:
            self.incidents = self.incidents | other.incidents


class Spans:
    """Sorted, merged ``[start, end)`` intervals with a fast "covers t"."""

    __slots__ = ("ends", "starts")

    def __init__(self, spans: Sequence[tuple[float, float]] = ()) -> None:
        merged: list[list[float]] = []
        for start, end in sorted(spans):
            if end <= start:
                continue
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]

    def covers(self, t: float) -> bool:
        i = bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]

    def edges(self) -> list[float]:
        return [*self.starts, *self.ends]

    def __bool__(self) -> bool:
        return bool(self.starts)


@dataclass(frozen=True, slots=True)
class Covering:
    """An incident covering one site from ``start`` to ``end`` with a cause."""

    incident_id: str
    start: float
    end: float
    cause: str
    """:data:`EQUIPMENT`, :data:`UPSTREAM` or :data:`POWER`."""


Stretch = tuple[float, float, str, float]
"""``(from, to, status, since)``: a known status inside a window; ``since`` is when it
began (before ``from`` when it was already in force as the window opened)."""


def segments(points: Sequence[tuple[float, str]], runs: Sequence[tuple[float, float]],
             start: float, end: float) -> list[Stretch]:
    """Known-status stretches inside ``[start, end)``.

    ``points`` are (time, status) changes in time order; the first may be the status in
    force at ``start``. A status holds until the next change or the end of the run
    (``runs``: sorted ``(started, ended)`` intervals pubnet was watching) it was recorded
    in, whichever is first; ``unknown`` statuses and times outside every run are left out.
    """
    run_starts = [r[0] for r in runs]
    found: list[Stretch] = []
    for i, (at, status) in enumerate(points):
        if status != UP and status != DOWN:
            continue
        stop = points[i + 1][0] if i + 1 < len(points) else end
        r = bisect_right(run_starts, at) - 1
        if r < 0 or at >= runs[r][1]:
            continue
        s, e = max(at, start), min(stop, end, runs[r][1])
        if e > s:
            found.append((s, e, status, at))
    return found


def split(stretches: Sequence[Stretch], day_starts: Sequence[float],
          end: float, maintenance: Spans | None = None,
          coverings: Sequence[Covering] = ()) -> list[SiteTime]:
    """:class:`SiteTime` per day for one site.

    ``day_starts`` are the starts of consecutive days (the first is the window's start,
    the last day ends at ``end``); ``stretches`` come from :func:`segments`.
    """
    out = [SiteTime() for _ in day_starts]
    if not stretches:
        return out
    # Hot path (25,000 sites × a month): spans as local sorted lists, one bisect per test.
    m_starts, m_ends = (maintenance.starts, maintenance.ends) if maintenance else ([], [])
    if coverings:
        upstream = Spans([(c.start, c.end) for c in coverings if c.cause == UPSTREAM])
        equipment = Spans([(c.start, c.end) for c in coverings if c.cause == EQUIPMENT])
        power = Spans([(c.start, c.end) for c in coverings if c.cause == POWER])
    else:
        upstream = equipment = power = Spans()
    u_starts, u_ends, e_starts, e_ends = (upstream.starts, upstream.ends, equipment.starts,
                                          equipment.ends)
    p_starts, p_ends = power.starts, power.ends
    if m_starts or coverings:
        edges = sorted({*day_starts, end, *m_starts, *m_ends, *u_starts, *u_ends, *e_starts,
                        *e_ends, *p_starts, *p_ends})
    else:
        edges = [*day_starts, end]
    window_start = day_starts[0]
    down_until = -1.0  # end of the last down (outside maintenance) piece
    carried = stretches[0][3] < window_start
    if carried and m_starts:
        i = bisect_right(m_starts, window_start - 1e-6) - 1
        carried = not (i >= 0 and window_start - 1e-6 < m_ends[i])
    for s, e, status, _since in stretches:
        lo, hi = bisect_right(edges, s), bisect_left(edges, e)
        a = s
        for index in range(lo, hi + 1):
            b = edges[index] if index < hi else e
            if b <= a:
                continue
            d = bisect_right(day_starts, a) - 1
            day = out[d]
            length = b - a
            day.monitored += length
            if m_starts:
                i = bisect_right(m_starts, a) - 1
                if i >= 0 and a < m_ends[i]:
                    day.maintenance += length
                    a = b
                    continue
            if status == UP:
                day.up += length
                a = b
                continue
            # Cause by precedence (module docstring): power, upstream, equipment, unknown.
            if p_starts and (i := bisect_right(p_starts, a) - 1) >= 0 and a < p_ends[i]:
                day.down_power += length
            elif u_starts and (i := bisect_right(u_starts, a) - 1) >= 0 and a < u_ends[i]:
                day.down_upstream += length
            elif e_starts and (i := bisect_right(e_starts, a) - 1) >= 0 and a < e_ends[i]:
                day.down_equipment += length
            else:
                day.down_unknown += length
            if down_until == a:
                if a == day_starts[d]:
                    day.continued = True
            elif a == window_start and carried:
                day.continued = True
            else:
                day.outages += 1
            down_until = b
            for c in coverings:
                if c.start < b and c.end > a and c.incident_id not in day.incidents:
                    day.incidents = day.incidents | {c.incident_id}
            a = b
    return out


def total(days: Sequence[SiteTime]) -> SiteTime:
    """A site's period from its days: sums, ``continued`` from the first day."""
    result = SiteTime()
    if days:
        result.continued = days[0].continued
    for day in days:
        result.add(day)
    return result


def outage_count(period: SiteTime) -> int:
    """Outages in a period: those that started in it plus one already going at its start."""
    return period.outages + (1 if period.continued else 0)
