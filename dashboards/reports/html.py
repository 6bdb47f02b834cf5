"""``coverage.html``: the report planners hand to the ministry, as one self-contained file.

Charts are inline SVG, the Thai font (Laksaman from fonts-thai-tlwg, derived from TH
Sarabun, the Thai government's document font) is embedded with ``@font-face`` as base64,
there is no script and nothing is fetched, so the file opens the same offline, in an
e-mail attachment or years later, and prints on A4 (``@page``) in colour or black and white.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from dashboards.reports.charts import (
    band,
    cause_bars,
    daily_chart,
    marker,
    province_bars,
    site_map,
)
from dashboards.reports.figures import AreaFigures, SiteFigures, worst
from dashboards.reports.period import BANGKOK, format_time, period_name, period_title
from dashboards.reports.report import Report, ReportError, provinces_sorted
from dashboards.reports.text import grouped, minutes, pct, pct_text, t
from dashboards.reports.timeline import CAUSES, SiteTime, by_cause

FONT_DIR = Path("/usr/share/fonts/truetype/tlwg")
FONTS = (("Laksaman.ttf", "normal"), ("Laksaman-Bold.ttf", "bold"))
NEVER_SEEN_ROWS = 200
"""Never-seen sites listed in the HTML; the rest are in sites.csv."""


def font_faces(folder: Path = FONT_DIR) -> str:
    """``@font-face`` rules with the Thai font inline. Raises :class:`ReportError`."""
    rules = []
    for name, weight in FONTS:
        path = folder / name
        try:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
        except OSError:
            raise ReportError(f"{path}: the Thai font is missing (install the Debian package "
                              "fonts-thai-tlwg)") from None
        rules.append("@font-face{font-family:'Laksaman';font-style:normal;"
                     f"font-weight:{weight};src:url(data:font/ttf;base64,{data}) "
                     "format('truetype');}")
    return "\n".join(rules)


CSS = """
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: 'Laksaman', sans-serif; font-size: 15pt; line-height: 1.35; color: #222;
       margin: 0 auto; max-width: 190mm; background: #fff; }
