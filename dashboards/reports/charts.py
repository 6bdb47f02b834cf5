"""Inline SVG charts for the coverage report: no script, no network, prints in black and white.

Every status is drawn twice, by colour and by shape or fill pattern (and the value is
written beside each bar), so a grey photocopy reads the same as the screen. Pure string
building; coordinates are rounded to one decimal to keep a national map small.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from dashboards.reports.figures import AreaFigures, SiteFigures
from dashboards.reports.period import format_day
from dashboards.reports.text import pct, t
from dashboards.reports.timeline import CAUSES

GOOD, WARN, BAD, NONE = "#1a7f37", "#d9822b", "#b42318", "#8c8c8c"
INK, GRID = "#222", "#c8c8c8"
FAR_BELOW = 5.0
"""Percentage points under the SLA from which a site or area counts as far below."""

THAILAND = (97.3, 105.7, 5.5, 20.5)
"""lon_min, lon_max, lat_min, lat_max of the map."""


def band(value: float | None, sla: float) -> str:
    """``meets``, ``below``, ``far_below`` or ``unseen``: the status classes of every chart."""
    if value is None:
        return "unseen"
    if value >= sla:
        return "meets"
    return "below" if value >= sla - FAR_BELOW else "far_below"


BAND_COLOUR = {"meets": GOOD, "below": WARN, "far_below": BAD, "unseen": NONE}
BAND_TEXT = {"meets": "meets", "below": "below", "far_below": "far_below", "unseen": "unseen"}


def patterns(prefix: str) -> str:
    """Fill patterns keyed by band (``url(#<prefix>-below)``)."""
    return (
        "<defs>"
        f'<pattern id="{prefix}-below" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{WARN}"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/></pattern>'
        f'<pattern id="{prefix}-far_below" width="5" height="5" patternUnits="userSpaceOnUse">'
        f'<rect width="5" height="5" fill="{BAD}"/>'
        '<path d="M0 0L5 5M5 0L0 5" stroke="#fff" stroke-width="1.2"/></pattern>'
        f'<pattern id="{prefix}-upstream" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#5b7db1"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/></pattern>'
        f'<pattern id="{prefix}-unknown" width="5" height="5" patternUnits="userSpaceOnUse">'
        '<rect width="5" height="5" fill="#bdbdbd"/><circle cx="2.5" cy="2.5" r="1" '
        'fill="#444"/></pattern>'
        f'<pattern id="{prefix}-power" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<rect width="6" height="6" fill="#d9a21b"/>'
        '<line x1="0" y1="3" x2="6" y2="3" stroke="#fff" stroke-width="1.6"/></pattern>'
        "</defs>")


def fill(prefix: str, status: str) -> str:
    if status == "meets":
        return GOOD
    if status == "unseen":
        return NONE
    return f"url(#{prefix}-{status})"


def marker(status: str, size: int = 10) -> str:
    """A small inline shape for a status: circle, triangle, square or cross."""
    return (f'<svg class="marker" width="{size}" height="{size}" viewBox="0 0 10 10" '
            f'aria-hidden="true">{_shape(status, 5, 5, 4.2)}</svg>')


def _shape(status: str, x: float, y: float, r: float) -> str:
    colour = BAND_COLOUR[status]
    if status == "meets":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}"/>'
    if status == "below":
        return (f'<path d="M{x:.1f} {y - r:.1f}L{x + r:.1f} {y + r * 0.8:.1f}'
                f'L{x - r:.1f} {y + r * 0.8:.1f}Z" fill="{colour}"/>')
    if status == "far_below":
        return (f'<rect x="{x - r * 0.85:.1f}" y="{y - r * 0.85:.1f}" width="{r * 1.7:.1f}" '
                f'height="{r * 1.7:.1f}" fill="{colour}"/>')
    return (f'<path d="M{x - r:.1f} {y - r:.1f}L{x + r:.1f} {y + r:.1f}M{x + r:.1f} '
            f'{y - r:.1f}L{x - r:.1f} {y + r:.1f}" stroke="{colour}" stroke-width="1.6"/>')


def _scale_low(values: Sequence[float | None], sla: float) -> float:
    present = [v for v in values if v is not None]
    low = min([*present, sla - 1.0]) if present else sla - 1.0
    for step in (0.5, 1.0, 5.0, 10.0, 25.0):
        candidate = step * int(low // step)
        if low - candidate < 0.2 * step:
            candidate -= step  # the lowest value keeps a visible bar
        if 100.0 - candidate <= 12 * step:
            return max(0.0, candidate)
    return 0.0


def _ticks(low: float) -> list[float]:
    span = 100.0 - low
    step = next(s for s in (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 25.0) if span / s <= 6)
    ticks, value = [], low
    while value <= 100.0 + 1e-9:
        ticks.append(round(value, 2))
        value += step
    return ticks


def _svg(chart_id: str, width: float, height: float, label: str) -> str:
    """The opening tag every chart shares: a scalable, labelled image."""
    return (f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="100%" role="img" aria-label="{escape(label)}">')


def province_bars(areas: Sequence[AreaFigures], sla: float, lang: str) -> str:
    """Horizontal bars, best province first, value written at each bar's end."""
    left, width, row, top = 150, 470, 15, 24
    height = top + row * len(areas) + 30
    values = [a.availability for a in areas]
    low = _scale_low(values, sla)

    def x(v: float) -> float:
        return left + (max(low, min(100.0, v)) - low) / (100.0 - low) * width

    parts = [_svg("province-chart", left + width + 60, height, t("by_province", lang)),
             patterns("pb")]
    for tick in _ticks(low):
        parts.append(f'<line x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" '
                     f'y2="{height - 26}" stroke="{GRID}" stroke-width="0.6"/>'
                     f'<text x="{x(tick):.1f}" y="{height - 12}" class="tick" '
                     f'text-anchor="middle">{_num(tick)}%</text>')
    for i, area in enumerate(areas):
        y = top + i * row
        name = area.name_th if lang == "th" else area.name_en
        status = band(area.availability, sla)
        parts.append(f'<text x="{left - 6}" y="{y + row * 0.7:.1f}" class="label" '
                     f'text-anchor="end">{escape(name or area.code)}</text>')
        if area.availability is None:
            parts.append(f'<text x="{left + 4}" y="{y + row * 0.7:.1f}" class="value">'
                         f'{escape(t("no_data", lang))}</text>')
            continue
        end = x(area.availability)
        parts.append(f'<rect class="bar" data-code="{area.code}" x="{left}" y="{y + 2}" '
                     f'width="{max(0.5, end - left):.1f}" height="{row - 4}" '
                     f'fill="{fill("pb", status)}" stroke="{INK}" stroke-width="0.3"/>'
                     f'<text x="{end + 3:.1f}" y="{y + row * 0.7:.1f}" class="value">'
                     f'{pct(area.availability)}</text>')
    sla_x = x(sla)
    parts.append(f'<line x1="{sla_x:.1f}" y1="{top - 8}" x2="{sla_x:.1f}" y2="{height - 26}" '
                 f'stroke="{INK}" stroke-width="1.2" stroke-dasharray="4 3"/>'
                 f'<text x="{sla_x:.1f}" y="{top - 10}" class="tick" text-anchor="middle">'
                 f'{escape(t("sla_line", lang))} {_num(sla)}%</text></svg>')
    return "".join(parts)


def _num(value: float) -> str:
    return f"{value:g}"


def site_map(sites: Sequence[SiteFigures], sla: float, lang: str) -> str:
    """Every site at its coordinates, shape and colour by availability band."""
    lon0, lon1, lat0, lat1 = THAILAND
    width, height = 360.0, 640.0

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return ((lon - lon0) / (lon1 - lon0) * width, (lat1 - lat) / (lat1 - lat0) * height)

    groups: dict[str, list[str]] = {"meets": [], "below": [], "far_below": [], "unseen": []}
    r = 2.2 if len(sites) > 2000 else 3.5
    for row in sites:
        s = row.site
        if not (lon0 <= s.lon <= lon1 and lat0 <= s.lat <= lat1):
            continue
        px, py = xy(s.lon, s.lat)
        status = band(row.availability, sla)
        groups[status].append(_path_shape(status, px, py, r))
    parts = [_svg("site-map", width + 190, height, t("map", lang)),
             f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#f4f6f8" '
             f'stroke="{GRID}"/>']
    for status in ("meets", "unseen", "below", "far_below"):  # worst drawn on top
        if not groups[status]:
            continue
        colour = BAND_COLOUR[status]
        style = (f'fill="none" stroke="{colour}" stroke-width="1.2"' if status == "unseen"
                 else f'fill="{colour}" stroke="#fff" stroke-width="0.3"')
        parts.append(f'<path class="sites-{status}" {style} d="{"".join(groups[status])}"/>')
    labels = {"meets": f'{t("meets", lang)} (≥ {_num(sla)}%)',
              "below": f'{t("below", lang)} (≥ {_num(sla - FAR_BELOW)}%)',
              "far_below": f'{t("far_below", lang)} (< {_num(sla - FAR_BELOW)}%)',
              "unseen": t("unseen", lang)}
    for i, status in enumerate(("meets", "below", "far_below", "unseen")):
        y = 30 + i * 26
        parts.append(f'<g transform="translate({width + 14:.0f},{y})">'
                     f'{_shape(status, 6, 0, 5)}<text x="18" y="5" class="label">'
                     f'{escape(labels[status])}: {len(groups[status]):,}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _path_shape(status: str, x: float, y: float, r: float) -> str:
    if status == "meets":
        return f"M{x - r:.1f} {y:.1f}a{r} {r} 0 1 0 {2 * r} 0a{r} {r} 0 1 0 {-2 * r} 0"
    if status == "below":
        return f"M{x:.1f} {y - r:.1f}l{r} {1.8 * r:.1f}h{-2 * r}z"
    if status == "far_below":
        return f"M{x - r:.1f} {y - r:.1f}h{2 * r}v{2 * r}h{-2 * r}z"
    return f"M{x - r:.1f} {y - r:.1f}l{2 * r} {2 * r}m0 {-2 * r}l{-2 * r} {2 * r}"


CAUSE_FILL = {"equipment": "#3d3d3d", "upstream": "url(#cb-upstream)", "unknown":
              "url(#cb-unknown)", "power": "url(#cb-power)"}


def cause_bars(rows: Sequence[tuple[str, Sequence[float]]], lang: str) -> str:
    """Stacked bars of outage minutes by cause: (label, seconds by cause in
    :data:`CAUSES` order), the first row being the total."""
    left, width, row, top = 150, 430, 20, 34
    height = top + row * len(rows) + 10
    biggest = max([sum(values) for _, values in rows] + [1.0])
    parts = [_svg("cause-chart", left + width + 90, height, t("by_cause", lang)),
             patterns("cb")]
    for i, cause in enumerate(CAUSES):
        parts.append(f'<g transform="translate({left + i * 125},6)"><rect width="14" '
                     f'height="12" fill="{CAUSE_FILL[cause]}" stroke="{INK}" '
                     'stroke-width="0.4"/><text x="20" y="11" class="label">'
                     f'{escape(t("cause_" + cause, lang))}</text></g>')
    for i, (label, values) in enumerate(rows):
        y = top + i * row
        parts.append(f'<text x="{left - 6}" y="{y + 13}" class="label" text-anchor="end">'
                     f'{escape(label)}</text>')
        x = float(left)
        for cause, seconds in zip(CAUSES, values, strict=True):
            w = seconds / biggest * width
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
                             f'fill="{CAUSE_FILL[cause]}" stroke="{INK}" stroke-width="0.3"/>')
            x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 13}" class="value">'
                     f'{sum(values) / 60:,.0f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def daily_chart(days: Sequence[tuple[str, float | None]], sla: float, lang: str,
                axis_title: str) -> str:
    """One bar per day, SLA line, day ticks in the report's language and era."""
    left, top, height_plot = 46, 16, 170
    slot = max(6.0, min(22.0, 620.0 / max(1, len(days))))
    width = left + slot * len(days) + 10
    height = top + height_plot + 48
    low = _scale_low([v for _, v in days], sla)

    def y(v: float) -> float:
        return top + (100.0 - max(low, min(100.0, v))) / (100.0 - low) * height_plot

    parts = [_svg("daily-chart", width, height, t("by_day", lang)),
             patterns("dc")]
    for tick in _ticks(low):
        parts.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - 6:.0f}" '
                     f'y2="{y(tick):.1f}" stroke="{GRID}" stroke-width="0.6"/>'
                     f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" class="tick" '
                     f'text-anchor="end">{_num(tick)}%</text>')
    every = max(1, round(len(days) / 8))
    for i, (day, value) in enumerate(days):
        x = left + i * slot
        if value is not None:
            status = band(value, sla)
            parts.append(f'<rect class="day" data-day="{day}" x="{x + 1:.1f}" '
                         f'y="{y(value):.1f}" width="{slot - 2:.1f}" '
                         f'height="{top + height_plot - y(value):.1f}" '
                         f'fill="{fill("dc", status)}" stroke="{INK}" stroke-width="0.3"/>')
        if i % every == 0:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{top + height_plot + 14}" '
                         f'class="tick" text-anchor="middle">'
                         f'{escape(format_day(day, lang, short=True))}</text>')
    parts.append(f'<line x1="{left}" y1="{y(sla):.1f}" x2="{width - 6:.0f}" y2="{y(sla):.1f}" '
                 f'stroke="{INK}" stroke-width="1.2" stroke-dasharray="4 3"/>'
                 f'<text x="{width / 2:.0f}" y="{height - 6}" class="label" '
                 f'text-anchor="middle">{escape(axis_title)}</text></svg>')
    return "".join(parts)
