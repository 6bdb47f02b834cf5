"""What each exported metric family is: its type and HELP text, from the metric catalog.

Type and HELP of every name pubnet defines come from :mod:`pubnet.catalog`, the one place
they are written. A name the catalog does not know is still exported (the SNMP profiles are
checked against the catalog when they load, so only a bug can publish one): it is a counter
when its name ends in ``_total`` and a gauge otherwise, with a generic HELP line, and is
logged once (per name, for the life of the exporter's table).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum

from pubnet import catalog

log = logging.getLogger("pubnet.exporters.prometheus")


class Kind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"


METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family as it appears in the exposition.

    ``name`` is the sample name (counters end in ``_total``); :attr:`openmetrics_name` is the
    family name OpenMetrics wants in HELP/TYPE lines (``_total`` stripped for counters).
    """

    name: str
    kind: Kind
    help: str

    @property
    def openmetrics_name(self) -> str:
        if self.kind is Kind.COUNTER and self.name.endswith("_total"):
            return self.name[: -len("_total")]
        return self.name

    def header(self, openmetrics: bool) -> bytes:
        """The HELP and TYPE lines that open this family's block."""
        name = self.openmetrics_name if openmetrics else self.name
        help_text = _escape_help(self.help, openmetrics)
        return f"# HELP {name} {help_text}\n# TYPE {name} {self.kind.value}\n".encode()


def _escape_help(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    if openmetrics:
        text = text.replace('"', '\\"')
    return text


def _kind(metric: catalog.Metric) -> Kind:
    """The TYPE a store series of this catalog metric is exposed with: an info metric is a
    gauge of 1 in both text formats (the store holds plain samples, never a histogram)."""
    return Kind.COUNTER if metric.kind is catalog.Kind.COUNTER else Kind.GAUGE


KNOWN: dict[str, tuple[Kind, str]] = {m.name: (_kind(m), m.help) for m in catalog.METRICS}
"""Type and HELP of every catalog metric, by sample name."""


class FamilyTable:
    """Resolves a metric name to its :class:`Family`, once per name.

    Returns None for names that are not valid Prometheus metric names; callers count and
    skip those series instead of corrupting the exposition.
    """

    def __init__(self) -> None:
        self._cache: dict[str, Family | None] = {}

    def get(self, metric: str) -> Family | None:
        try:
            return self._cache[metric]
        except KeyError:
            pass
        family: Family | None = None
        if METRIC_NAME.match(metric):
            known = KNOWN.get(metric)
            if known is not None:
                family = Family(metric, known[0], known[1])
            else:
                kind = Kind.COUNTER if metric.endswith("_total") else Kind.GAUGE
                family = Family(metric, kind, f"{metric} (pubnet).")
                log.warning("metric not in the catalog exported with a generic HELP",
                            extra={"metric": metric, "type": kind.value})
        self._cache[metric] = family
        return family


_SAMPLE_SUFFIXES = ("", "_total", "_created", "_count", "_sum", "_bucket", "_info")


def asked_for(family: str, names: frozenset[str]) -> bool:
    """Whether a scrape restricted to sample ``names`` (``/metrics?name[]=…``) wants the
    family ``family`` (a store family's sample name, counters with ``_total``): one of the
    sample names it may carry is among them, as prometheus-client's restricted registry
    selects."""
    base = family[:-len("_total")] if family.endswith("_total") else family
    return any(base + suffix in names for suffix in _SAMPLE_SUFFIXES)