h1 { font-size: 22pt; margin: 0 0 2mm; line-height: 1.2; }
h2 { font-size: 17pt; margin: 7mm 0 2mm; border-bottom: 1.5px solid #222; break-after: avoid; }
p { margin: 1mm 0 2mm; }
.sub { color: #444; font-size: 13pt; }
.tiles { display: grid; grid-template-columns: repeat(3, 1fr); gap: 2.5mm; margin: 3mm 0; }
.tile { border: 1px solid #999; border-radius: 2mm; padding: 2mm 3mm; break-inside: avoid; }
.tile .k { font-size: 12pt; color: #444; }
.tile .v { font-size: 20pt; font-weight: bold; }
.tile .n { font-size: 11.5pt; color: #444; }
table { border-collapse: collapse; width: 100%; font-size: 11pt; margin: 2mm 0;
        line-height: 1.2; }
th, td { border: 0.6px solid #aaa; padding: 0.5mm 1.2mm; vertical-align: top; }
th { background: #eee; text-align: left; font-weight: bold; font-size: 10.5pt;
     vertical-align: bottom; }
td.status { white-space: nowrap; }
td.n { text-align: right; white-space: nowrap; }
th.n { text-align: right; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
section { break-inside: auto; }
.chart-box { break-inside: avoid; margin: 2mm 0; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg.chart text { font-family: 'Laksaman', sans-serif; fill: #222; }
svg.chart .label { font-size: 11px; }
svg.chart .tick { font-size: 10px; }
svg.chart .value { font-size: 10px; }
svg.marker { vertical-align: -1px; margin-right: 1mm; }
.flag { font-size: 11pt; color: #444; }
footer { margin-top: 8mm; font-size: 11.5pt; color: #333; border-top: 1px solid #999; }
footer li { margin-bottom: 1mm; }
.params td { font-size: 11pt; }
.page-break { break-before: page; }
"""


def _tile(key: str, value: str, note: str = "") -> str:
    return (f'<div class="tile"><div class="k">{escape(key)}</div><div class="v">'
            f'{escape(value)}</div><div class="n">{escape(note)}</div></div>')


def _status_cell(value: float | None, sla: float, lang: str) -> str:
    status = band(value, sla)
    word = {"meets": "meets", "below": "below", "far_below": "far_below",
            "unseen": "unseen"}[status]
    return f'<td class="status">{marker(status)}{escape(t(word, lang))}</td>'


def _area_name(area: AreaFigures, lang: str) -> str:
    return (area.name_th if lang == "th" else area.name_en) or area.code


def _summary(report: Report) -> str:
    lang, n, sla = report.options.lang, report.nation, report.options.sla
    period = period_name(report.options.period, lang)
    text = t("summary_text", lang, period=period, seen=grouped(str(n.sites_seen)),
             sites=grouped(str(n.sites)), availability=pct_text(n.availability, lang),
             sla=f"{sla:g} %", served=grouped(str(n.villages_served)),
             villages=grouped(str(n.villages)))
    mttr = n.mttr_minutes
    completeness = n.completeness
    complete = pct_text(None if completeness is None else 100 * completeness, lang)
    tiles = [
        _tile(t("availability", lang), pct_text(n.availability, lang),
              f'{t("completeness", lang)} {complete}'),
        _tile(t("sites", lang), f"{grouped(str(n.sites_seen))} / {grouped(str(n.sites))}",
              f'{t("sites_seen", lang)} · {t("sites_below_sla", lang)} '
              f'{grouped(str(n.sites_below_sla))}'),
        _tile(t("villages_served", lang),
              f"{grouped(str(n.villages_served))} / {grouped(str(n.villages))}",
              f'{t("sla_line", lang)} {sla:g} %'),
        _tile(t("outage_minutes", lang), grouped(minutes(n.down)),
              " · ".join(f'{t("cause_" + cause, lang)} {grouped(minutes(seconds))}'
                         for cause, seconds in zip(CAUSES, by_cause(n), strict=True))),
        _tile(t("mttr", lang), "–" if mttr is None else grouped(f"{mttr:.1f}"),
              f'{t("outages", lang)} {grouped(str(n.outages))} · '
              f'{t("incidents", lang)} {grouped(str(len(n.incidents)))}'),
        _tile(t("unseen_sites", lang), grouped(str(n.sites - n.sites_seen)),
              f'{t("new_site", lang)} '
              f'{grouped(str(sum(1 for r in report.sites if r.commissioned is not None)))}'),
    ]
    return (f'<section id="summary"><h2>{escape(t("summary", lang))}</h2>'
            f'<p>{escape(text)}</p><div class="tiles">{"".join(tiles)}</div></section>')


def _province_table(report: Report) -> str:
    lang, sla = report.options.lang, report.options.sla
    head = [t("province", lang), t("sites", lang), t("col_seen", lang), t("col_below", lang),
            t("col_villages", lang), t("col_served", lang), t("col_avail", lang),
            t("col_complete", lang), *_cause_heads(lang), t("col_mttr", lang), t("status", lang)]
    rows = []
    for a in [*report.provinces, report.nation]:
        completeness = a.completeness
        mttr = a.mttr_minutes
        name = t("total", lang) if a is report.nation else _area_name(a, lang)
        rows.append(
            f'<tr data-code="{escape(a.code)}" data-availability="{pct(a.availability)}">'
            f"<td>{escape(name)}</td><td class='n'>{grouped(str(a.sites))}</td>"
            f"<td class='n'>{grouped(str(a.sites_seen))}</td>"
            f"<td class='n'>{grouped(str(a.sites_below_sla))}</td>"
            f"<td class='n'>{grouped(str(a.villages))}</td>"
            f"<td class='n'>{grouped(str(a.villages_served))}</td>"
            f"<td class='n availability'>{pct(a.availability)}</td>"
            f"<td class='n'>{pct(None if completeness is None else 100 * completeness)}</td>"
            f"{_cause_cells(a)}"
            f"<td class='n'>{'' if mttr is None else f'{mttr:.1f}'}</td>"
            f"{_status_cell(a.availability, sla, lang)}</tr>")
    return (f'<section id="provinces"><h2>{escape(t("provinces_table", lang))}</h2>'
            f"<table><thead><tr>{_head(head, first_left=1)}</tr></thead>"
            f'<tbody>{"".join(rows)}</tbody></table></section>')


def _cause_heads(lang: str) -> list[str]:
    return [t("col_" + cause, lang) for cause in CAUSES]


def _cause_cells(seconds: AreaFigures | SiteTime) -> str:
    """Down minutes by cause, one cell each, in :data:`CAUSES` order."""
    return "".join(f"<td class='n'>{grouped(minutes(s))}</td>" for s in by_cause(seconds))


def _head(names: Sequence[str], first_left: int) -> str:
    return "".join(f"<th>{escape(n)}</th>" if i < first_left or i == len(names) - 1
                   else f"<th class='n'>{escape(n)}</th>" for i, n in enumerate(names))


def _site_rows(rows: Iterable[SiteFigures], report: Report, with_figures: bool) -> str:
    lang, sla = report.options.lang, report.options.sla
    out = []
    for r in rows:
        s = r.site
        district = s.district_name_th if lang == "th" else s.district_name_en
        province = s.province_name_th if lang == "th" else s.province_name_en
        flag = (f' <span class="flag">({escape(t("new_site", lang))})</span>'
                if r.commissioned is not None else "")
        cells = [f"<td><b>{escape(s.site_id)}</b> {escape(s.name)}{flag}</td>",
                 f"<td>{escape(s.village)}</td>",
                 f"<td>{escape(district or s.district_code)} / "
                 f"{escape(province or s.province_code)}</td>"]
        if with_figures:
            completeness = r.completeness
            cells += [f"<td class='n availability'>{pct(r.availability)}</td>",
                      f"<td class='n'>{pct(None if completeness is None else 100 * completeness)}"
                      "</td>",
                      _cause_cells(r.time),
                      f"<td class='n'>{len(r.time.incidents)}</td>",
                      _status_cell(r.availability, sla, lang)]
        out.append(f'<tr data-site="{escape(s.site_id)}" '
                   f'data-availability="{pct(r.availability)}">{"".join(cells)}</tr>')
    return "".join(out)


def _worst(report: Report) -> str:
    lang = report.options.lang
    head = [t("site", lang), t("village", lang), t("col_where", lang), t("col_avail", lang),
            t("col_complete", lang), *_cause_heads(lang), t("incidents", lang),
            t("status", lang)]
    rows = _site_rows(worst(report.sites, 20), report, True)
    return (f'<section id="worst"><h2>{escape(t("worst", lang))}</h2>'
            f"<table><thead><tr>{_head(head, first_left=3)}</tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")


def _never_seen(report: Report) -> str:
    lang = report.options.lang
    unseen = [r for r in report.sites if r.never_seen]
    if not unseen:
        body = f"<p>{escape(t('never_seen_none', lang))}</p>"
    else:
        head = [t("site", lang), t("village", lang), t("col_where", lang)]
        body = (f"<table><thead><tr>{''.join(f'<th>{escape(h)}</th>' for h in head)}"
                f"</tr></thead><tbody>{_site_rows(unseen[:NEVER_SEEN_ROWS], report, False)}"
                "</tbody></table>")
        if len(unseen) > NEVER_SEEN_ROWS:
            more = grouped(str(len(unseen) - NEVER_SEEN_ROWS))
            body += f"<p>{escape(t('more_in_csv', lang, n=more))}</p>"
    return (f'<section id="never-seen"><h2>{escape(t("never_seen", lang))} '
            f"({grouped(str(len(unseen)))})</h2>{body}</section>")


def _plan(report: Report) -> str:
    if report.targets is None:
        return ""
    lang = report.options.lang
    by_code = {a.code: a for a in report.provinces}
    rows = []
    for code in sorted(set(report.targets) | set(by_code)):
        target = report.targets.get(code)
        area = by_code.get(code)
        name = _area_name(area, lang) if area is not None else code
        installed = area.sites if area is not None else 0
        served = area.villages_served if area is not None else 0
        planned_sites = target.planned_sites if target is not None else 0
        planned_villages = target.planned_villages if target is not None else 0
        share = (f"{100 * installed / planned_sites:.1f} %" if planned_sites else "–")
        share_v = (f"{100 * served / planned_villages:.1f} %" if planned_villages else "–")
        rows.append(f'<tr data-code="{escape(code)}"><td>{escape(name)}</td>'
                    f"<td class='n'>{grouped(str(planned_sites))}</td>"
                    f"<td class='n'>{grouped(str(installed))}</td><td class='n'>{share}</td>"
                    f"<td class='n'>{grouped(str(planned_villages))}</td>"
                    f"<td class='n'>{grouped(str(served))}</td><td class='n'>{share_v}</td></tr>")
    head = [t("province", lang), t("planned_sites", lang), t("installed", lang), "%",
            t("planned_villages", lang), t("villages_served", lang), "%"]
    return (f'<section id="plan"><h2>{escape(t("plan", lang))}</h2><table><thead><tr>'
            f"{_head([*head, ''], 1)}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "</section>")


def _links(report: Report) -> str:
    if report.links is None:
        return ""
    lang = report.options.lang
    threshold = f"{100 * report.options.link_threshold:g} %"
    title = t("links", lang, threshold=threshold)
    if not report.links:
        return (f'<section id="links"><h2>{escape(title)}</h2>'
                f"<p>{escape(t('links_none', lang))}</p></section>")
    rows = "".join(f'<tr data-link="{escape(u.link_id)}"><td>{escape(u.link_id)}</td>'
                   f"<td>{escape(u.direction)}</td><td class='n'>{100 * u.p95:.1f} %</td></tr>"
                   for u in report.links)
    return (f'<section id="links"><h2>{escape(title)}</h2><table><thead><tr>'
            f"<th>{escape(t('link', lang))}</th><th>{escape(t('direction', lang))}</th>"
            f"<th class='n'>{escape(t('p95', lang))}</th></tr></thead><tbody>{rows}</tbody>"
            "</table></section>")


def _footer(report: Report) -> str:
    lang, options = report.options.lang, report.options
    keys = ["def_site_up", "def_monitored", "def_maintenance", "def_availability",
            "def_causes", "def_never_seen", "def_completeness", "def_mttr"]
    if options.source == "prometheus":
        keys.append("def_prometheus")
    period = options.period
    source = ("pubnet history: " + report.database if options.source == "history"
              else f"Prometheus {options.prometheus_url} (pubnet_site_up); "
                   f"maintenance & incidents: {report.database}")
    params = [
        (t("param_period", lang), f"{period_title(period, lang)} "
         f"[{period.start.astimezone(BANGKOK).isoformat()} – "
         f"{period.end.astimezone(BANGKOK).isoformat()})"),
        (t("param_source", lang), source),
        (t("param_sla", lang), f"{options.sla:g} %"),
        (t("param_inventory", lang), f"{report.inventory.source or '-'} "
         f"({grouped(str(len(report.inventory.sites)))} {t('sites', lang)})"),
        (t("param_timezone", lang), "Asia/Bangkok (UTC+7)"),
        (t("param_generated", lang), format_time(report.generated_at, lang)),
        (t("param_version", lang), report.version),
        ("lang", options.lang),
    ]
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in params)
    items = "".join(f"<li>{escape(t(k, lang))}</li>" for k in keys)
    return (f'<footer><h2>{escape(t("definitions", lang))}</h2><ul>{items}</ul>'
            f'<h2>{escape(t("parameters", lang))}</h2><table class="params"><tbody>{rows}'
            "</tbody></table></footer>")


def render_html(report: Report, font_dir: Path = FONT_DIR) -> str:
    """The whole page. Raises :class:`ReportError` when the Thai font is missing."""
    options = report.options
    lang, sla = options.lang, options.sla
    period = period_title(options.period, lang)
    sorted_areas = provinces_sorted(report)
    top = sorted(report.provinces, key=lambda a: -a.down)[:15]
    cause_rows = [(t("national", lang), by_cause(report.nation)),
                  *((_area_name(a, lang), by_cause(a)) for a in top if a.down > 0)]
    body = [
        f'<header><h1>{escape(t("title", lang, period=period))}</h1>'
        f'<div class="sub">{escape(t("subtitle", lang))}</div></header>',
        _summary(report),
        f'<section id="by-province" class="chart-box"><h2>{escape(t("by_province", lang))}'
        f"</h2>{province_bars(sorted_areas, sla, lang)}</section>",
        f'<section id="map" class="chart-box page-break"><h2>{escape(t("map", lang))}</h2>'
        f"{site_map(report.sites, sla, lang)}</section>",
        f'<section id="by-cause" class="chart-box"><h2>{escape(t("by_cause", lang))} '
        f'({escape(t("minutes", lang))})</h2>{cause_bars(cause_rows, lang)}</section>',
        f'<section id="by-day" class="chart-box"><h2>{escape(t("by_day", lang))}</h2>'
        f"{daily_chart(report.daily, sla, lang, period_name(options.period, lang))}</section>",
        _worst(report),
        _never_seen(report),
        _plan(report),
        _links(report),
        _province_table(report),
        _footer(report),
    ]
    title = t("title", lang, period=period)
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="generator" content="pubnet {escape(report.version)}">'
            f"<title>{escape(title)}</title><style>{font_faces(font_dir)}\n{CSS}</style>"
            f'</head><body>{"".join(body)}</body></html>\n')
