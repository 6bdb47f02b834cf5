"""What Grafana does with a dashboard's variables before a query reaches Prometheus.

Query variables run as Grafana's Prometheus datasource runs them (``label_values`` through
the series API, ``query_result`` as an instant query printed as
``name{label="value",...} value timestamp_ms``), then the variable's regex (a JavaScript
regex with ``text``/``value`` named groups) turns each line into an option. Expressions get
the options' values substituted the way a single selection or "All" (the variable's
``allValue``) is substituted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from dashboards.grafana.promscan import variable_expr

BUILTINS = {"__rate_interval": "6s", "__interval": "2s", "__range": "5m"}
"""Prometheus scrapes every second here; ``$__rate_interval`` is ≥ 4 scrapes as in Grafana."""


@dataclass(frozen=True, slots=True)
class Option:
    text: str
    value: str


def js_regex(pattern: str) -> re.Pattern[str]:
    """``/…/flags`` as Grafana writes it, in Python's syntax."""
    body = pattern
    if pattern.startswith("/"):
        body = pattern[1:pattern.rindex("/")]
    return re.compile(body.replace("(?<", "(?P<"))


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """``$name``, ``${name}`` and ``[[name]]`` replaced, longest names first."""
    for name in sorted(values, key=len, reverse=True):
        value = values[name]
        expr = expr.replace("${" + name + "}", value).replace(f"[[{name}]]", value)
        expr = re.sub(r"\$" + re.escape(name) + r"(?![A-Za-z0-9_])",
                      lambda _m, v=value: v, expr)
    return expr


def result_line(series: dict[str, Any]) -> str:
    metric = dict(series["metric"])
    name = metric.pop("__name__", "")
    labels = ",".join(f'{k}="{v}"' for k, v in metric.items())
    value = series["value"]
    return f"{name}{{{labels}}} {value[1]} {int(float(value[0]) * 1000)}"


async def options(http: aiohttp.ClientSession, prom: str, variable: Mapping[str, Any],
                  values: Mapping[str, str]) -> list[Option]:
    """The options Grafana would offer for ``variable`` given the variables above it."""
    query = substitute(str(variable["query"]), {**BUILTINS, **values})
    lines: list[str]
    match = re.match(r"^\s*label_values\((?:(?P<expr>.+),\s*)?(?P<label>\w+)\)\s*$", query)
    if match:
        params: dict[str, str] = {}
        if match.group("expr"):
            params["match[]"] = match.group("expr")
        async with http.get(f"{prom}/api/v1/label/{match.group('label')}/values",
                            params=params) as resp:
            data = await resp.json()
        assert data["status"] == "success", (query, data)
        lines = list(data["data"])
    else:
        expr = variable_expr(query) or query
        async with http.get(prom + "/api/v1/query", params={"query": expr}) as resp:
            data = await resp.json()
        assert data["status"] == "success", (query, data)
        lines = [result_line(s) for s in data["data"]["result"]]
    regex = variable.get("regex")
    out: list[Option] = []
    for line in lines:
        if not regex:
            out.append(Option(line, line))
            continue
        found = js_regex(str(regex)).search(line)
        if found is None:
            continue
        groups = found.groupdict()
        if groups:
            value = groups.get("value") or groups.get("text") or ""
            out.append(Option(groups.get("text") or value, value))
        else:
            text = found.group(1) if found.groups() else found.group(0)
            out.append(Option(text, text))
    return sorted(set(out), key=lambda o: o.text)
