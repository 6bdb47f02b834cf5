"""``roles:`` and ``pubnet run --role`` (issue 15): the values, the defaults (both on one
machine, ``poll`` on a shard of N > 1), clear ``key: message`` errors, and which
components each role starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inventory.generate import generate
from inventory.topology import Topology
from pubnet.app import components
from pubnet.app.runtime import Context
from pubnet.cli import main
from pubnet.config import ConfigError, Role, effective_roles, parse_config
from pubnet.shard import Shard

BROKER = {"url": "mqtt://127.0.0.1:1883"}


@pytest.mark.parametrize(("configured", "shard", "expected"), [
    (None, None, {Role.POLL, Role.ALERTING}),
    (None, Shard(1, 1), {Role.POLL, Role.ALERTING}),
    (None, Shard(2, 3), {Role.POLL}),
    (["alerting"], None, {Role.ALERTING}),
    (["Poll", "poll", "alerting"], Shard(1, 2), {Role.POLL, Role.ALERTING}),
], ids=["one-machine", "one-of-one", "shard", "alerting", "both-on-a-shard"])
def test_effective_roles(configured: list[str] | None, shard: Shard | None,
                         expected: set[Role]) -> None:
    assert effective_roles(configured, shard) == expected


@pytest.mark.parametrize(("config", "message"), [
    ({"roles": ["poll", "polling"]}, "roles: unknown role 'polling': use poll, alerting"),
    ({"roles": []}, "roles: give at least one role"),
    ({"roles": ["alerting"]}, "mqtt.url: role alerting without the other"),
    ({"roles": ["poll"]}, "mqtt.url: role poll without the other"),
    ({"roles": ["alerting"], "mqtt": BROKER, "shard": "1/2"},
     "shard: the alerting role alone watches the whole inventory"),
    ({"cluster": {"heartbeat": "0s"}}, "cluster.heartbeat: "),
], ids=["unknown", "empty", "alerting-embedded", "poll-embedded", "alerting-shard",
        "heartbeat"])
def test_bad_roles_are_errors_naming_the_key(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config)
    assert message in str(caught.value)


def test_a_shard_on_the_embedded_broker_still_starts() -> None:
    """Only explicit roles need a broker: ``shard: 1/2`` alone keeps working (it warns)."""
    assert parse_config({"shard": "1/2"}).roles is None
    assert parse_config({"roles": ["alerting", "poll"]}).roles == ["alerting", "poll"]


def test_the_role_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--role", "polling"]) == 2
    assert "unknown role 'polling'" in capsys.readouterr().err
    assert main(["run", "--role", "alerting"]) == 1  # no broker to share: bad input
    assert "mqtt.url: role alerting" in capsys.readouterr().err
    config = tmp_path / "pubnet.yaml"
    config.write_text(yaml.safe_dump({"mqtt": BROKER, "shard": "1/2"}), encoding="utf-8")
    assert main(["run", "--config", str(config), "--role", "alerting"]) == 1
    assert "shard: the alerting role alone" in capsys.readouterr().err


def planned(roles: frozenset[Role] | None, shard: Shard | None = None) -> list[str]:
    inventory = generate(sites=4, seed=1)
    config = parse_config({"mqtt": BROKER, "history": None})
    ctx = Context(config, inventory, Topology.build(inventory), roles=roles, shard=shard)
    return [p.name for p in components.plan(ctx)]


def test_what_each_role_runs() -> None:
    both = planned(None)
    assert "alerting" in both and "snmp-poller" in both
    assert "state-publisher" not in both and "state-feed" not in both
    poll = planned(frozenset({Role.POLL}), Shard(1, 2))
    assert "state-publisher" in poll and "snmp-poller" in poll and "alerting" not in poll
    alerting = planned(frozenset({Role.ALERTING}))
    assert "state-feed" in alerting and "alerting" in alerting and "prometheus" in alerting
    assert not {"snmp-poller", "icmp-prober", "trap-receiver", "mqtt-subscriber",
                "state-publisher"} & set(alerting)
