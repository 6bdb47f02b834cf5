"""Kill ``pubnet run`` (SIGKILL) with a message in flight; the restart delivers it, once.

The real daemon runs as a subprocess: the SNMP poller finds every device of the test
inventory unreachable (nothing listens on the SNMP port), alerting opens one incident rooted
at the core and repeats it every second, and a local webhook receiver hangs on the second
message while the daemon is killed.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from inventory.writer import write_inventory
from tests.alerting.builders import district_inventory
from tests.alerting.conftest import SECRET, HttpReceiver
from tests.support import eventually, free_port, start_pubnet, stop_process

CONFIG = """\
inventory: inv
prometheus: null
credentials:
  c: {{version: 2c, community: public}}
snmp: {{interval: 500ms, timeout: 200ms, retries: 0, port: {snmp_port}}}
alerting:
  database: state/pubnet.db
  group_wait: 500ms
  tick: 100ms
  delivery: {{initial_backoff: 100ms, max_backoff: 300ms}}
  routes:
    - match: {{}}
      channels: [noc]
      repeat: 1s
  channels:
    noc: {{type: webhook, url: "{url}", secret: {secret}}}
"""


async def test_sigkill_between_firing_and_delivery(tmp_path: Path,
                                                   receiver: HttpReceiver) -> None:
    write_inventory(district_inventory(), tmp_path / "inv")
    (tmp_path / "pubnet.yaml").write_text(CONFIG.format(
        snmp_port=free_port(), url=f"{receiver.base}/noc", secret=SECRET), encoding="utf-8")
    first = start_pubnet(tmp_path)
    try:
        await eventually(lambda: len(receiver.accepted) == 1, within=60,
                         what="first message delivered")
        receiver.hold = asyncio.Event()  # the next message hangs in flight
        await eventually(lambda: len(receiver.attempts) > len(receiver.accepted), within=30,
                         what="a message in flight")
        in_flight = receiver.attempts[-1].headers["X-Pubnet-Delivery"]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    receiver.hold.set()
    receiver.hold = None
    await asyncio.sleep(0.2)
    before_restart = [r.headers["X-Pubnet-Delivery"] for r in receiver.accepted]

    second = start_pubnet(tmp_path)
    try:
        await eventually(lambda: len(receiver.accepted) >= len(before_restart) + 2, within=60,
                         what="delivery after restart")
    finally:
        stop_process(second, 20, signal.SIGINT)
    keys = [r.headers["X-Pubnet-Delivery"] for r in receiver.accepted]
    incident_ids = {k.split(":")[0] for k in keys}
    assert len(incident_ids) == 1, "the restart kept the open incident, no new one"
    (incident_id,) = incident_ids
    assert keys.count(f"{incident_id}:firing:1") == 1, "delivered before the kill: not re-sent"
    assert in_flight.startswith(f"{incident_id}:firing:")
    assert in_flight in keys
    assert 1 <= keys.count(in_flight) <= 2  # at most the one cut-off duplicate, same key
    for key in set(keys) - {in_flight}:
        assert keys.count(key) == 1
    sequences = [int(k.split(":")[2]) for k in keys if k != in_flight]
    assert sequences == sorted(sequences)
    root = receiver.accepted[0].json["root_device"]
    assert root == "core-1"
