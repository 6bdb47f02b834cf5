"""The MQTT collector against a real Mosquitto: observations, liveness, restarts, scale-out."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import aiomqtt
import pytest

from collectors.mqtt.names import Result
from collectors.mqtt.topics import status_topic, telemetry_topic
from inventory.model import Inventory
from pubnet import catalog
from pubnet.model import PollStatus
from pubnet.state import StateStore
from testbed import rawmqtt
from testbed.mosquitto import Mosquitto
from tests.collectors.mqtt.conftest import Secured, collector_for, running
from tests.support import eventually, free_port

pytestmark = pytest.mark.integration


async def publish(port: int, messages: list[tuple[str, bytes]], *, retain: bool = False,
                  **client: object) -> None:
    async with aiomqtt.Client("127.0.0.1", port, **client) as pub:  # type: ignore[arg-type]
        for topic, payload in messages:
            await pub.publish(topic, payload, qos=1, retain=retain)


def telemetry(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def status_of(store: StateStore, device: str) -> PollStatus | None:
    state = store.status(device)
    return None if state is None else state.status


async def test_telemetry_becomes_observations(any_broker: Secured,
                                              inventory: Inventory) -> None:
    """Plain, and over TLS with a client certificate and a password from a file."""
    store = StateStore()
    collector = collector_for(any_broker.broker.port, inventory, store, **any_broker.pubnet)

    async def publish_one(payload: bytes) -> None:
        async with aiomqtt.Client(**any_broker.gateway) as gateway:
            await gateway.publish(telemetry_topic("S0001", "gw-1"), payload, qos=1)

    ts = round(time.time() - 100, 3)
    first = telemetry(ts=ts, uptime_s=3600, clients={"2g": 12, "5g": 7},
                      rx_bytes={"wan": 1_000_000, "lan": 500}, tx_bytes=2_000_000,
                      signal_dbm=-71.5, cpu_ratio=0.25, mem_ratio=0.5, temperature_c=48.5,
                      firmware="OpenWrt 23.05", unknown_field=[1, 2])
    second = telemetry(ts=ts + 30, uptime_s=3630,
                       clients=20, rx_bytes={"wan": 1_500_000, "lan": 700}, tx_bytes=2_100_000)
    async with running(collector):
        await publish_one(first)
        await eventually(lambda: collector.ingestor.results[Result.OK] == 1, what="first")
        latest = store.latest
        assert latest("gw-1", catalog.DEVICE_UPTIME).value == 3600  # type: ignore[union-attr]
        assert latest("gw-1", catalog.AP_CLIENTS, (("radio", "5g"),)).value == 7  # type: ignore[union-attr]
        rx_lan = latest("gw-1", catalog.IF_RX_BYTES, (("ifname", "lan"),))
        assert rx_lan is not None and rx_lan.value == 500 and rx_lan.ts == ts
        tx = latest("gw-1", catalog.IF_TX_BYTES, (("ifname", "wan"),))
        assert tx is not None and tx.value == 2_000_000
        for metric, value in ((catalog.DEVICE_SIGNAL, -71.5), (catalog.DEVICE_CPU, 0.25),
                              (catalog.DEVICE_MEMORY, 0.5), (catalog.DEVICE_TEMPERATURE, 48.5)):
            assert latest("gw-1", metric).value == value  # type: ignore[union-attr]
        up = latest("gw-1", catalog.DEVICE_UP,
                    (("site", "S0001"), ("role", "site_gateway"), ("province", "50")))
        assert up is not None and up.value == 1.0
        assert status_of(store, "gw-1") is PollStatus.OK

        await publish_one(second)
        await eventually(lambda: collector.ingestor.results[Result.OK] == 2, what="second")
        assert latest("gw-1", catalog.AP_CLIENTS).value == 20  # type: ignore[union-attr]
        assert latest("gw-1", catalog.IF_RX_BYTES,  # type: ignore[union-attr]
                      (("ifname", "wan"),)).value == 1_500_000
        assert latest("gw-1", catalog.IF_RX_BYTES, (("ifname", "lan"),)).ts == ts + 30  # type: ignore[union-attr]

        # a reboot: uptime went back, the counter fell; the total keeps growing
        await publish_one(telemetry(ts=ts + 60, uptime_s=10, rx_bytes=3000))
        await eventually(lambda: collector.ingestor.results[Result.OK] == 3, what="reboot")
        assert latest("gw-1", catalog.IF_RX_BYTES,  # type: ignore[union-attr]
                      (("ifname", "wan"),)).value == 1_503_000
    connected = store.latest(catalog.PUBNET_DEVICE, catalog.MQTT_CONNECTED)
    assert connected is not None and connected.value == 0.0
    ok = store.latest(catalog.PUBNET_DEVICE, catalog.MQTT_MESSAGES, (("result", "ok"),))
    assert ok is not None and ok.value == 3


async def test_numbers_beyond_their_field_are_rejected_and_counted(
        mosquitto: Mosquitto, inventory: Inventory) -> None:
    """Issue 10, item 19: an rx_bytes beyond any 64-bit counter or an uptime of 1e308 came
    through a real broker and was stored as ``ok``."""
    store = StateStore()
    collector = collector_for(mosquitto.port, inventory, store)
    topic = telemetry_topic("S0001", "gw-1")
    async with running(collector):
        await publish(mosquitto.port, [
            (topic, b'{"rx_bytes": 100000000000000000000000}'),
            (topic, b'{"uptime_s": 1e308}'),
            (topic, b'{"tx_bytes": {"wan": 18446744073709551616}}'),
            (topic, telemetry(uptime_s=60, rx_bytes=2**64 - 1)),  # the largest that fits
        ])
        await eventually(lambda: sum(collector.ingestor.results.values()) == 4, what="4")
        await eventually(lambda: store.latest(catalog.PUBNET_DEVICE, catalog.MQTT_MESSAGES, (
            ("result", "malformed"),)) is not None, what="the malformed count")
    assert collector.ingestor.results[Result.MALFORMED] == 3
    assert collector.ingestor.results[Result.OK] == 1
    malformed = store.latest(catalog.PUBNET_DEVICE, catalog.MQTT_MESSAGES,
                             (("result", "malformed"),))
    assert malformed is not None and malformed.value == 3
    assert store.latest("gw-1", catalog.DEVICE_UPTIME).value == 60  # type: ignore[union-attr]
    rx = store.latest("gw-1", catalog.IF_RX_BYTES, (("ifname", "wan"),))
    assert rx is not None and rx.value == float(2**64 - 1)


async def test_last_will_and_missed_heartbeats(mosquitto: Mosquitto,
                                               inventory: Inventory) -> None:
    store = StateStore()
    collector = collector_for(mosquitto.port, inventory, store, heartbeat_interval="300ms",
                              down_after_missed=2)
    async with running(collector):
        # a gateway that says online, with offline as its last will, then drops off the net
        device = rawmqtt.open_session(mosquitto.port, rawmqtt.connect_packet(
            "gw-1", keepalive=60, will_topic=status_topic("S0001", "gw-1"),
            will_payload=b"offline"))
        device.sendall(rawmqtt.publish_packet(status_topic("S0001", "gw-1"), b"online",
                                              retain=True))
        await eventually(lambda: status_of(store, "gw-1") is PollStatus.OK, what="online")
        await publish(mosquitto.port, [(telemetry_topic("S0001", "gw-1"), telemetry(uptime_s=1))])
        device.shutdown(socket.SHUT_RDWR)
        device.close()  # no DISCONNECT: the broker publishes the will
        await eventually(lambda: status_of(store, "gw-1") is PollStatus.UNREACHABLE,
                         what="last will")
        assert store.status("gw-1").detail == "last will: offline"  # type: ignore[union-attr]
        assert store.latest("gw-1", catalog.DEVICE_UP, (  # type: ignore[union-attr]
            ("site", "S0001"), ("role", "site_gateway"), ("province", "50"))).value == 0

        # a fresh message brings it back
        await publish(mosquitto.port, [(telemetry_topic("S0001", "gw-1"), telemetry(uptime_s=5))])
        await eventually(lambda: status_of(store, "gw-1") is PollStatus.OK, what="up again")

        # then silence: after 2 × 300 ms it is down by timeout, with no will at all
        started = time.monotonic()
        await eventually(lambda: status_of(store, "gw-1") is PollStatus.TIMEOUT,
                         what="heartbeat timeout")
        assert time.monotonic() - started >= 0.5
        # gw-2 (an MQTT device) never spoke since start-up: down as well; APs are not watched
        await eventually(lambda: status_of(store, "gw-2") is PollStatus.TIMEOUT, what="gw-2")
        assert store.status("ap-1") is None

        await publish(mosquitto.port, [(telemetry_topic("S0001", "gw-1"), telemetry(uptime_s=9))])
        await eventually(lambda: status_of(store, "gw-1") is PollStatus.OK, what="recovered")


async def test_restart_delivers_every_qos1_message_exactly_once(
        tmp_path: object, mosquitto: Mosquitto, inventory: Inventory,
        caplog: pytest.LogCaptureFixture) -> None:
    """Stop the broker, restart it where pubnet cannot reach it, publish, restart it fully:
    pubnet reconnects to its persistent session and gets each message once."""
    caplog.set_level(logging.INFO, logger="pubnet.mqtt")
    publisher_port = free_port()
    await asyncio.to_thread(mosquitto.stop)
    mosquitto.extra_ports = [publisher_port]
    await asyncio.to_thread(mosquitto.start)

    store = StateStore()
    uptimes: list[float] = []
    sub = store.subscribe("count", metrics=[catalog.DEVICE_UPTIME])
    collector = collector_for(mosquitto.port, inventory, store, protocol="5")

    def drain() -> None:
        while (batch := sub.get_nowait()) is not None:
            uptimes.extend(o.value for o in batch.observations)

    topic = telemetry_topic("S0001", "gw-1")
    async with running(collector):
        await publish(publisher_port, [(topic, telemetry(uptime_s=n)) for n in range(20)])
        await eventually(lambda: collector.ingestor.results[Result.OK] == 20, what="before")

        await asyncio.to_thread(mosquitto.stop)
        await eventually(lambda: not collector.connected, what="disconnect")
        # the broker comes back only on the publisher's port: pubnet keeps failing
        failures = collector.connect_failures
        await asyncio.to_thread(mosquitto.start, [publisher_port])
        await eventually(lambda: collector.connect_failures > failures, what="a failed retry")
        await publish(publisher_port, [(topic, telemetry(uptime_s=n)) for n in range(20, 520)])
        assert not collector.connected
        await asyncio.to_thread(mosquitto.stop)
        await asyncio.to_thread(mosquitto.start)
        await eventually(lambda: collector.ingestor.results[Result.OK] == 520,
                         within=60, what="all 520 messages")
        await asyncio.sleep(0.5)  # anything duplicated would arrive now
        drain()
    assert collector.reconnects >= 1
    assert sorted(uptimes) == [float(n) for n in range(520)]
    assert collector.ingestor.results[Result.OK] == 520
    outage_lines = [r for r in caplog.records if r.getMessage().startswith("mqtt broker unre")]
    assert len(outage_lines) == 1, [r.getMessage() for r in outage_lines]
    assert any(r.getMessage() == "mqtt broker reachable again" for r in caplog.records)


async def test_broker_down_at_start_never_crashes(tmp_path: object, inventory: Inventory,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    from pathlib import Path

    from testbed.mosquitto import Mosquitto
    from tests.support import require_binary

    caplog.set_level(logging.INFO, logger="pubnet.mqtt")
    folder = Path(str(tmp_path)) / "late"
    folder.mkdir()
    broker = Mosquitto(require_binary("mosquitto"), folder, free_port())
    store = StateStore()
    collector = collector_for(broker.port, inventory, store)
    async with running(collector, connected=False):
        await eventually(lambda: collector.connect_failures >= 3, what="failed attempts")
        gauge = store.latest(catalog.PUBNET_DEVICE, catalog.MQTT_CONNECTED)
        assert gauge is not None and gauge.value == 0.0
        await asyncio.to_thread(broker.start)
        try:
            await asyncio.wait_for(collector.wait_connected(), 20)
            assert store.latest(catalog.PUBNET_DEVICE,  # type: ignore[union-attr]
                                catalog.MQTT_CONNECTED).value == 1.0
            # one warning for the whole outage, however many attempts failed
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()
        finally:
            await asyncio.to_thread(broker.stop)


BAD_INPUTS = [
    ("not json", telemetry_topic("S0001", "gw-1"), b"{not json", Result.MALFORMED),
    ("wrong type", telemetry_topic("S0001", "gw-1"), b'{"rx_bytes": "many"}', Result.MALFORMED),
    ("negative counter", telemetry_topic("S0001", "gw-1"), b'{"tx_bytes": -5}',
     Result.MALFORMED),
    ("boolean count", telemetry_topic("S0001", "gw-1"), b'{"clients": true}', Result.MALFORMED),
    ("array", telemetry_topic("S0001", "gw-1"), b"[1, 2]", Result.MALFORMED),
    ("bad status", status_topic("S0001", "gw-1"), b"maybe", Result.MALFORMED),
    ("unknown device", telemetry_topic("S0001", "gw-99"), b"{}", Result.UNKNOWN_DEVICE),
    ("unknown site", telemetry_topic("S9999", "gw-1"), b"{}", Result.UNKNOWN_DEVICE),
    ("wrong site", telemetry_topic("S0002", "gw-1"), b"{}", Result.UNKNOWN_DEVICE),
    ("empty level", "pubnet/v1/telemetry//gw-1", b"{}", Result.BAD_TOPIC),
    ("oversize", telemetry_topic("S0001", "gw-1"),
     json.dumps({"firmware": "x" * 100, "pad": "y" * 600}).encode(), Result.OVERSIZE),
    ("far past", telemetry_topic("S0001", "gw-1"), b'{"ts": 1000000000}', Result.STALE),
    ("far future", telemetry_topic("S0001", "gw-1"), b'{"ts": "2999-01-01T00:00:00Z"}',
     Result.CLOCK_SKEW),
    ("epoch millis", telemetry_topic("S0001", "gw-1"),
     f'{{"ts": {int(time.time() * 1000)}}}'.encode(), Result.CLOCK_SKEW),
]


async def test_every_bad_input_is_counted_and_logged_once(
        mosquitto: Mosquitto, inventory: Inventory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pubnet.mqtt")
    store = StateStore()
    collector = collector_for(mosquitto.port, inventory, store, max_payload_bytes=512)
    messages = [(topic, payload) for _, topic, payload, _ in BAD_INPUTS]
    async with running(collector):
        # each bad message twice, then one good one: the good one proves nothing crashed
        await publish(mosquitto.port, messages + messages + [
            (telemetry_topic("S0002", "gw-2"), telemetry(uptime_s=1))])
        await eventually(lambda: collector.ingestor.results[Result.OK] == 1, what="good one")
    expected: dict[Result, int] = {}
    for _, _, _, result in BAD_INPUTS:
        expected[result] = expected.get(result, 0) + 2
    for result, count in expected.items():
        assert collector.ingestor.results[result] == count, result
        total = store.latest(catalog.PUBNET_DEVICE, catalog.MQTT_MESSAGES, (("result", result),))
        assert total is not None and total.value == count
    assert collector.ingestor.results[Result.ERROR] == 0
    dropped = [r for r in caplog.records if r.getMessage() == "mqtt message dropped"]
    pairs = [(r.__dict__["device"], r.__dict__["result"]) for r in dropped]
    assert len(pairs) == len(set(pairs)), "a (device, reason) pair was logged twice"
    assert {r for _, r in pairs} == {r.value for r in expected}
    assert store.status("gw-1") is None  # nothing bad made it into the store


async def test_shared_subscription_splits_without_loss(mosquitto: Mosquitto,
                                                       inventory: Inventory) -> None:
    stores = [StateStore(), StateStore()]
    collectors = [collector_for(mosquitto.port, inventory, store, client_id=f"pubnet-{n}",
                                shared_group="noc", protocol="5")
                  for n, store in enumerate(stores)]
    seen: list[list[float]] = [[], []]
    subs = [store.subscribe("count", metrics=[catalog.DEVICE_UPTIME]) for store in stores]
    async with running(collectors[0]), running(collectors[1]):
        await publish(mosquitto.port, [
            (telemetry_topic(f"S000{1 + n % 2}", f"gw-{1 + n % 2}"), telemetry(uptime_s=n))
            for n in range(400)])
        await eventually(lambda: sum(c.ingestor.results[Result.OK] for c in collectors) >= 400,
                         what="400 messages between the two")
        await asyncio.sleep(0.3)
    for index, sub in enumerate(subs):
        while (batch := sub.get_nowait()) is not None:
            seen[index].extend(o.value for o in batch.observations)
    assert sorted(seen[0] + seen[1]) == [float(n) for n in range(400)]
    assert seen[0] and seen[1], "both instances took a share"


async def test_with_shared_telemetry_every_instance_sees_every_last_will(
        mosquitto: Mosquitto, inventory: Inventory) -> None:
    """Status is not split: each instance marks the device down, including one that starts
    after the retained ``offline`` was left."""
    await publish(mosquitto.port, [(status_topic("S0002", "gw-2"), b"offline")], retain=True)
    stores = [StateStore(), StateStore()]
    collectors = [collector_for(mosquitto.port, inventory, store, client_id=f"pubnet-lw-{n}",
                                shared_group="noc", protocol="5")
                  for n, store in enumerate(stores)]
    async with running(collectors[0]), running(collectors[1]):
        await eventually(lambda: all(status_of(s, "gw-2") is PollStatus.UNREACHABLE
                                     for s in stores), what="the retained offline in both")
        await publish(mosquitto.port, [(status_topic("S0001", "gw-1"), b"offline")])
        await eventually(lambda: all(status_of(s, "gw-1") is PollStatus.UNREACHABLE
                                     for s in stores), what="a last will in both")
    await publish(mosquitto.port, [(status_topic("S0002", "gw-2"), b"")], retain=True)


async def test_wrong_password_is_retried_not_fatal(tmp_path: object,
                                                    inventory: Inventory) -> None:
    from pathlib import Path

    from testbed.mosquitto import make_tls, password_file
    from tests.support import require_binary

    folder = Path(str(tmp_path)) / "tls"
    folder.mkdir()
    tls = make_tls(folder)
    passwords = password_file(require_binary("mosquitto_passwd"), folder / "passwd",
                              {"pubnet": "right"})
    broker = Mosquitto(require_binary("mosquitto"), folder, free_port(), tls=tls,
                       password_file=passwords)
    await asyncio.to_thread(broker.start)
    try:
        wrong = collector_for(
            broker.port, inventory, StateStore(), url=f"mqtts://127.0.0.1:{broker.port}",
            username="pubnet", password="wrong", ca_file=str(tls.ca),
            cert_file=str(tls.client_cert), key_file=str(tls.client_key))
        async with running(wrong, connected=False):
            await eventually(lambda: wrong.connect_failures >= 2, what="refused twice")
            assert not wrong.connected
    finally:
        await asyncio.to_thread(broker.stop)


async def test_embedded_broker(inventory: Inventory) -> None:
    from collectors.mqtt.component import MqttCollector
    from pubnet.config import MqttConfig

    port = free_port()
    store = StateStore()
    config = MqttConfig(embedded_port=port, reconnect_min=0.05, reconnect_max=0.3)
    collector = MqttCollector(config, inventory, store)
    async with running(collector):
        await publish(port, [(telemetry_topic("S0001", "gw-1"), telemetry(uptime_s=7, clients=3)),
                             (status_topic("S0002", "gw-2"), b"offline")])
        await eventually(lambda: collector.ingestor.results[Result.OK] == 2, what="embedded")
    assert store.latest("gw-1", catalog.AP_CLIENTS).value == 3  # type: ignore[union-attr]
    assert store.status("gw-2").status is PollStatus.UNREACHABLE  # type: ignore[union-attr]
    # the broker stopped with the component
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


async def test_embedded_broker_port_taken_stops_the_component_naming_port_and_setting(
        inventory: Inventory, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 10, item 17: with the port taken (by another pubnet's broker, here a plain
    listener), the collector used to log an error and then connect to whatever held the
    port, reporting itself connected while it heard nothing. Now it stops, saying why."""
    from collectors.mqtt.broker import EmbeddedBrokerError
    from collectors.mqtt.component import MqttCollector
    from pubnet.config import MqttConfig

    caplog.set_level(logging.INFO, logger="pubnet.mqtt")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        config = MqttConfig(embedded_port=port, connect_timeout=0.2, reconnect_min=0.05,
                            reconnect_max=0.2)
        collector = MqttCollector(config, inventory, StateStore())
        with pytest.raises(EmbeddedBrokerError) as info:
            await asyncio.wait_for(collector.run(), 10)
    assert collector.connections == 0 and collector.connect_failures == 0
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "already in use" in message
    assert "mqtt.embedded_port" in message
    errors = [(r.getMessage(), getattr(r, "error", None)) for r in caplog.records
              if r.levelno == logging.ERROR]
    assert errors == [("embedded mqtt broker not started, mqtt collector stops", message)]
