"""The report's words in Thai and English, and how numbers are written.

Numbers use the same separators in both languages (Thai official documents write
``1,234.56``), one function per kind of figure so that the CSV and the HTML print the very
same digits: percentages with two decimals, minutes with one, seconds whole.
"""

from __future__ import annotations

import math

from pubnet.words import load_words

TEXT = load_words("dashboards.reports", "words.yaml")
"""The report's words: key -> {"th": ..., "en": ...} (``words.yaml``)."""


def t(key: str, lang: str, **values: object) -> str:
    """The text ``key`` in ``lang`` with ``{name}`` fields filled."""
    template = TEXT[key][lang]
    return template.format(**values) if values else template


def pct(value: float | None) -> str:
    """A percentage as both outputs print it: ``99.95``; empty for no value."""
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.2f}"


def minutes(seconds: float) -> str:
    """Seconds as minutes with one decimal: ``12.5``."""
    return f"{seconds / 60.0:.1f}"


def whole(seconds: float) -> str:
    return f"{round(seconds):d}"


def grouped(text: str) -> str:
    """``1234567.5`` → ``1,234,567.5`` (the same in Thai and English)."""
    if not text:
        return text
    sign = "-" if text.startswith("-") else ""
    body = text.lstrip("-")
    head, dot, tail = body.partition(".")
    parts: list[str] = []
    while len(head) > 3:
        parts.insert(0, head[-3:])
        head = head[:-3]
    parts.insert(0, head)
    return sign + ",".join(parts) + dot + tail


def pct_text(value: float | None, lang: str) -> str:
    """A percentage for reading: ``99.95 %``, or "no data"."""
    return t("no_data", lang) if value is None else f"{pct(value)}\u00a0%"
