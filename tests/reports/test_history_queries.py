"""The recorder asks for the incidents covering elements at every flush (twice a second
under load); alerting keeps every incident forever, so that question must be answered from
indexes, not by scanning a table that grows by the hundred thousand a year."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alerting.db import IncidentDB, IncidentFacts
from alerting.model import Incident, Kind, Severity, State
from dashboards.reports.history import COVERING_INCIDENTS, ChangeRow, HistoryDB


def _incident(inc_id: str, members: set[str], started: float, state: State,
              resolved: float | None = None) -> tuple[Incident, IncidentFacts]:
    return (Incident(inc_id, Kind.DEVICE_DOWN, Severity.MINOR, sorted(members)[0], started,
                     started, state, frozenset(members), announced_at=started,
                     resolved_at=resolved, resolved_sent=resolved is not None),
            IncidentFacts())


def test_covering_incidents_from_indexes(tmp_path: Path) -> None:
    db_path = tmp_path / "pubnet.db"
    with IncidentDB(db_path) as alerting:
        alerting.save([
            _incident("INC-old", {"device:gw-1"}, 1000.0, State.RESOLVED, 2000.0),
            _incident("INC-recent", {"device:gw-2", "site:S2"}, 3000.0, State.RESOLVED, 5000.0),
            _incident("INC-open", {"device:gw-3"}, 4000.0, State.FIRING),
            _incident("INC-ack", {"device:gw-2"}, 4500.0, State.ACKNOWLEDGED),
        ], [], [], 5000.0)
    with HistoryDB(db_path) as db:
        # resolved before 4900: not covering; the later of two incidents on gw-2 wins
        assert db.covering_incidents(4900.0) == {
            "device:gw-2": "INC-ack", "site:S2": "INC-recent", "device:gw-3": "INC-open"}
        plan = " ".join(str(row[3]) for row in db.conn.execute(
            "EXPLAIN QUERY PLAN " + COVERING_INCIDENTS, (4900.0,)))
    assert "incidents_state" in plan and "history_incidents_resolved_at" in plan, plan
    assert "SCAN incidents" not in plan, plan


def test_no_incidents_table(tmp_path: Path) -> None:
    """Alerting off: the history has no incidents to name, and creates no table of theirs."""
    with HistoryDB(tmp_path / "pubnet.db") as db:
        assert db.covering_incidents(0.0) == {}
        assert db.conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'incidents'"
                               ).fetchone() == (0,)


def test_retention_keeps_the_status_each_element_carries(tmp_path: Path) -> None:
    """pubnet watching for 450 days without a restart: retention (400 days) deletes old
    changes, but not the last one of each element before the cut, which is still its status.
    S1 has been up since pubnet started: the last month must show it up, not never seen."""
    from dashboards.reports.period import BANGKOK, days
    from dashboards.reports.source_history import load
    from tests.reports.fleet import fleet, site

    inv = fleet([site("S1", "5001", "บ้านหนึ่ง"), site("S2", "5001", "บ้านสอง"),
                 site("S3", "5001", "บ้านสาม")])
    d = 86400.0
    start = datetime(2025, 9, 1, tzinfo=BANGKOK).timestamp()
    now = start + 450 * d + 3600
    rows = [ChangeRow("site", s, "unknown", "up", start) for s in ("S1", "S2", "S3")]
    rows += [ChangeRow("site", "S3", "up", "down", start + 10 * d),
             ChangeRow("site", "S3", "down", "up", start + 10 * d + 3600),
             ChangeRow("site", "S2", "up", "down", start + 420 * d),
             ChangeRow("site", "S2", "down", "up", start + 420 * d + 3600)]
    with HistoryDB(tmp_path / "pubnet.db") as db:
        run_id = db.start_run(start, "test")
        db.write(rows, run_id, now)
        assert db.expire(now - 400 * d) == 2  # S3's first two: superseded before the cut
        kept = db.conn.execute("SELECT element, at FROM history_changes ORDER BY element, at"
                               ).fetchall()
        assert kept == [("S1", start), ("S2", start), ("S2", start + 420 * d),
                        ("S2", start + 420 * d + 3600), ("S3", start + 10 * d + 3600)]
        period = days(start + 415 * d, start + 445 * d)
        loaded = load(db, inv, period[0].start, period[-1].end, now, 10.0)
    month_s = 30 * d
    assert loaded.totals["S1"].monitored == month_s and loaded.totals["S1"].up == month_s
    assert loaded.totals["S2"].up == month_s - 3600
    assert loaded.totals["S3"].up == month_s
