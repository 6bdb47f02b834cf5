"""pubnet's own health families, through prometheus-client's collector API."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporters.prometheus.health import HealthCollector
from pubnet.model import Batch, Observation, PollStatus, Source
from pubnet.state import StateStore


def families(collector: HealthCollector) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]],
                                                          float]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    out: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in parse_text(generate_latest(registry).decode()):
        out[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value
                            for s in family.samples}
    return out


def test_poll_duration_histogram_counts_each_poll_by_source() -> None:
    store = StateStore()
    health = HealthCollector(store, dict)
    durations = [0.004, 0.02, 0.02, 0.3, 12.0, 45.0]
    health.observe_batch(Batch(tuple(
        Observation(f"d{i}", "pubnet_device_poll_duration_seconds", d, 1.0, Source.SNMP)
        for i, d in enumerate(durations))))
    health.observe_batch(Batch((Observation("m1", "pubnet_device_poll_duration_seconds", 0.5,
                                            1.0, Source.MQTT),
                                Observation("m1", "pubnet_ap_clients", 9.0, 1.0, Source.MQTT))))
    got = families(health)["pubnet_poll_duration_seconds"]

    def bucket(source: str, le: str) -> float:
        return got[("pubnet_poll_duration_seconds_bucket", (("le", le), ("source", source)))]

    assert bucket("snmp", "0.005") == 1
    assert bucket("snmp", "0.025") == 3
    assert bucket("snmp", "0.5") == 4
    assert bucket("snmp", "30.0") == 5
    assert bucket("snmp", "+Inf") == 6
    assert got[("pubnet_poll_duration_seconds_count", (("source", "snmp"),))] == 6
    assert got[("pubnet_poll_duration_seconds_sum", (("source", "snmp"),))] == sum(durations)
    assert got[("pubnet_poll_duration_seconds_count", (("source", "mqtt"),))] == 1


def test_state_drops_and_exclusion() -> None:
    """The poll lag is the SNMP poller's (collectors/snmp/poller.py): health has none of
    its own, even with answering devices in the store."""
    store = StateStore()
    health = HealthCollector(store, lambda: {"invalid_label": 2})
    store.set_status("a", PollStatus.OK, 930.0, Source.SNMP)
    sub = store.subscribe("slowpoke", capacity=1)
    store.publish([Observation("a", "x", 1.0, 1.0, Source.SNMP)] * 3)
    got = families(health)
    assert "pubnet_poll_lag_seconds" not in got
    assert got["pubnet_state_dropped"][("pubnet_state_dropped_total",
                                        (("subscriber", "slowpoke"),))] == 3
    assert got["pubnet_exporter_dropped_series"][(
        "pubnet_exporter_dropped_series_total", (("reason", "invalid_label"),))] == 2
    store.unsubscribe(sub)
    health.exclude = frozenset({"pubnet_state_dropped_total"})
    got = families(health)
    assert "pubnet_state_dropped" not in got and "pubnet_state_pending" in got
