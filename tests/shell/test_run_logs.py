"""What a real ``pubnet run`` writes to its log (issue 10, item 13): one start-up summary
instead of a line per device, honest component wording, and a hostile MQTT topic escaped.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from testbed.rawmqtt import (
    DISCONNECT,
    connect_packet,
    count_pubacks,
    open_session,
    publish_packet,
)
from tests.support import free_port, free_udp_port, stop_process

INVENTORY = """\
sites:
  - {site_id: S-1, name: บ้านหนองบัว, kind: village_wifi, province_code: "50",
     district_code: "5001", subdistrict_code: "500101", village: "3", lat: 18.78, lon: 98.98}
devices:
  - {device_id: core-1, role: core, address: "127.0.0.1:%(snmp_port)d", profile: router,
     credential: v2}
  - {device_id: gw-1, site_id: S-1, role: site_gateway, address: 127.0.0.2, profile: icmp,
     upstream: core-1}
  - {device_id: gw-2, site_id: S-1, role: site_gateway, address: 127.0.0.3, profile: icmp,
     upstream: core-1}
"""

CONFIG = """\
inventory: inventory.yaml
credentials: {v2: {version: 2c, community: x}}
snmp: {interval: 1s, timeout: 200ms, retries: 0}
icmp: {interval: 1s, count: 1, timeout: 500ms}
mqtt: {embedded_port: %(mqtt_port)d}
prometheus: null
alerting: null
"""

EVIL_DEVICE = "evil3\r\x1b[2K\x1b[31mFAKE"
"""What the issue saw written raw: no space or quote, so nothing used to quote it."""


def wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], within: float = 60) -> str:
    deadline = time.monotonic() + within
    while True:
        content = log.read_text(encoding="utf-8", errors="replace")
        if text in content:
            return content
        assert proc.poll() is None, f"pubnet run exited early:\n{content}"
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{content}"
        time.sleep(0.1)


def test_pubnet_run_log_lines(tmp_path: Path) -> None:
    mqtt_port = free_port()
    (tmp_path / "inventory.yaml").write_text(INVENTORY % {"snmp_port": free_udp_port()},
                                             encoding="utf-8")
    config = tmp_path / "pubnet.yaml"
    config.write_text(CONFIG % {"mqtt_port": mqtt_port}, encoding="utf-8")
    log = tmp_path / "pubnet.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "pubnet.cli", "run", "--config",
                                 str(config)], stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for(log, "mqtt connected", proc)
        sock = open_session(mqtt_port, connect_packet("hostile-gateway"))
        try:
            sock.sendall(publish_packet(f"pubnet/v1/telemetry/S-1/{EVIL_DEVICE}", b"{}"))
            count_pubacks(sock, 1)
            sock.sendall(DISCONNECT)
        finally:
            sock.close()
        wait_for(log, "mqtt message dropped", proc)
        wait_for(log, "first round: ", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            stop_process(proc)
    raw = log.read_bytes()
    text = raw.decode("utf-8")
    lines = text.splitlines()
    # The topic's CR and ESC are escaped: no raw control character anywhere in the log.
    assert b"\r" not in raw and b"\x1b" not in raw
    dropped = [x for x in lines if "mqtt message dropped" in x]
    assert len(dropped) == 1
    assert r'device="evil3\r\u001b[2K\u001b[31mFAKE"' in dropped[0]
    # One summary line for the first round, no line per device at info.
    summary = [x for x in lines if "first round: " in x]
    assert len(summary) == 1 and "level=info" in summary[0]
    assert "not answering (core-1)" in summary[0]  # nothing answers SNMP on that port
    assert not [x for x in lines if "previous=none" in x or "device up" in x]
    assert "starting component=icmp-prober" in text and "would run" not in text
