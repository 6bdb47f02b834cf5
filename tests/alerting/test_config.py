"""The ``alerting:`` section: the issue's YAML shape, errors by key path, secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pubnet.cli import main
from pubnet.config import ConfigError, load_config, parse_config

ISSUE_YAML = """
alerting:
  database: ./pubnet.db
  down_after: 3
  routes:
    - match: {province: ["50", "57"], severity: [critical, major]}   # {} matches every incident
      channels: [chiangmai-techs, noc-webhook]
      repeat: 30m
      escalate_after: 1h
      escalate_to: [regional-manager]
      language: th
    - match: {}
      channels: [line-north, tg-north]
  channels:
    noc-webhook: {type: webhook, url: "https://noc.example/hook", secret: ${WEBHOOK_SECRET}}
    chiangmai-techs: {type: mqtt}
    regional-manager: {type: email, to: ["manager@example.org"],
                       smtp: {host: smtp.example.org, port: 587, username: pubnet,
                              password: ${SMTP_PASSWORD}}}
    line-north: {type: line, token: ${LINE_TOKEN}, to: "Uxxxxxxxx"}
    tg-north: {type: telegram, token: ${TELEGRAM_TOKEN}, chat_id: "-100123"}
"""

SECRETS = {"WEBHOOK_SECRET": "whsec-3141", "SMTP_PASSWORD": "smtp-2718",
           "LINE_TOKEN": "line-1618", "TELEGRAM_TOKEN": "tg-1414"}


@pytest.fixture
def issue_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "pubnet.yaml"
    path.write_text(ISSUE_YAML, encoding="utf-8")
    return path


def test_issue_yaml_loads_with_defaults(issue_config: Path) -> None:
    config = load_config(issue_config)
    alerting = config.alerting
    assert alerting is not None
    assert alerting.database == issue_config.parent / "pubnet.db"
    assert alerting.down_after == 3
    route = alerting.routes[0]
    assert route.match.province == ["50", "57"] and route.repeat == 1800.0
    assert route.escalate_after == 3600.0 and route.language == "th"
    assert alerting.routes[1].match.province is None  # {} matches all
    assert alerting.channels["chiangmai-techs"].type == "mqtt"
    assert alerting.group_wait == 20.0


def test_config_check_prints_no_secret(issue_config: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(issue_config)]) == 0
    out = capsys.readouterr().out
    for value in SECRETS.values():
        assert value not in out
    dumped = yaml.safe_load(out)
    assert dumped["alerting"]["channels"]["noc-webhook"]["secret"] == "**********"
    assert "**********" in repr(load_config(issue_config).alerting)


@pytest.mark.parametrize(
    ("section", "path", "message"),
    [
        ({"routes": [{"channels": ["nope"]}]}, "alerting", "unknown channel 'nope'"),
        ({"channels": {"x": {"type": "pager"}}}, "alerting.channels.x", "type"),
        ({"channels": {"x": {"type": "webhook", "url": "http://h", "secrte": "s"}}},
         "alerting.channels.x.webhook.secrte", "unknown key"),
        ({"routes": [{"channels": ["x"], "escalate_after": "1h"}],
          "channels": {"x": {"type": "mqtt"}}}, "alerting.routes[0]", "escalate_to"),
        ({"routes": [{"channels": ["x"], "match": {"severity": ["urgent"]}}],
          "channels": {"x": {"type": "mqtt"}}}, "alerting.routes[0].match.severity[0]", ""),
        ({"down_after": 0}, "alerting.down_after", ""),
    ],
    ids=["unknown-channel", "unknown-type", "typo-key", "escalation-half", "bad-severity",
         "down-after-zero"],
)
def test_errors_name_the_key(section: dict[str, object], path: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"alerting": section})
    paths = [p for p, _ in err.value.problems]
    assert any(p.startswith(path) for p in paths), paths
    assert message in str(err.value)


def test_secret_not_in_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"alerting": {"channels": {"t": {
            "type": "telegram", "token": "super-secret-token", "chat_id": ["bad"]}}}})
    assert "super-secret-token" not in str(err.value)
