"""The ``mqtt:`` config section and how it turns the component on."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from collectors.mqtt.component import MqttCollector
from inventory.model import Inventory
from inventory.topology import Topology
from pubnet.app import components
from pubnet.app.runtime import Context
from pubnet.config import ConfigError, load_config, parse_config, secret_values
from pubnet.config.mqtt import default_client_id
from pubnet.mqttclient import client_options
from tests.collectors.mqtt.conftest import small_inventory

ISSUE_YAML = """\
mqtt:
  url: mqtts://broker.example:8883   # mqtt:// or mqtts://; absent = embedded broker
  username: pubnet
  password: ${MQTT_PASSWORD}
  ca_file: /etc/pubnet/ca.pem
  client_id: pubnet-1
  shared_group: pubnet              # optional
  heartbeat_interval: 30s
  down_after_missed: 3
"""


def test_issue_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PASSWORD", "hunter2-ลับ")
    path = tmp_path / "pubnet.yaml"
    path.write_text(ISSUE_YAML, encoding="utf-8")
    mqtt = load_config(path).mqtt
    assert (mqtt.host, mqtt.port, mqtt.tls, mqtt.embedded) == ("broker.example", 8883, True,
                                                               False)
    assert mqtt.mqtt_version == "5" and mqtt.shared_group == "pubnet"
    assert mqtt.heartbeat_interval == 30 and mqtt.down_after_missed == 3
    assert "hunter2" not in repr(mqtt) and "hunter2" not in str(mqtt.model_dump())
    assert "hunter2-ลับ" in secret_values(load_config(path))
    options = client_options(mqtt, lambda message: None, None)
    assert options["password"] == "hunter2-ลับ" and options["clean_start"] is False
    assert options["properties"].SessionExpiryInterval == 86400


def test_embedded_default() -> None:
    mqtt = parse_config({}).mqtt
    assert mqtt.embedded and mqtt.host == "127.0.0.1" and mqtt.port == 1883
    assert mqtt.mqtt_version == "3.1.1"
    assert mqtt.embedded_host == "127.0.0.1" and mqtt.embedded_max_packet_bytes == 65_536
    options = client_options(mqtt, lambda message: None, None)
    assert options["clean_session"] is False
    assert options["identifier"] == default_client_id(None) == mqtt.client_id


def test_default_client_id_is_unique_per_installation_and_stable(tmp_path: Path) -> None:
    """Issue 10, item 17: two pubnets on one host shared the default client id ``pubnet-1``
    and so one broker session. The default now comes from the host and the config file."""
    first, second = tmp_path / "a" / "pubnet.yaml", tmp_path / "b" / "pubnet.yaml"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text("mqtt:\n  heartbeat_interval: 30s\n", encoding="utf-8")
    id_a, id_b = load_config(first).mqtt.client_id, load_config(second).mqtt.client_id
    assert id_a != id_b
    assert load_config(first).mqtt.client_id == id_a  # the same after a restart
    # ... whichever way the path is spelled
    relative = Path(os.path.relpath(first))
    assert load_config(relative).mqtt.client_id == id_a
    host = socket.gethostname()
    assert id_a.startswith(f"pubnet-{host[:10]}") and len(id_a) <= 128
    assert id_a == default_client_id(first)
    first.write_text("mqtt:\n  client_id: noc-main\n", encoding="utf-8")
    assert load_config(first).mqtt.client_id == "noc-main"  # a given id is kept


def test_embedded_broker_beyond_loopback() -> None:
    mqtt = parse_config({"mqtt": {"embedded_host": "0.0.0.0", "username": "gw",
                                  "password": "s3cret"}}).mqtt
    assert mqtt.embedded and not mqtt.embedded_loopback and mqtt.host == "127.0.0.1"
    everywhere_v6 = {"embedded_host": "::", "username": "gw", "password": "x"}
    assert parse_config({"mqtt": everywhere_v6}).mqtt.host == "::1"
    options = client_options(mqtt, lambda message: None, None)
    assert options["username"] == "gw" and options["password"] == "s3cret"


@pytest.mark.parametrize(("section", "key", "message"), [
    ({"url": "http://x"}, "mqtt.url", "mqtt:// or mqtts://"),
    ({"url": "mqtt://user:pw-secret@x"}, "mqtt.url", "mqtt.username"),
    ({"url": "mqtt://x:70000"}, "mqtt.url", "port"),
    ({"url": "mqtt://x/path"}, "mqtt.url", "host[:port]"),
    ({"username": "u"}, "mqtt", "username and password together"),
    ({"embedded_host": "0.0.0.0"}, "mqtt", "beyond loopback: set username and password"),
    ({"embedded_host": "10.1.2.3", "username": "u"}, "mqtt", "together"),
    ({"embedded_host": "localhost"}, "mqtt.embedded_host", "IP address"),
    ({"embedded_max_packet_bytes": 4096}, "mqtt", "at least max_payload_bytes + 1024"),
    ({"embedded_max_packet_bytes": 100_000_000}, "mqtt.embedded_max_packet_bytes",
     "less than or equal"),
    ({"url": "mqtt://x", "ca_file": "ca.pem"}, "mqtt", "mqtts://"),
    ({"url": "mqtts://x", "cert_file": "c.pem"}, "mqtt", "go together"),
    ({"shared_group": "a/b"}, "mqtt.shared_group", "may not"),
    ({"protocol": "5"}, "mqtt", "3.1.1 only"),
    ({"down_after_missed": 0}, "mqtt.down_after_missed", "greater than or equal"),
    ({"heartbeat_interval": "0s"}, "mqtt.heartbeat_interval", "greater than zero"),
    ({"broker": "x"}, "mqtt.broker", "unknown key"),
], ids=["scheme", "credentials-in-url", "port", "path", "username-embedded", "anywhere",
        "no-password", "hostname", "packet-below-payload", "packet-100MB", "ca-plain",
        "cert-alone", "group", "v5-embedded", "missed", "interval", "typo"])
def test_bad_sections_name_the_key(section: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"mqtt": section})
    text = str(info.value)
    assert f"{key}:" in text and message in text
    assert "pw-secret" not in text


def _context(config_data: dict[str, object], inventory: Inventory) -> Context:
    return Context(config=parse_config(config_data), inventory=inventory,
                   topology=Topology.build(inventory))


def test_component_enabled_by_mqtt_devices_or_section() -> None:
    with_mqtt = _context({}, small_inventory())
    assert any(p.name == "mqtt-subscriber" for p in components.plan(with_mqtt))
    assert any(isinstance(c, MqttCollector) for c in components.build(with_mqtt))

    no_devices = _context({}, Inventory())
    assert not any(isinstance(c, MqttCollector) for c in components.build(no_devices))
    asked = _context({"mqtt": {"url": "mqtt://127.0.0.1:1883"}}, Inventory())
    built = [c for c in components.build(asked) if isinstance(c, MqttCollector)]
    assert len(built) == 1 and built[0].name == "mqtt-subscriber"


def test_config_check_refuses_an_open_embedded_broker(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10, item 16: an embedded broker beyond loopback needs a login."""
    from pubnet.cli import main

    path = tmp_path / "pubnet.yaml"
    path.write_text("mqtt:\n  embedded_host: 0.0.0.0\n", encoding="utf-8")
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "mqtt" in err and "beyond loopback" in err and "username and password" in err
    path.write_text("mqtt:\n  embedded_host: 0.0.0.0\n  username: gw\n"
                    "  password: ${MQTT_LOGIN}\n", encoding="utf-8")
    monkeypatch.setenv("MQTT_LOGIN", "s3cret-login")
    assert main(["config", "check", str(path)]) == 0
    assert "s3cret-login" not in capsys.readouterr().out
