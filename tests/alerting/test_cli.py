"""``pubnet alerts list|ack`` and ``pubnet maintenance add|list`` against the database."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from alerting.cli import parse_time
from alerting.db import IncidentDB, IncidentFacts
from alerting.model import Incident, Kind, Severity, State
from pubnet.cli import main


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "pubnet.yaml"
    path.write_text("alerting:\n  database: state/alerts.db\n", encoding="utf-8")
    return path


def seed(db_path: Path) -> None:
    now = time.time()
    firing = Incident("INC-1", Kind.DEVICE_DOWN, Severity.MAJOR, "device:da-5001", now - 600,
                      now - 590, State.FIRING, frozenset({"device:da-5001"}), announced_at=now)
    resolved = Incident("INC-2", Kind.SITE_DOWN, Severity.MINOR, "device:S-4-gw", now - 900,
                        now - 890, State.RESOLVED, announced_at=now - 880, resolved_at=now - 60,
                        resolved_sent=True)
    pending = Incident("INC-3", Kind.SITE_DOWN, Severity.MINOR, "device:S-3-gw", now, now)
    with IncidentDB(db_path) as db:
        db.save([(firing, IncidentFacts("50", "5001", "S-1", 6, 3, "district router da-5001")),
                 (resolved, IncidentFacts("50", "5002", "S-4", 1, 1, "site gateway S-4-gw")),
                 (pending, IncidentFacts())], [], [], now)


def test_list_ack_and_list_again(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path = config_file.parent / "state" / "alerts.db"
    seed(db_path)
    assert main(["alerts", "list", "--config", str(config_file), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [i["incident_id"] for i in listed] == ["INC-2", "INC-1"]  # pending is not shown
    assert listed[1]["affected_sites"] == 3 and listed[1]["state"] == "firing"

    assert main(["alerts", "ack", "INC-1", "--by", "สมชาย", "--note", "on my way",
                 "--config", str(config_file)]) == 0
    assert "INC-1 acknowledged by สมชาย" in capsys.readouterr().out
    assert main(["alerts", "list", "--config", str(config_file), "--state", "acknowledged"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["ID", "STATE", "KIND"]
    assert len(table) == 2 and table[1].startswith("INC-1") and "สมชาย" in table[1]
    with IncidentDB(db_path) as db:
        row = db.get("INC-1")
    assert row is not None
    assert row.incident.acked_by == "สมชาย" and row.incident.ack_note == "on my way"

    assert main(["alerts", "ack", "INC-2", "--by", "x", "--config", str(config_file)]) == 1
    assert "already resolved" in capsys.readouterr().err
    assert main(["alerts", "ack", "INC-99", "--by", "x", "--config", str(config_file)]) == 1
    assert main(["alerts", "ack", "INC-1", "--config", str(config_file)]) == 2  # --by missing


def test_maintenance_add_and_list(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["maintenance", "add", "--scope", "province:50", "--from", "now", "--to", "+2h",
                 "--note", "fibre splicing", "--config", str(config_file)]) == 0
    assert "maintenance window 1: province:50" in capsys.readouterr().out
    assert main(["maintenance", "add", "--scope", "district:5001",
                 "--from", "2030-01-01T08:00", "--to", "2030-01-01T12:00",
                 "--config", str(config_file)]) == 0
    capsys.readouterr()
    assert main(["maintenance", "list", "--config", str(config_file), "--format", "json"]) == 0
    windows = json.loads(capsys.readouterr().out)
    assert [(w["scope"], w["active"]) for w in windows] == [("province:50", True),
                                                            ("district:5001", False)]
    assert windows[1]["from"] == "2030-01-01T01:00:00Z"  # 08:00 Thailand time
    assert main(["maintenance", "list", "--config", str(config_file)]) == 0
    assert "fibre splicing" in capsys.readouterr().out


def test_maintenance_end_stops_a_window_and_keeps_it_on_record(
        config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ["--config", str(config_file)]
    assert main(["maintenance", "add", "--scope", "site:S-1", "--from", "now", "--to", "+4h",
                 *cfg]) == 0
    assert main(["maintenance", "add", "--scope", "site:S-2", "--from", "2030-01-01T08:00",
                 "--to", "+2h", *cfg]) == 0
    capsys.readouterr()
    assert main(["maintenance", "end", "1", *cfg]) == 0
    assert "alerts for it are sent again" in capsys.readouterr().out
    assert main(["maintenance", "end", "2", *cfg]) == 0  # not started: it never will
    capsys.readouterr()
    assert main(["maintenance", "list", "--format", "json", *cfg]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["maintenance", "list", "--all", "--format", "json", *cfg]) == 0
    ended = json.loads(capsys.readouterr().out)
    assert [(w["scope"], w["active"]) for w in ended] == [("site:S-1", False),
                                                          ("site:S-2", False)]
    assert ended[1]["from"] == ended[1]["to"]
    assert main(["maintenance", "end", "9", *cfg]) == 1
    assert "no maintenance window 9" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scope", "village:1", "--from", "now", "--to", "+1h"], "invalid scope"),
        (["--scope", "site:S-1", "--from", "yesterday", "--to", "+1h"], "cannot read time"),
        (["--scope", "site:S-1", "--from", "now", "--to", "2000-01-01T00:00"], "after --from"),
    ],
    ids=["bad-scope", "bad-time", "end-before-start"],
)
def test_maintenance_add_rejects_bad_input(config_file: Path, args: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["maintenance", "add", *args, "--config", str(config_file)]) == 1
    assert message in capsys.readouterr().err


def test_parse_time_forms() -> None:
    assert parse_time("now", now=1000.0) == 1000.0
    assert parse_time("+90m", now=1000.0) == 1000.0 + 5400
    assert parse_time("+1h", base=50.0, now=1000.0) == 3650.0
    assert parse_time("2026-01-01T07:00:00+00:00") == parse_time("2026-01-01T14:00")
