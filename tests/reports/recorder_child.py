"""A pubnet-like process for the kill -9 test: the real recorder on a real store, status
flips published without pause, and a line ``written N`` on stdout each time the recorder
says N device changes are committed. The parent kills it with SIGKILL mid-stream."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from dashboards.reports.recorder import HistoryRecorder
from pubnet.model import PollStatus, Source
from pubnet.state import StateStore
from tests.reports.fleet import fleet, site

SITES = 300


def acknowledge(count: int) -> None:
    sys.stdout.write(f"written {count}\n")
    sys.stdout.flush()


async def main(db: Path) -> None:
    inv = fleet([site(f"K{i}", "5001", f"บ้าน{i}") for i in range(SITES)])
    store = StateStore()
    recorder = HistoryRecorder(store, inv, db, flush_interval=0.02, heartbeat=0.2,
                               on_written=acknowledge)
    task = asyncio.create_task(recorder.run())
    await asyncio.sleep(0.2)
    gateways = [f"gw-K{i}" for i in range(SITES)]
    flip = 0
    while not task.done():
        status = PollStatus.OK if flip % 2 == 0 else PollStatus.TIMEOUT
        now = time.time()
        for gw in gateways:
            store.set_status(gw, status, now, Source.SNMP)
        flip += 1
        await asyncio.sleep(0.005)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
