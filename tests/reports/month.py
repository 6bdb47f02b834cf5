"""November 2026 on six sites, with every figure of the report computed by hand.

Time is Bangkok's (UTC+7). pubnet ran from 31 Oct 20:00 until it was killed at 25 Nov
00:00 (last heartbeat) and again from 25 Nov 12:00 until 1 Dec 02:00: the 12 hours between
are unmonitored for every site.

* S1 (5001, บ้านหนึ่ง): down 5 Nov 10:00–12:00 under INC-1 rooted at its own gateway
  (equipment, 120 min); down 20 Nov 23:00 – 21 Nov 01:00 with no incident (unknown,
  120 min, one outage across midnight); maintenance (site:S1) 10 Nov 08:00–10:00 during
  which it was down 08:30–09:30 (not an outage).
* S2 (5002, บ้านสอง): down 12 Nov 02:58–06:00; INC-2, rooted at the district router
  agg-5002, covered it from 03:00 (2 min unknown, 180 min upstream). District maintenance
  (district:5002) 18 Nov 00:00–04:00.
* S3 (5002, บ้านสาม): down 12 Nov 03:00–06:00 under INC-2 (upstream 180 min); the same
  district maintenance.
* S4 (4001, บ้านสี่): never seen.
* S5 (4001, บ้านห้า): commissioned 16 Nov 00:00, up since (prorated, flagged).
* S6 (4001, บ้านสี่ like S4): all access points dark 8 Nov 00:00 – 9 Nov 00:00, INC-3 rooted
  at site:S6 (equipment, 1,440 min).
* A power cut in district 4001 on 22 Nov (issue 16): S5 dark 13:58–15:00, S6 14:00–16:00.
  Alerting opened INC-4 for S6 (rooted at site:S6) at 14:00 and merged it at 14:03 into
  INC-5, of kind ``power``, rooted at the area ``area:4001/INC-5``, from 14:00 (its first
  site) to 16:00, members S5 and S6. S5: 2 min unknown, 60 min power; S6: 120 min power
  and no equipment minutes (INC-4's three minutes are the power cut's).

Every boundary is on a whole minute, so a Prometheus sample every 60 s gives the same
seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from alerting.db import IncidentDB, IncidentFacts
from alerting.model import Incident, Kind, Severity, State
from dashboards.reports.history import ChangeRow, HistoryDB
from dashboards.reports.period import BANGKOK
from inventory.model import Inventory
from inventory.writer import write_inventory
from tests.reports.fleet import fleet, site

MONTH = "2026-11"
P = 30 * 86400.0
"""Seconds in November."""
GAP = 12 * 3600.0
"""pubnet not running on 25 Nov 00:00–12:00."""
SLA = 99.5


def at(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> float:
    return datetime(2026, month, day, hour, minute, tzinfo=BANGKOK).timestamp()


RUNS = ((at(31, 20, month=10), at(25)), (at(25, 12), at(1, 2, month=12)))
CLEAN_STOP = (False, True)

SITE_EVENTS: dict[str, list[tuple[float, str]]] = {
    "S1": [(RUNS[0][0], "up"), (at(5, 10), "down"), (at(5, 12), "up"), (at(10, 8, 30), "down"),
           (at(10, 9, 30), "up"), (at(20, 23), "down"), (at(21, 1), "up"), (RUNS[1][0], "up")],
    "S2": [(RUNS[0][0], "up"), (at(12, 2, 58), "down"), (at(12, 6), "up"), (RUNS[1][0], "up")],
    "S3": [(RUNS[0][0], "up"), (at(12, 3), "down"), (at(12, 6), "up"), (RUNS[1][0], "up")],
    "S5": [(at(16), "up"), (at(22, 13, 58), "down"), (at(22, 15), "up"), (RUNS[1][0], "up")],
    "S6": [(RUNS[0][0], "up"), (at(8), "down"), (at(9), "up"), (at(22, 14), "down"),
           (at(22, 16), "up"), (RUNS[1][0], "up")],
}
MAINTENANCE = (("site:S1", at(10, 8), at(10, 10)), ("district:5002", at(18), at(18, 4)))
INCIDENTS = (
    ("INC-1", "device:gw-S1", {"device:gw-S1", "device:ap-S1-0"}, at(5, 10), at(5, 12)),
    ("INC-2", "device:agg-5002", {"device:agg-5002", "device:gw-S2", "device:ap-S2-0",
                                  "device:gw-S3", "device:ap-S3-0"}, at(12, 3), at(12, 6)),
    ("INC-3", "site:S6", {"site:S6", "device:ap-S6-0"}, at(8), at(9)),
    ("INC-4", "site:S6", {"site:S6", "device:ap-S6-0"}, at(22, 14), at(22, 14, 3)),
    ("INC-5", "area:4001/INC-5", {"site:S5", "device:gw-S5", "device:ap-S5-0", "site:S6",
                                  "device:gw-S6", "device:ap-S6-0"}, at(22, 14), at(22, 16)),
)


def inventory() -> Inventory:
    return fleet([
        site("S1", "5001", "บ้านหนึ่ง", "ศูนย์ดิจิทัลชุมชนบ้านหนึ่ง", 18.79, 98.98),
        site("S2", "5002", "บ้านสอง", lat=18.42, lon=98.67),
        site("S3", "5002", "บ้านสาม", lat=18.35, lon=98.60),
        site("S4", "4001", "บ้านสี่", lat=16.44, lon=102.83),
        site("S5", "4001", "บ้านห้า", lat=16.40, lon=102.90),
        site("S6", "4001", "บ้านสี่", lat=16.47, lon=102.80),
    ])


def write_history(db_path: Path) -> None:
    """The month as the recorder and alerting would have written it."""
    with IncidentDB(db_path) as alerting:
        for inc_id, root, members, start, end in INCIDENTS:
            kind = (Kind.SITE_DOWN if root.startswith("site:") else
                    Kind.POWER if root.startswith("area:") else Kind.DEVICE_DOWN)
            alerting.save([(Incident(inc_id, kind, Severity.MINOR, root, start, start,
                                     State.RESOLVED, frozenset(members), announced_at=start,
                                     resolved_at=end, resolved_sent=True),
                            IncidentFacts())], [], [], end)
        for scope, start, end in MAINTENANCE:
            alerting.add_maintenance(scope, start, end, "planned work", "noc", start - 86400)
    with HistoryDB(db_path) as db:
        for (started, ended), clean in zip(RUNS, CLEAN_STOP, strict=True):
            run_id = db.start_run(started, "test")
            rows = []
            for site_id, events in SITE_EVENTS.items():
                previous = "unknown"
                for when, status in events:
                    if started <= when < ended:
                        rows.append(ChangeRow("site", site_id, previous, status, when))
                        previous = status
            db.write(sorted(rows, key=lambda r: r.at), run_id, ended)
            if clean:
                db.stop_run(run_id, ended)


def write_setup(folder: Path) -> Path:
    """Inventory folder, config and database; returns the config path."""
    inv_dir = folder / "inventory"
    write_inventory(inventory(), inv_dir)
    config = folder / "pubnet.yaml"
    config.write_text(yaml.safe_dump({"inventory": "inventory",
                                      "alerting": {"database": "pubnet.db"},
                                      "prometheus": None}), encoding="utf-8")
    write_history(folder / "pubnet.db")
    return config


@dataclass(frozen=True)
class Expected:
    monitored: float
    maintenance: float
    up: float
    equipment_min: float
    upstream_min: float
    unknown_min: float
    power_min: float
    incidents: int
    mttr: float | None

    @property
    def availability(self) -> float:
        return 100 * self.up / (self.monitored - self.maintenance)


M = P - GAP
EXPECTED = {
    "S1": Expected(M, 7200, M - 7200 - 4 * 3600, 120, 0, 120, 0, 1, 120.0),
    "S2": Expected(M, 4 * 3600, M - 4 * 3600 - 182 * 60, 0, 180, 2, 0, 1, 182.0),
    "S3": Expected(M, 4 * 3600, M - 4 * 3600 - 180 * 60, 0, 180, 0, 0, 1, 180.0),
    "S5": Expected(15 * 86400 - GAP, 0, 15 * 86400 - GAP - 62 * 60, 0, 0, 2, 60, 1, 62.0),
    "S6": Expected(M, 0, M - 86400 - 120 * 60, 1440, 0, 0, 120, 3, 780.0),
}
"""Per site; S4 is never seen."""


def area(*sites: str) -> float:
    up = sum(EXPECTED[s].up for s in sites)
    base = sum(EXPECTED[s].monitored - EXPECTED[s].maintenance for s in sites)
    return 100 * up / base


PROVINCES = {
    # code: (sites, seen, below SLA, villages, served, availability, eq, up, unknown, power)
    "50": (3, 3, 1, 3, 2, area("S1", "S2", "S3"), 120.0, 360.0, 122.0, 0.0),
    "40": (3, 2, 1, 2, 1, area("S5", "S6"), 1440.0, 0.0, 2.0, 180.0),
}
DISTRICTS = {
    "5001": ("50", 1, 1, 1, 1, 0, area("S1"), 120.0, 0.0, 120.0, 0.0),
    "5002": ("50", 2, 2, 0, 2, 2, area("S2", "S3"), 0.0, 360.0, 2.0, 0.0),
    "4001": ("40", 3, 2, 1, 2, 1, area("S5", "S6"), 1440.0, 0.0, 2.0, 180.0),
}
NATION = (1560.0, 360.0, 124.0, 180.0)
"""Outage minutes of the whole country: equipment, upstream, unknown, power."""
