"""The technician-workflow keys of ``alerting:``: secrets hidden, wrong combinations named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pubnet.cli import main
from pubnet.config import ConfigError, parse_config

LINE_SECRET = "line-channel-secret-9f8e7d"
TG_SECRET = "telegram-secret-token-1a2b3c"


def section(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "technicians": "technicians.csv",
        "channels": {
            "line-bot": {"type": "line", "token": "line-token-value-1234", "to": "Cgroup",
                         "channel_secret": LINE_SECRET},
            "tg-bot": {"type": "telegram", "token": "123:telegram-token-5678", "chat_id": -1,
                       "updates": "webhook", "secret_token": TG_SECRET},
        },
        "line_webhook": True,
    }
    base.update(extra)
    return base


def test_config_check_hides_the_chat_secrets(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pubnet.yaml"
    path.write_text(yaml.safe_dump({"alerting": section(
        budgets={"technician": {"max_per_hour": 20}, "channels": {"line-bot": {
            "max_per_day": 500}}}, digest_after=10, power={"min_sites": 8})},
        allow_unicode=True), encoding="utf-8")
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert LINE_SECRET not in out and TG_SECRET not in out
    dumped = yaml.safe_load(out)["alerting"]
    assert dumped["channels"]["line-bot"]["channel_secret"] == "**********"
    assert dumped["channels"]["tg-bot"]["secret_token"] == "**********"
    assert dumped["budgets"]["channels"]["line-bot"]["max_per_day"] == 500
    assert dumped["power"]["min_sites"] == 8 and dumped["digest_after"] == 10


@pytest.mark.parametrize(("data", "message"), [
    ({"alerting": section(channels={"line-bot": {"type": "line", "token": "t", "to": "C"}})},
     "line_webhook needs a line channel with channel_secret"),
    ({"alerting": section(channels={"tg": {"type": "telegram", "token": "t", "chat_id": "1",
                                           "updates": "webhook"}}, line_webhook=False)},
     "updates: webhook needs secret_token"),
    ({"prometheus": None, "alerting": section()},
     "/hooks/line, /hooks/telegram arrive on the HTTP listener"),
    ({"alerting": section(technicians=None)},
     "LINE/Telegram button presses need alerting.technicians"),
    ({"alerting": section(budgets={"channels": {"nope": {"max_per_hour": 1}}})},
     "budgets.channels names unknown channel 'nope'"),
    ({"alerting": section(digest_window=0)}, "digest_window must be greater than zero"),
    ({"alerting": section(power={"min_sites": 1})}, "min_sites"),
], ids=["line-without-secret", "telegram-webhook-without-token", "no-listener",
        "no-directory", "budget-unknown-channel", "zero-window", "min-sites-1"])
def test_wrong_combinations_are_named(tmp_path: Path, data: dict[str, Any],
                                      message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, base_dir=tmp_path)
    text = str(caught.value)
    assert message in text
    assert LINE_SECRET not in text and TG_SECRET not in text
