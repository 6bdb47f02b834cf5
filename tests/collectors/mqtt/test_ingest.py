"""The ingest path without a broker: topics, payloads, counters, heartbeats, problems."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.mqtt.ingest import MAX_LOGGED_PROBLEMS, Ingestor, overdue
from collectors.mqtt.names import Result
from collectors.mqtt.payload import PayloadError, TelemetryDecoder, timestamp
from collectors.mqtt.redelivery import RedeliveryFilter
from collectors.mqtt.topics import Kind, filters, parse_topic, status_topic, telemetry_topic
from pubnet import catalog
from pubnet.config import MqttConfig
from pubnet.model import PollStatus
from pubnet.state import StateStore
from tests.collectors.mqtt.conftest import small_inventory

NOW = 1_800_000_000.0


def make(**settings: float) -> tuple[Ingestor, StateStore]:
    store = StateStore()
    ingestor = Ingestor(store, small_inventory(), MqttConfig.model_validate(settings),
                        clock=lambda: NOW)
    return ingestor, store


def send(ingestor: Ingestor, now: float = NOW, device: str = "gw-1", site: str = "S0001",
         **fields: object) -> Result:
    return ingestor.handle(telemetry_topic(site, device), json.dumps(fields).encode(), now=now)


@pytest.mark.parametrize(("topic", "expected"), [
    ("pubnet/v1/telemetry/S1/gw", (Kind.TELEMETRY, "S1", "gw")),
    ("pubnet/v1/status/S1/gw", (Kind.STATUS, "S1", "gw")),
    ("pubnet/v1/status/บ้าน/เกตเวย์", (Kind.STATUS, "บ้าน", "เกตเวย์")),
    ("pubnet/v2/telemetry/S1/gw", None),
    ("pubnet/v1/alerts/S1/gw", None),
    ("pubnet/v1/telemetry/S1", None),
    ("pubnet/v1/telemetry/S1/gw/extra", None),
    ("pubnet/v1/telemetry//gw", None),
    ("other/v1/telemetry/S1/gw", None),
    ("", None),
], ids=["telemetry", "status", "thai", "v2", "kind", "short", "long", "empty", "root", "blank"])
def test_parse_topic(topic: str, expected: tuple[Kind, str, str] | None) -> None:
    assert parse_topic(topic) == expected


def test_filters_plain_and_shared() -> None:
    assert filters() == ("pubnet/v1/telemetry/+/+", "pubnet/v1/status/+/+")
    assert filters("noc") == ("$share/noc/pubnet/v1/telemetry/+/+",
                              "pubnet/v1/status/+/+")
    assert parse_topic(status_topic("S1", "gw")) == (Kind.STATUS, "S1", "gw")


@given(st.text(max_size=80))
def test_parse_topic_never_raises(topic: str) -> None:
    parsed = parse_topic(topic)
    assert parsed is None or topic.startswith("pubnet/v1/")


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_decoder_raises_only_payload_error(payload: bytes) -> None:
    decoder = TelemetryDecoder()
    try:
        decoder.decode(payload)
    except PayloadError:
        pass


@pytest.mark.parametrize(("payload", "where"), [
    (b'{"rx_bytes": "many"}', "$.rx_bytes"),
    (b'{"clients": {"2g": -1}}', "$.clients"),
    (b'{"cpu_ratio": 1.5}', "$.cpu_ratio"),
    (b'{"ts": "2026-01-01T00:00:00"}', "$.ts"),
    (b'{"uptime_s": true}', "$.uptime_s"),
    (b'{"rx_bytes": {"": 1}}', "$.rx_bytes"),
    (json.dumps({"rx_bytes": {f"if{n}": 1 for n in range(17)}}).encode(), "$.rx_bytes"),
    (b"{", "invalid JSON"),
    (b'{"rx_bytes": 100000000000000000000000}', "$.rx_bytes"),
    (b'{"rx_bytes": 1e23}', "$.rx_bytes"),
    (b'{"tx_bytes": {"wan": 18446744073709551616}}', "$.tx_bytes"),
    (b'{"uptime_s": 1e308}', "$.uptime_s"),
    (b'{"clients": 65536}', "$.clients"),
    (b'{"clients": {"5g": 99999999999999999999}}', "$.clients"),
], ids=["string-counter", "negative", "ratio", "naive-ts", "bool", "empty-name", "too-many",
        "truncated", "rx-10^23", "rx-1e23-float", "tx-2^64", "uptime-1e308", "clients-2^16",
        "clients-10^20"])
def test_decoder_names_the_field(payload: bytes, where: str) -> None:
    with pytest.raises(PayloadError, match=rf"{where.replace('$', '[$]')}"):
        TelemetryDecoder().decode(payload)


def test_numbers_up_to_what_the_field_holds_pass() -> None:
    t = TelemetryDecoder().decode(b'{"rx_bytes": 18446744073709551615, "tx_bytes": {"wan": 0},'
                                  b' "uptime_s": 4294967295, "clients": {"2g": 65535}}')
    assert t.rx_bytes == 2**64 - 1 and t.uptime_s == 2**32 - 1 and t.clients == {"2g": 65535}


def test_out_of_range_numbers_are_counted_and_not_stored() -> None:
    ingestor, store = make()
    assert send(ingestor, rx_bytes=10**23) is Result.MALFORMED
    assert send(ingestor, uptime_s=1e308) is Result.MALFORMED
    assert ingestor.results[Result.MALFORMED] == 2 and ingestor.results[Result.OK] == 0
    assert store.device_series("gw-1") == {} and store.status("gw-1") is None


def test_timestamps() -> None:
    decoder = TelemetryDecoder()
    assert timestamp(decoder.decode(b'{"ts": "2026-01-01T07:00:00+07:00"}').ts, 0) == 1767225600
    assert timestamp(decoder.decode(b'{"ts": 1767225600.5}').ts, 0) == 1767225600.5
    assert timestamp(decoder.decode(b"{}").ts, 42.0) == 42.0


def test_counters_are_monotonic_across_reboots() -> None:
    ingestor, store = make()
    wan = (("ifname", "wan"),)
    totals = []
    for uptime, rx in ((100, 1000), (130, 1500), (160, 1400), (10, 200), (40, 900)):
        assert send(ingestor, uptime_s=uptime, rx_bytes=rx) is Result.OK
        totals.append(store.latest("gw-1", catalog.IF_RX_BYTES, wan).value)  # type: ignore[union-attr]
    # first reading as is; +500; fell (reset) +1400; rebooted +200; +700
    assert totals == [1000, 1500, 2900, 3100, 3800]


def test_uptime_going_back_resets_even_a_counter_that_grew() -> None:
    ingestor, store = make()
    send(ingestor, uptime_s=1000, tx_bytes=500)
    send(ingestor, uptime_s=5, tx_bytes=800)  # rebooted, and already counted 800 since
    tx = store.latest("gw-1", catalog.IF_TX_BYTES, (("ifname", "wan"),))
    assert tx is not None and tx.value == 1300


def test_problems_are_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pubnet.mqtt")
    ingestor, store = make(max_payload_bytes=100)
    for _ in range(3):
        assert ingestor.handle("pubnet/v1/telemetry/S0001/gw-1", b"nope", now=NOW) \
            is Result.MALFORMED
        assert ingestor.handle("pubnet/v1/telemetry/S0001/gw-1", b"x" * 101, now=NOW) \
            is Result.OVERSIZE
        assert send(ingestor, ts=NOW - 86400 * 2) is Result.STALE
        assert send(ingestor, ts=NOW + 3600) is Result.CLOCK_SKEW
        assert send(ingestor, device="ghost") is Result.UNKNOWN_DEVICE
        assert ingestor.handle("pubnet/v1/telemetry/S0001", b"{}", now=NOW) is Result.BAD_TOPIC
    assert send(ingestor, ts=NOW + 60) is Result.OK  # small skew is tolerated
    for result in (Result.MALFORMED, Result.OVERSIZE, Result.STALE, Result.CLOCK_SKEW,
                   Result.UNKNOWN_DEVICE, Result.BAD_TOPIC):
        assert ingestor.results[result] == 3
    assert len([r for r in caplog.records if r.getMessage() == "mqtt message dropped"]) == 6
    # a skewed clock never puts an observation in the future
    assert store.latest("gw-1", catalog.DEVICE_UP, ingestor._devices["gw-1"].up_labels).ts == NOW  # type: ignore[union-attr]


def test_log_once_memory_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pubnet.mqtt")
    ingestor, _ = make()
    for n in range(MAX_LOGGED_PROBLEMS + 50):
        ingestor.handle(telemetry_topic("S0001", f"ghost-{n}"), b"{}", now=NOW)
    assert len(ingestor._logged) == MAX_LOGGED_PROBLEMS
    assert ingestor.results[Result.UNKNOWN_DEVICE] == MAX_LOGGED_PROBLEMS + 50
    assert sum("too many distinct" in r.getMessage() for r in caplog.records) == 1


def test_heartbeats_by_timestamp() -> None:
    ingestor, store = make(heartbeat_interval=30, down_after_missed=3)
    assert overdue(NOW, NOW + 90, 90) is False and overdue(NOW, NOW + 90.1, 90) is True
    send(ingestor, now=NOW, uptime_s=1)
    assert ingestor.check_heartbeats(NOW + 89) == []
    # gw-2 is an MQTT device never heard since start-up; the APs are SNMP devices
    assert ingestor.check_heartbeats(NOW + 91) == ["gw-1", "gw-2"]
    state = store.status("gw-1")
    assert state is not None and state.status is PollStatus.TIMEOUT
    assert "3 heartbeats missed" in state.detail
    assert store.status("ap-1") is None
    assert ingestor.check_heartbeats(NOW + 200) == []  # down once, not again
    send(ingestor, now=NOW + 201, uptime_s=200)
    assert store.status("gw-1").status is PollStatus.OK  # type: ignore[union-attr]


def test_reconnect_grace_and_retained_online() -> None:
    ingestor, store = make(heartbeat_interval=10, down_after_missed=2)
    ingestor.handle(status_topic("S0002", "gw-2"), b"online", retain=True, now=NOW + 15)
    assert store.status("gw-2") is None  # a retained online is old news, not "up"
    ingestor.grace(NOW + 100)  # pubnet reconnected after a long outage
    assert ingestor.check_heartbeats(NOW + 119) == []
    assert ingestor.check_heartbeats(NOW + 121) == ["gw-1", "gw-2"]
    ingestor.handle(status_topic("S0002", "gw-2"), b" Online\n", now=NOW + 122)
    assert store.status("gw-2").status is PollStatus.OK  # type: ignore[union-attr]
    ingestor.handle(status_topic("S0002", "gw-2"), b"offline", retain=True, now=NOW + 123)
    state = store.status("gw-2")
    assert state is not None and state.status is PollStatus.UNREACHABLE


def test_observation_labels_and_series() -> None:
    ingestor, store = make()
    send(ingestor, clients={"2g": 3, "5g": 4}, rx_bytes={"wan": 10, "lte0": 20}, tx_bytes=5,
         signal_dbm=-80, firmware="x")
    series = store.device_series("gw-1")
    assert (catalog.AP_CLIENTS, (("radio", "2g"),)) in series
    assert (catalog.IF_RX_BYTES, (("ifname", "lte0"),)) in series
    assert (catalog.IF_TX_BYTES, (("ifname", "wan"),)) in series
    assert all(o.source.value == "mqtt" for o in series.values())
    assert not any(label == "device" for _, labels in series for label, _ in labels)


def test_firmware_becomes_device_info_replaced_when_it_changes() -> None:
    ingestor, store = make()

    def info() -> list[dict[str, str]]:
        return [dict(labels) for (metric, labels) in store.device_series("gw-1")
                if metric == catalog.DEVICE_INFO]

    send(ingestor, uptime_s=1, firmware="OpenWrt 23.05.3")
    assert info() == [{"site": "S0001", "role": "site_gateway", "profile": "mqtt",
                       "province": "50", "district": "5001", "sys_name": "",
                       "sys_descr": "OpenWrt 23.05.3"}]
    send(ingestor, uptime_s=2, firmware="OpenWrt 23.05.3")
    send(ingestor, uptime_s=3, firmware="OpenWrt 24.10.0")
    assert [i["sys_descr"] for i in info()] == ["OpenWrt 24.10.0"]
    # An SNMP-polled device's info comes from its sysDescr; MQTT does not overwrite it.
    send(ingestor, device="ap-1", uptime_s=1, firmware="UniFi 6.6")
    assert not [m for (m, _) in store.device_series("ap-1") if m == catalog.DEVICE_INFO]


def test_stats_observations() -> None:
    ingestor, _ = make()
    send(ingestor, uptime_s=1)
    ingestor.handle("pubnet/v1/status/S0001/gw-1", b"?", now=NOW)
    by_result = {o.labels: o.value for o in ingestor.stats_observations(NOW)
                 if o.metric == catalog.MQTT_MESSAGES}
    assert by_result[(("result", "ok"),)] == 1 and by_result[(("result", "malformed"),)] == 1
    assert all(o.device == catalog.PUBNET_DEVICE for o in ingestor.stats_observations(NOW))


def test_redelivery_filter() -> None:
    seen = RedeliveryFilter()
    assert seen.is_redelivery(1, "t", b"a") is False
    assert seen.is_redelivery(1, "t", b"a") is True  # the broker resent it
    assert seen.is_redelivery(1, "t", b"b") is False  # id reused for a new message
    assert seen.is_redelivery(2, "t", b"b") is False


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.dictionaries(st.text(max_size=8), st.integers(min_value=-5, max_value=2**64),
                    max_size=4),
    st.lists(st.integers(), max_size=3),
)
_FIELDS = st.sampled_from(["ts", "uptime_s", "clients", "rx_bytes", "tx_bytes", "signal_dbm",
                           "cpu_ratio", "mem_ratio", "temperature_c", "firmware", "other"])


@given(st.lists(st.dictionaries(_FIELDS, _VALUES, max_size=6), min_size=1, max_size=8))
def test_any_json_object_ends_in_a_counted_result(messages: list[dict[str, object]]) -> None:
    ingestor, store = make()
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for fields in messages:
        result = ingestor.handle(telemetry_topic("S0001", "gw-1"),
                                 json.dumps(fields).encode(), now=NOW)
        assert result in (Result.OK, Result.MALFORMED, Result.STALE, Result.CLOCK_SKEW)
        for key, obs in store.device_series("gw-1").items():
            if key[0].endswith("_total"):
                assert obs.value >= totals.get(key, 0.0), "a total went down"
                totals[key] = obs.value
    assert sum(ingestor.results.values()) == len(messages)
    assert ingestor.results[Result.ERROR] == 0


def test_attempt_records_carry_the_collectors_verdicts() -> None:
    """Issue 11 §2: a last will and missed heartbeats count at once, an uptime that went
    back is a reboot: decided here, carried in the attempt record, not guessed by alerting."""
    ingestor, store = make(heartbeat_interval=30, down_after_missed=3)
    with store.subscription("attempts", metrics=()) as sub:
        send(ingestor, NOW, uptime_s=5000)
        send(ingestor, NOW + 10, uptime_s=12)
        ingestor.handle(status_topic("S0001", "gw-1"), b"offline", now=NOW + 20)
        send(ingestor, NOW + 30, device="gw-2", site="S0002")
        ingestor.check_heartbeats(NOW + 200)
        attempts = [a for batch in iter(sub.get_nowait, None) for a in batch.attempts]
    got = [(a.device, a.status, a.counts_at_once, a.rebooted) for a in attempts]
    assert got == [
        ("gw-1", PollStatus.OK, False, False),
        ("gw-1", PollStatus.OK, False, True),
        ("gw-1", PollStatus.UNREACHABLE, True, False),
        ("gw-2", PollStatus.OK, False, False),
        ("gw-2", PollStatus.TIMEOUT, True, False),
    ]
    assert attempts[1].detail == "uptime 5000s -> 12s"
    up = store.latest("gw-1", catalog.DEVICE_POLL_STATUS, ((catalog.LABEL_STATUS, "ok"),))
    assert up is not None and up.value == 0.0  # one writer: the collector, on each change


def test_other_shards_gateways_are_counted_not_logged_one_by_one(
        caplog: pytest.LogCaptureFixture) -> None:
    """A shard hears every gateway (no shared group): at a national start thousands of
    other shards' gateways each logged a warning. They are counted as unknown_device and
    told once; a device nobody watches still gets its own warning."""
    caplog.set_level(logging.INFO, logger="pubnet.mqtt")
    ingestor = Ingestor(StateStore(), small_inventory(), MqttConfig(),
                        lambda: NOW, elsewhere=frozenset(f"gw-x{n}" for n in range(500)))
    for n in range(500):
        assert send(ingestor, device=f"gw-x{n}") is Result.UNKNOWN_DEVICE
    assert send(ingestor, device="ghost") is Result.UNKNOWN_DEVICE
    assert ingestor.results[Result.UNKNOWN_DEVICE] == 501
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("mqtt message dropped") == 1  # the ghost
    assert sum("other shards' devices" in m for m in messages) == 1
