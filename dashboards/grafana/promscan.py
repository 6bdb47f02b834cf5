"""Finds the metric selectors in a PromQL expression, with the function each sits in.

Not a PromQL parser (the real-Prometheus test proves every query parses); just enough for
the dashboard lint: which metric names a query reads, and whether a counter is read
through ``rate``/``increase`` over ``$__rate_interval``. Grafana variables (``$site``,
``${datasource}``) may appear anywhere a value may.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<var>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]*\]\])
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<number>[0-9][0-9a-zA-Z.]*)
  | (?P<punct>[(){}\[\],])
  | (?P<op>=~|!~|==|!=|>=|<=|[-+*/%^<>=@])
  | (?P<space>\s+)
""", re.VERBOSE)

AGGREGATORS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio"})
KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "atan2", "inf", "nan", "Inf", "NaN"})
_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})


class ScanError(ValueError):
    """The expression has a character PromQL does not use, or unbalanced brackets."""


@dataclass(frozen=True, slots=True)
class Selector:
    """A metric read by the expression."""

    metric: str
    functions: tuple[str, ...]
    """Enclosing function and aggregation calls, innermost first."""
    range: str | None
    """The ``[...]`` after the selector (``$__rate_interval``, ``1h``), if any."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str


def tokens(expr: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise ScanError(f"unexpected {expr[pos]!r} at {pos}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, match.group()))
        pos = match.end()
    return out


def selectors(expr: str) -> list[Selector]:
    """Every metric selector of ``expr`` (PromQL with Grafana variables)."""
    toks = tokens(expr)
    found: list[Selector] = []
    calls: list[tuple[str, int]] = []  # (function, paren depth of its argument list)
    depth = 0
    pending: str | None = None  # an aggregator waiting for its "(" after "by (...)"
    i = 0
    while i < len(toks):
        tok = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if tok.kind == "punct" and tok.text == "{":
            i = _skip(toks, i, "{", "}")
            continue
        if tok.kind == "ident" and tok.text in _GROUPING and nxt is not None and nxt.text == "(":
            i = _skip(toks, i + 1, "(", ")")
            continue
        if tok.kind == "punct" and tok.text == "(":
            depth += 1
            if pending is not None:
                calls.append((pending, depth))
                pending = None
        elif tok.kind == "punct" and tok.text == ")":
            if calls and calls[-1][1] == depth:
                calls.pop()
            depth -= 1
            if depth < 0:
                raise ScanError("unbalanced )")
        elif tok.kind == "ident" and tok.text not in KEYWORDS:
            if nxt is not None and nxt.text == "(":
                pending = tok.text
            elif tok.text in AGGREGATORS and nxt is not None and nxt.text in _GROUPING:
                pending = tok.text
            else:
                found.append(Selector(tok.text, tuple(name for name, _ in reversed(calls)),
                                      _range_after(toks, i + 1)))
        i += 1
    if depth:
        raise ScanError("unbalanced (")
    return found


def _skip(toks: list[_Token], i: int, open_: str, close: str) -> int:
    """Index after the bracket that closes ``toks[i]``."""
    level = 0
    while i < len(toks):
        if toks[i].text == open_:
            level += 1
        elif toks[i].text == close:
            level -= 1
            if level == 0:
                return i + 1
        i += 1
    raise ScanError(f"unbalanced {open_}")


def _range_after(toks: list[_Token], i: int) -> str | None:
    if i < len(toks) and toks[i].text == "{":
        i = _skip(toks, i, "{", "}")
    if i < len(toks) and toks[i].text == "[":
        end = _skip(toks, i, "[", "]")
        return "".join(t.text for t in toks[i + 1:end - 1])
    return None


_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(?P<expr>.+),\s*)?(?P<label>[A-Za-z_]\w*)\)\s*$",
                           re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.+)\)\s*$", re.DOTALL)


def variable_expr(query: str) -> str | None:
    """The PromQL inside a Grafana Prometheus variable query (``label_values(expr, label)``,
    ``query_result(expr)``), or None when it reads no metric."""
    match = _LABEL_VALUES.match(query)
    if match:
        return match.group("expr")
    match = _QUERY_RESULT.match(query)
    if match:
        return match.group("expr")
    return query
