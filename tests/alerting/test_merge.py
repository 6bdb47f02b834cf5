"""An announced incident absorbed by an upstream failure: an update, naming a stored incident."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from alerting.db import IncidentDB, OutboxRow
from tests.alerting.builders import fail_rounds, poll_round
from tests.alerting.conftest import HttpReceiver, StartService, alerting_config
from tests.alerting.test_service import hooks
from tests.support import eventually


async def test_merge_is_an_update_naming_an_incident_that_exists(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    config = alerting_config(tmp_path, routes=[{"match": {}, "channels": ["noc"],
                                                "language": "en"}],
                             channels=hooks(receiver, "noc"))
    database = config.alerting.database
    unknown: list[str] = []

    def every_named_incident_is_stored(rows: list[OutboxRow]) -> None:
        """Runs when messages are handed to the channels: read what is committed."""
        with IncidentDB(database) as db:
            for row in rows:
                data = json.loads(row.message.payload)
                for named in (data["incident_id"], data["merged_into"]):
                    if named is not None and db.get(named) is None:
                        unknown.append(named)

    run = await start_service(config, on_handed=every_named_incident_is_stored)
    ts = fail_rounds(run.store, ("S-1-gw",), time.time())
    await eventually(lambda: len(receiver.accepted) == 1, what="the gateway's incident")
    gateway = receiver.accepted[0].json["incident_id"]

    # The district router above it fails: its incident absorbs the gateway's in one pass.
    ts = fail_rounds(run.store, ("da-5001", "S-2-gw", "S-3-gw"), ts)
    await eventually(lambda: len(receiver.accepted) == 3, what="router incident and merge")
    bodies = [r.json for r in receiver.accepted]
    router = next(b for b in bodies if b["root_device"] == "da-5001")
    update = next(b for b in bodies if b["incident_id"] == gateway and b["sequence"] == 2)
    assert unknown == []
    assert update["status"] == "firing" and update["reason"] == "merged"
    assert update["merged_into"] == router["incident_id"]
    assert update["resolved_at"] is None
    headline = update["message"].splitlines()[0]
    assert headline.startswith("[UPDATE] ") and "RESOLVED" not in update["message"]
    assert f"merged into {router['incident_id']}, still down" in headline
    # the incident it points to was announced first, and can be acknowledged at once
    assert bodies.index(router) < bodies.index(update)
    with IncidentDB(database) as db:
        assert db.acknowledge(router["incident_id"], "somchai", None, time.time()) == "ok"

    # Everything answers again: the router's incident resolves; the gateway's says nothing.
    ts += 1
    poll_round(run.store, ("da-5001", "S-1-gw", "S-2-gw", "S-3-gw"), True, ts)
    await eventually(lambda: len(receiver.accepted) == 4, what="router resolved")
    await asyncio.sleep(0.5)
    statuses = [(r.json["incident_id"], r.json["status"]) for r in receiver.accepted]
    assert statuses == [(gateway, "firing"), (router["incident_id"], "firing"),
                        (gateway, "firing"), (router["incident_id"], "resolved")]
    assert unknown == []
