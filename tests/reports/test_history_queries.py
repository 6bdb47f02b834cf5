"""The recorder asks for the incidents covering elements at every flush (twice a second
under load); alerting keeps every incident forever, so that question must be answered from
indexes, not by scanning a table that grows by the hundred thousand a year."""

from __future__ import annotations

from pathlib import Path

from alerting.db import IncidentDB, IncidentFacts
from alerting.model import Incident, Kind, Severity, State
from dashboards.reports.history import COVERING_INCIDENTS, HistoryDB


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
