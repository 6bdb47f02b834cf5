"""The ``snmp`` config keys this collector adds."""

from __future__ import annotations

from pathlib import Path

import pytest

from pubnet.config import ConfigError, parse_config


def test_interval_by_role_and_profiles_dir(tmp_path: Path) -> None:
    config = parse_config({"snmp": {"interval": "60s", "interval_by_role": {"core": "30s"},
                                    "profiles_dir": "profiles"}}, base_dir=tmp_path)
    assert config.snmp.interval_by_role == {"core": 30.0}
    assert config.snmp.profiles_dir is not None and config.snmp.profiles_dir.name == "profiles"
    assert str(config.snmp.profiles_dir).startswith(str(tmp_path))


@pytest.mark.parametrize(
    ("snmp", "key", "message"),
    [({"interval_by_role": {"village": "30s"}}, "snmp.interval_by_role", "unknown role"),
     ({"interval_by_role": {"core": "0s"}}, "snmp.interval_by_role", "greater than zero"),
     ({"max_backof": "5m"}, "snmp.max_backof", "unknown key")],
    ids=["unknown-role", "zero-interval", "typo"],
)
def test_bad_snmp_keys_are_named(snmp: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"snmp": snmp}, source="pubnet.yaml")
    text = str(info.value)
    assert f"pubnet.yaml: {key}" in text and message in text
