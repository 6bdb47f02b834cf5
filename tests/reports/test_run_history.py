"""The history as ``pubnet run`` records it, and the recorder's housekeeping."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from dashboards.reports.history import HistoryDB
from dashboards.reports.recorder import HistoryRecorder
from dashboards.reports.schedule import MonthlyReports
from inventory.model import Device, Inventory, Role
from inventory.topology import Topology
from inventory.writer import write_inventory
from pubnet.app import components
from pubnet.app.runtime import Context
from pubnet.config import load_config
from pubnet.state import StateStore
from tests.reports import month
from tests.reports.fleet import site

ROOT = Path(__file__).resolve().parents[2]


def _icmp_site(tmp_path: Path) -> Path:
    inv = Inventory()
    inv.sites["S1"] = site("S1", "5001", "บ้านหนึ่ง")
    inv.devices["core"] = Device("core", "", Role.CORE, "127.0.0.3", None, "icmp", "", "",
                                 "50")
    inv.devices["gw-S1"] = Device("gw-S1", "S1", Role.SITE_GATEWAY, "127.0.0.1", None, "icmp",
                                  "", "core")
    inv.devices["ap-S1-0"] = Device("ap-S1-0", "S1", Role.ACCESS_POINT, "127.0.0.2", None,
                                    "icmp", "", "gw-S1")
    write_inventory(inv, tmp_path / "inventory")
    config = tmp_path / "pubnet.yaml"
    config.write_text(yaml.safe_dump({
        "inventory": "inventory", "prometheus": None,
        "alerting": {"database": "state/pubnet.db"},
        "icmp": {"interval": "0.5s", "timeout": "0.3s", "count": 1},
        "history": {"flush_interval": "0.1s", "heartbeat": "0.5s"},
    }), encoding="utf-8")
    return config


def test_pubnet_run_records_the_site_and_its_running_interval(tmp_path: Path) -> None:
    config = _icmp_site(tmp_path)
    db = tmp_path / "state" / "pubnet.db"
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "pubnet.cli", "run", "--config",
                             str(config)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        rows: list[tuple[str, str, str]] = []
        while ("site", "S1", "up") not in rows:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.2)
            if db.exists():
                try:
                    with sqlite3.connect(db) as conn:
                        rows = conn.execute("SELECT kind, element, to_status FROM "
                                            "history_changes").fetchall()
                except sqlite3.OperationalError:
                    rows = []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    text = (tmp_path / "run.log").read_text()
    assert "starting component=history retention=400d" in text
    with sqlite3.connect(db) as conn:
        devices = conn.execute("SELECT element, from_status, to_status FROM history_changes "
                               "WHERE kind = 'device' ORDER BY id").fetchall()
        runs = conn.execute("SELECT started_at, last_at, stopped_at FROM history_runs"
                            ).fetchall()
    assert ("gw-S1", "unknown", "ok") in devices and ("ap-S1-0", "unknown", "ok") in devices
    assert len(runs) == 1 and runs[0][2] is not None and runs[0][2] > runs[0][0]


def test_components_follow_the_config(tmp_path: Path) -> None:
    config_path = _icmp_site(tmp_path)
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config = load_config(config_path)
    inv = Inventory()
    ctx = Context(config=config, inventory=inv, topology=Topology.build(inv))
    built = components.build(ctx)
    recorders = [c for c in built if isinstance(c, HistoryRecorder)]
    assert len(recorders) == 1
    assert recorders[0].database == tmp_path / "state" / "pubnet.db"
    assert not any(isinstance(c, MonthlyReports) for c in built)
    data["history"] = None
    data["reports"] = {"out_dir": "reports"}
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    config = load_config(config_path)
    ctx = Context(config=config, inventory=inv, topology=Topology.build(inv))
    built = components.build(ctx)
    assert not any(isinstance(c, HistoryRecorder) for c in built)
    assert any(isinstance(c, MonthlyReports) for c in built)
    assert [p.name for p in components.plan(ctx)].count("reports") == 1


def test_housekeeping_rolls_up_finished_days_and_expires_old_history(tmp_path: Path) -> None:
    month.write_setup(tmp_path)
    db = tmp_path / "pubnet.db"
    now = month.at(3, 12, month=12)
    recorder = HistoryRecorder(month_store(), month.inventory(), db, heartbeat=10.0,
                               retention=400 * 86400.0)
    recorder._housekeep(now)
    with HistoryDB(db) as history:
        built = history.rollup_days([f"2026-11-{d:02d}" for d in range(1, 31)])
        assert len(built) == 30
        assert history.rollup_days(["2026-12-03"]) == {}  # today: not over yet
    # a retention of 10 days keeps what happened after 23 Nov 12:00, and before it only each
    # element's last change (its status at the cut)
    short = HistoryRecorder(month_store(), month.inventory(), db, retention=10 * 86400.0)
    short._housekeep(now)
    with sqlite3.connect(db) as conn:
        before_cut = conn.execute(
            "SELECT kind, element, COUNT(*) FROM history_changes WHERE at < ? "
            "GROUP BY kind, element", (now - 10 * 86400,)).fetchall()
        days = [r[0] for r in conn.execute("SELECT DISTINCT day FROM history_daily")]
    assert before_cut and all(count == 1 for _kind, _element, count in before_cut)
    assert min(days) == "2026-11-23"


def month_store() -> StateStore:
    return StateStore()
