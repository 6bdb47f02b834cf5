"""Config parsing: shapes, durations, relative paths, key-path errors and secret masking."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from pubnet.config import ConfigError, load_config, parse_config, parse_duration, secret_values
from pubnet.logs import KeyValueFormatter, SecretRedactor

EXAMPLE = Path(__file__).resolve().parents[2] / "pubnet.example.yaml"

SECRETS = {
    "SNMP_COMMUNITY": "c0mmunity-SECRET",
    "SNMP_AUTH_KEY": "auth-key-SECRET-1234",
    "WEBHOOK_SECRET": "webhook-SECRET-9999",
}


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    key_file = tmp_path / "priv-key"
    key_file.write_text("priv-key-SECRET-5678\n", encoding="utf-8")
    return key_file


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pubnet.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("2s", 2), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("1d", 86400),
     (30, 30), (1.5, 1.5), ("45", 45)],
    ids=str,
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "m5", "-1s", "2 fortnights", True], ids=str)
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_example_config_parses(secret_env: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("/etc/pubnet/snmp-priv-key",
                                                      str(secret_env))
    config = parse_config(yaml.safe_load(text), base_dir=Path("/srv/pubnet"))
    assert config.inventory == Path("/srv/pubnet/inventory")
    assert config.snmp.interval == 60 and config.snmp.timeout == 2 and config.snmp.retries == 1
    v2 = config.credentials["village-v2"]
    assert v2.version == "2c"
    assert v2.community is not None
    assert v2.community.get_secret_value() == SECRETS["SNMP_COMMUNITY"]
    v3 = config.credentials["noc-v3"]
    assert v3.version == "3" and v3.security_level == "authPriv"
    assert v3.priv_key is not None
    assert v3.priv_key.get_secret_value() == "priv-key-SECRET-5678"


def test_relative_paths_follow_config_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "inventory: ./inv\n")
    assert load_config(path).inventory == tmp_path.resolve() / "inv"


def test_secrets_never_appear_in_repr_dump_or_logs(secret_env: Path, tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("/etc/pubnet/snmp-priv-key",
                                                      str(secret_env))
    config = load_config(write_config(tmp_path, text))
    rendered = [repr(config), str(config), config.model_dump_json(),
                yaml.safe_dump(config.model_dump(mode="json"))]
    values = [*SECRETS.values(), "priv-key-SECRET-5678"]
    assert sorted(secret_values(config)) == sorted(values)
    for text_out in rendered:
        for secret in values:
            assert secret not in text_out
    # and a log line that somehow contains one is scrubbed
    record = logging.LogRecord("t", logging.INFO, "f", 1, "auth with %s", (values[1],), None)
    assert SecretRedactor(values).filter(record)
    assert values[1] not in KeyValueFormatter().format(record)


def test_error_names_key_path_and_not_the_secret(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    path = write_config(tmp_path, """
credentials:
  noc-v3:
    version: 3
    user: noc
    auth_protocol: sha999
    auth_key: literal-SECRET-value
snmp:
  interval: soon
  colour: blue
""")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "credentials.noc-v3.auth_protocol" in message
    assert "snmp.interval" in message
    assert "snmp.colour: unknown key" in message
    assert "literal-SECRET-value" not in message
    assert str(path) in message


def test_missing_env_var_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    path = write_config(tmp_path, "credentials:\n  v2:\n    version: 2c\n"
                        "    community: ${NOPE_NOT_SET}\n")
    with pytest.raises(ConfigError, match=r"credentials\.v2\.community: environment variable "
                       r"NOPE_NOT_SET is not set"):
        load_config(path)


@pytest.mark.parametrize(
    ("credential", "fragment"),
    [
        ({"version": "2c"}, "needs a community"),
        ({"version": 3}, "needs a user"),
        ({"version": 3, "user": "u", "priv_protocol": "aes128", "priv_key": "k"},
         "privacy needs authentication"),
        ({"version": 3, "user": "u", "auth_protocol": "sha", "auth_key": "abcdefgh",
          "priv_protocol": "aes256"}, "needs a priv_key"),
        ({"version": "2c", "community": "x", "user": "u"}, "version 3 only"),
        ({"version": 4, "community": "x"}, "version"),
    ],
    ids=["v2-no-community", "v3-no-user", "priv-without-auth", "priv-without-key",
         "v2-with-user", "bad-version"],
)
def test_credential_rules(credential: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_config({"credentials": {"c": credential}})


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, "snmp:\n  interval: [1,\n")
    with pytest.raises(ConfigError, match="line"):
        load_config(path)


def test_unknown_top_level_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="grafanna: unknown key"):
        parse_config({"grafanna": {}})
