"""Text-format rendering of one device's series: escaping, numbers, per-family fragments.

The hot path of a scrape. A device's lines are rendered once per change of
:meth:`pubnet.state.StateStore.device_version` and kept as one ``bytes`` fragment per
family, so that the exposition can be assembled family by family (the text format wants all
samples of a family contiguous) without touching unchanged devices. Sample lines are the same
in the Prometheus text format 0.0.4 and in OpenMetrics 1.0 (only HELP/TYPE headers and the
``# EOF`` trailer differ), so one fragment serves both.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from exporters.prometheus.families import LABEL_NAME, FamilyTable
from pubnet.model import Labels, Observation, SeriesKey

log = logging.getLogger("pubnet.exporters.prometheus")

_SPECIAL = {"inf": "+Inf", "-inf": "-Inf", "nan": "NaN"}


def escape_label_value(value: str) -> str:
    """Escape a label value for the text formats: backslash, double quote, newline."""
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it (``+Inf``, ``-Inf``, ``NaN`` for specials)."""
    text = repr(value)
    if text[-1] in "fn":
        return _SPECIAL[text]
    return text


def render_labels(labels: Labels) -> str | None:
    """``,name="value"...`` for labels after ``device``; None when a label name is invalid.

    ``device`` itself and names starting with ``__`` are reserved and make the series invalid.
    """
    parts = []
    for name, value in labels:
        if name == "device" or name.startswith("__") or not LABEL_NAME.match(name):
            return None
        parts.append(f',{name}="{escape_label_value(value)}"')
    return "".join(parts)


@dataclass(slots=True)
class DropCounter:
    """Series the exporter could not render, by reason; each reason logged once."""

    counts: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, device: str, detail: str) -> None:
        if reason not in self.counts:
            log.warning("series not exported",
                        extra={"reason": reason, "device": device, "detail": detail})
            self.counts[reason] = 0
        self.counts[reason] += 1


_INVALID = ""  # sentinel distinct from every rendered label string (those start with ",")

Rendered = tuple[str, int, int, bytes | None]
"""(family, signature, lines, fragment or None when unchanged): see
:meth:`DeviceRenderer.render_changed`."""


class DeviceRenderer:
    """Renders one device's series into ``{family name: fragment}``.

    Only what the collectors published: ``pubnet_device_up`` and ``pubnet_device_poll_status``
    are series like any other (written once, by :mod:`collectors.identity`).

    Rendered label sets are cached while they fit in a small table, cleared when full:
    the sets many devices share (``ifname="eth0"``) come back at once, while those one
    device has (``ifalias``, ``pubnet_device_info``'s, ~6 per device) cannot stay cached
    at 100,000 devices anyway (a 500,000-entry table filled and cleared every round,
    holding ~15 bytes per series for nothing); rendering one again costs ~1 µs.
    """

    LABEL_CACHE_MAX = 20_000

    def __init__(
        self,
        families: FamilyTable,
        drops: DropCounter,
    ) -> None:
        self._families = families
        self._drops = drops
        self._label_cache: dict[Labels, str] = {}
        self._label_names: dict[str, str] = {}
        self._valid_metrics: dict[str, bool] = {}
        self._invalid: set[str] = set()
        """Devices whose last render dropped a series: rendered whole (see
        :meth:`render_changed`)."""

    def _known(self, metric: str) -> bool:
        """Whether ``metric`` has a family; asked once per family of a device's render."""
        known = self._valid_metrics.get(metric)
        if known is None:
            known = self._valid_metrics[metric] = self._families.get(metric) is not None
        return known

    def render(
        self,
        device: str,
        series: Iterable[tuple[SeriesKey, float]],
    ) -> dict[str, bytes]:
        """``{family name: fragment}`` of one device's (key, value) pairs."""
        dev = escape_label_value(device)
        groups: dict[str, list[str]] = {}
        label_cache = self._label_cache
        for (metric, labels), value in series:
            rendered = label_cache.get(labels)
            if rendered is None:
                rendered = self._labels(labels)
            if rendered is _INVALID and labels:
                self._drops.drop("invalid_label", device, f"{metric} {labels!r}")
                continue
            lines = groups.get(metric)
            if lines is None:
                if not self._known(metric):
                    self._drops.drop("invalid_metric_name", device, metric)
                    continue
                lines = groups[metric] = []
            text = repr(value)
            if text[-1] in "fn":
                text = _SPECIAL[text]
            lines.append(f'{metric}{{device="{dev}"{rendered}}} {text}\n')
        return {metric: "".join(lines).encode() for metric, lines in groups.items()}

    def render_changed(
        self,
        device: str,
        series: Callable[[], Iterable[tuple[SeriesKey, float]]],
        previous: Mapping[str, int],
    ) -> list[Rendered]:
        """One device's families in order, each with its signature and line count, and its
        fragment unless its signature is ``previous``'s for that family.

        A device's change (its poll) usually leaves half its series as they were (status,
        info, interface state and speed): those families are not rendered again, and the
        label sets one device has (``ifalias``, the info labels), which miss the label
        cache at national scale, are looked at only when they or their values change. The
        signature is a hash of the family's label sets and of its values' bits (``-0.0``
        is not ``0.0``), exact but for a 64-bit collision, like the fragment hashes it
        replaces. A device with an invalid label set is rendered as :meth:`render` does,
        every time, so drops are counted and families ordered as before.
        """
        if device in self._invalid:
            return self._render_all(device, series())
        groups: dict[str, tuple[list[Labels], list[float]]] = {}
        invalid: list[SeriesKey] = []
        for (metric, labels), value in series():
            group = groups.get(metric)
            if group is None:
                if not self._known(metric):
                    invalid.append((metric, labels))  # counted below, unless by render()
                    continue
                group = groups[metric] = ([], [])
            group[0].append(labels)
            group[1].append(value)
        out: list[Rendered] = []
        dev = ""
        for metric, (label_sets, values) in groups.items():
            signature = hash((tuple(label_sets), array("d", values).tobytes()))
            if previous.get(metric) == signature:
                out.append((metric, signature, len(values), None))
                continue
            if not dev:
                dev = escape_label_value(device)
            data = self._family(metric, dev, label_sets, values)
            if data is None:  # an invalid label set: rendered and counted as before
                self._invalid.add(device)
                return self._render_all(device, series())
            out.append((metric, signature, len(values), data))
        for metric, labels in invalid:
            self._drop_invalid_metric(device, metric, labels)
        return out

    def _render_all(self, device: str, series: Iterable[tuple[SeriesKey, float]]
                    ) -> list[Rendered]:
        """:meth:`render`, for a device that had a series to drop: every family rendered
        at each change, signed by its fragment's hash, until a render drops nothing."""
        drops = self._drops.counts
        before = sum(drops.values())
        fragments = self.render(device, series)
        if sum(drops.values()) == before:
            self._invalid.discard(device)
        return [(name, hash(data), data.count(b"\n"), data)
                for name, data in fragments.items()]

    def forget(self, device: str) -> None:
        """The device is gone (a reload)."""
        self._invalid.discard(device)

    def _drop_invalid_metric(self, device: str, metric: str, labels: Labels) -> None:
        """Count a series of an invalid metric name as :meth:`render` does (an invalid
        label set first)."""
        rendered = self._label_cache.get(labels)
        if rendered is None:
            rendered = self._labels(labels)
        if rendered is _INVALID and labels:
            self._drops.drop("invalid_label", device, f"{metric} {labels!r}")
        else:
            self._drops.drop("invalid_metric_name", device, metric)

    def _family(self, metric: str, dev: str, label_sets: list[Labels],
                values: list[float]) -> bytes | None:
        """One family's fragment; None when a label set is invalid."""
        label_cache = self._label_cache
        lines = []
        for labels, value in zip(label_sets, values, strict=True):
            rendered = label_cache.get(labels)
            if rendered is None:
                rendered = self._labels(labels)
            if rendered is _INVALID and labels:
                return None
            text = repr(value)
            if text[-1] in "fn":
                text = _SPECIAL[text]
            lines.append(f'{metric}{{device="{dev}"{rendered}}} {text}\n')
        return "".join(lines).encode()

    def _labels(self, labels: Labels) -> str:
        """:func:`render_labels`, with each name's check and ``,name="`` looked up: the
        label sets one device has (``ifalias``, ``pubnet_device_info``'s) miss the label
        cache beyond ~3,000 devices and are rendered again at each of their changes."""
        names = self._label_names
        parts = []
        rendered = _INVALID
        for name, value in labels:
            opening = names.get(name)
            if opening is None:
                opening = self._label_name(name)
            if opening is _INVALID:
                break
            if "\\" in value or '"' in value or "\n" in value:
                value = escape_label_value(value)
            parts.append(f'{opening}{value}"')
        else:
            rendered = "".join(parts)
        if len(self._label_cache) >= self.LABEL_CACHE_MAX:
            self._label_cache.clear()
        self._label_cache[labels] = rendered
        return rendered

    def _label_name(self, name: str) -> str:
        """``,name="`` for a valid label name, :data:`_INVALID` otherwise."""
        opening = _INVALID if render_labels(((name, ""),)) is None else f',{name}="'
        if len(self._label_names) >= self.LABEL_CACHE_MAX:
            self._label_names.clear()
        self._label_names[name] = opening
        return opening


def text_exposition(observations: Iterable[Observation],
                    drops: DropCounter | None = None) -> str:
    """Observations as a standalone exposition in the text format 0.0.4, rendered exactly as
    ``/metrics`` renders them: each family's samples together under its HELP and TYPE from
    the metric catalog, values spelled as Prometheus spells them (``+Inf``, ``NaN``), label
    values escaped. Families and devices come out in the order first seen; a series given
    twice keeps its last value, as the store would. For ``pubnet poll --format prom``.
    """
    families = FamilyTable()
    renderer = DeviceRenderer(families, drops if drops is not None else DropCounter())
    by_device: dict[str, dict[SeriesKey, Observation]] = {}
    for obs in observations:
        by_device.setdefault(obs.device, {})[(obs.metric, obs.labels)] = obs
    blocks: dict[str, list[bytes]] = {}
    for device, series in by_device.items():
        pairs = ((key, obs.value) for key, obs in series.items())
        for metric, fragment in renderer.render(device, pairs).items():
            blocks.setdefault(metric, []).append(fragment)
    out: list[bytes] = []
    for metric, fragments in blocks.items():
        family = families.get(metric)
        assert family is not None  # the renderer drops invalid names
        out.append(family.header(openmetrics=False))
        out.extend(fragments)
    return b"".join(out).decode()
