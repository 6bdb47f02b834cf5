"""MQTT ingest benchmark: drain a backlog of telemetry from Mosquitto into the state store.

A publisher process queues N telemetry messages (~200 bytes of JSON each, 1,000 gateways)
in a local Mosquitto for several persistent sessions at once; then each consumer connects
to its own session and drains the same N messages, one after the other, each in its own
process:

* ``mosquitto_sub`` writing to /dev/null (C, the ceiling),
* a bare aiomqtt loop that only counts (``async for message in client.messages``),
* pubnet's MQTT collector: decoded, validated, counters made monotonic, observations and
  device status in the state store,

at QoS 0 and QoS 1. Printed per consumer: messages/s (wall clock, from connect to the last
message), CPU µs per message (the consumer process only) and messages per CPU-second, which
is the "per core" figure. The goal for pubnet is ≥ 15,000 messages per core-second at QoS 1.
The machine is shared, so wall-clock rates vary between runs; the CPU figures and the ratios
within one run are the ones to compare.

    .venv/bin/python bench/mqtt_ingest.py            # N = 200,000
    .venv/bin/python bench/mqtt_ingest.py --n 20000  # quick

The last line is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test helpers (Mosquitto runner, raw MQTT packets)

TOPIC_FILTER = "pubnet/v1/telemetry/+/+"
DEVICES = 1000
PUBLISH_CHUNK = 2000
STALL_SECONDS = 15.0
"""A consumer that received nothing for this long has got all the broker will send."""


def payload(n: int, now: float) -> bytes:
    return json.dumps({
        "ts": round(now, 3), "uptime_s": 86_400 + n, "clients": {"2g": n % 17, "5g": n % 11},
        "rx_bytes": 123_456_789_012 + n * 1500, "tx_bytes": 98_765_432_109 + n * 700,
        "signal_dbm": -71.5, "cpu_ratio": 0.12, "mem_ratio": 0.41, "temperature_c": 51.5,
        "firmware": "OpenWrt 23.05.3",
    }, separators=(",", ":")).encode()


def topic(n: int) -> str:
    device = n % DEVICES
    return f"pubnet/v1/telemetry/S{device:05d}/gw-{device:05d}"


# -- roles run in child processes -----------------------------------------------------------


def role_publish(port: int, count: int) -> dict[str, Any]:
    """Publish ``count`` QoS 1 messages over a raw socket and wait for every PUBACK."""
    from testbed import rawmqtt

    sock = rawmqtt.open_session(port, rawmqtt.connect_packet("bench-publisher", clean=True))
    sock.settimeout(300)
    reader = threading.Thread(target=rawmqtt.count_pubacks, args=(sock, count), daemon=True)
    started = time.perf_counter()
    reader.start()
    now = time.time()
    for start in range(0, count, PUBLISH_CHUNK):
        chunk = b"".join(
            rawmqtt.publish_packet(topic(n), payload(n, now), qos=1, packet_id=n % 65535 + 1)
            for n in range(start, min(count, start + PUBLISH_CHUNK)))
        sock.sendall(chunk)
    reader.join()
    sock.sendall(rawmqtt.DISCONNECT)
    sock.close()
    return {"published": count, "seconds": time.perf_counter() - started}


async def role_aiomqtt(port: int, client_id: str, qos: int, count: int) -> dict[str, Any]:
    import aiomqtt

    cpu, wall = time.process_time(), time.perf_counter()
    received = 0
    async with aiomqtt.Client("127.0.0.1", port, identifier=client_id,
                              clean_session=False) as client:
        messages = aiter(client.messages)
        while received < count:
            try:
                await asyncio.wait_for(anext(messages), STALL_SECONDS)
            except TimeoutError:
                break
            received += 1
    return {"seconds": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
            "received": received}


async def role_pubnet(port: int, client_id: str, qos: int, count: int) -> dict[str, Any]:
    from collectors.mqtt.component import MqttCollector
    from collectors.mqtt.names import Result
    from inventory.model import Device, Inventory, Role, Site, SiteKind
    from pubnet.config import MqttConfig
    from pubnet.state import StateStore

    inventory = Inventory()
    for n in range(DEVICES):
        site = f"S{n:05d}"
        inventory.sites[site] = Site(site, f"หมู่บ้าน {n}", SiteKind.VILLAGE_WIFI, "50", "5001",
                                     "500101", "1", 18.8, 98.9, province_name_en="Chiang Mai")
        inventory.devices[f"gw-{n:05d}"] = Device(f"gw-{n:05d}", site, Role.SITE_GATEWAY,
                                                  "10.0.0.1", None, "mqtt", "", "")
    store = StateStore()
    config = MqttConfig(url=f"mqtt://127.0.0.1:{port}", client_id=client_id, qos=qos,
                        protocol="3.1.1", heartbeat_interval=3600)
    collector = MqttCollector(config, inventory, store)
    results = collector.ingestor.results
    cpu, wall = time.process_time(), time.perf_counter()
    task = asyncio.create_task(collector.run())
    progress, stalled_since = -1, time.monotonic()
    while (done := sum(results.values())) < count and not task.done():
        await asyncio.sleep(0.005)
        if done != progress:
            progress, stalled_since = done, time.monotonic()
        elif time.monotonic() - stalled_since > STALL_SECONDS:
            break  # the broker has nothing more for us: report what arrived
    seconds, used = time.perf_counter() - wall, time.process_time() - cpu
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    return {"seconds": seconds, "cpu": used, "received": results[Result.OK],
            "observations": store.observations_total, "reconnects": collector.reconnects,
            "results": {k.value: v for k, v in results.items() if v}}


# -- the orchestrating process ---------------------------------------------------------------


def child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                         text=True, timeout=1800)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def create_session(sub: str, port: int, client_id: str, qos: int) -> None:
    subprocess.run([sub, "-p", str(port), "-h", "127.0.0.1", "-c", "-i", client_id,
                    "-q", str(qos), "-t", TOPIC_FILTER, "-E"], check=True, timeout=60)


def drain_mosquitto_sub(sub: str, port: int, client_id: str, qos: int,
                        count: int) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run([sub, "-p", str(port), "-h", "127.0.0.1", "-c", "-i", client_id,
                    "-q", str(qos), "-t", TOPIC_FILTER, "-C", str(count)],
                   check=True, stdout=subprocess.DEVNULL, timeout=1800)
    seconds = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": seconds, "cpu": cpu, "received": count}


def summarise(name: str, qos: int, result: dict[str, Any], count: int) -> dict[str, float]:
    rate = count / result["seconds"]
    cpu_us = result["cpu"] / count * 1e6
    per_core = count / result["cpu"] if result["cpu"] > 0 else float("inf")
    print(f"  {name:<15} qos{qos}  {rate:>9,.0f} msg/s  {cpu_us:>7.1f} CPU µs/msg  "
          f"{per_core:>9,.0f} msg per core-second")
    return {"msgs_per_s": round(rate), "cpu_us_per_msg": round(cpu_us, 1),
            "msgs_per_core_s": round(per_core)}


def orchestrate(count: int, qos_levels: list[int], max_inflight: int) -> int:
    from pubnet.ports import free_port
    from testbed.mosquitto import Mosquitto
    from testbed.process import find_binary

    mosquitto, sub = find_binary("mosquitto"), find_binary("mosquitto_sub")
    if mosquitto is None or sub is None:
        print("mosquitto and mosquitto_sub are needed (apt-get install mosquitto "
              "mosquitto-clients)", file=sys.stderr)
        return 1
    consumers = ["mosquitto_sub", "aiomqtt", "pubnet"]
    sessions = [(c, q) for q in qos_levels for c in consumers]
    folder = Path(tempfile.mkdtemp(prefix="pubnet-bench-mqtt-"))
    broker = Mosquitto(mosquitto, folder, free_port(), max_queued_messages=count * 2,
                       extra_config=f"persistence false\nqueue_qos0_messages true\n"
                                    f"max_inflight_messages {max_inflight}\n"
                                    "log_type none")
    print(f"mqtt ingest: {count:,} messages of {len(payload(0, time.time()))} bytes from "
          f"{DEVICES} gateways, queued for {len(sessions)} persistent sessions; "
          f"Mosquitto max_inflight_messages {max_inflight}; {os.cpu_count()} cores (shared)")
    results: dict[str, dict[str, dict[str, float]]] = {}
    try:
        broker.start()
        for consumer, qos in sessions:
            create_session(sub, broker.port, f"bench-{consumer}-q{qos}", qos)
        published = child(["--role", "publish", "--port", str(broker.port),
                           "--n", str(count)])
        print(f"  publisher       queued {count:,} in {published['seconds']:.1f} s "
              f"({count / published['seconds']:,.0f} msg/s at QoS 1)")
        for consumer, qos in sessions:
            client_id = f"bench-{consumer}-q{qos}"
            if consumer == "mosquitto_sub":
                result = drain_mosquitto_sub(sub, broker.port, client_id, qos, count)
            else:
                result = child(["--role", consumer, "--port", str(broker.port), "--id",
                                client_id, "--qos", str(qos), "--n", str(count)])
                if result["received"] != count:
                    print(f"  {consumer} qos{qos}: received {result['received']} of {count}",
                          file=sys.stderr)
            results.setdefault(f"qos{qos}", {})[consumer] = summarise(consumer, qos, result,
                                                                      count)
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)
    headline: dict[str, Any] = {"bench": "mqtt_ingest", "n": count,
                                "max_inflight_messages": max_inflight}
    for level, by_consumer in results.items():
        pubnet, bare = by_consumer["pubnet"], by_consumer["aiomqtt"]
        c_ref = by_consumer["mosquitto_sub"]
        headline[level] = {
            "pubnet_msgs_per_s": pubnet["msgs_per_s"],
            "pubnet_cpu_us_per_msg": pubnet["cpu_us_per_msg"],
            "pubnet_msgs_per_core_s": pubnet["msgs_per_core_s"],
            "aiomqtt_msgs_per_s": bare["msgs_per_s"],
            "aiomqtt_cpu_us_per_msg": bare["cpu_us_per_msg"],
            "mosquitto_sub_msgs_per_s": c_ref["msgs_per_s"],
            "pubnet_vs_aiomqtt_rate": round(pubnet["msgs_per_s"] / bare["msgs_per_s"], 2),
            "pubnet_vs_aiomqtt_cpu": round(pubnet["cpu_us_per_msg"] / bare["cpu_us_per_msg"],
                                           2),
        }
    if "qos1" in headline:
        headline["goal_15k_per_core_qos1_met"] = (
            headline["qos1"]["pubnet_msgs_per_core_s"] >= 15_000)
    print(json.dumps(headline))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="messages (default 200,000)")
    parser.add_argument("--qos", default="0,1", help="QoS levels to measure (default 0,1)")
    parser.add_argument("--max-inflight", type=int, default=100,
                        help="Mosquitto max_inflight_messages (the shipped config's value)")
    parser.add_argument("--role", choices=["publish", "aiomqtt", "pubnet"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--id", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "publish":
        print(json.dumps(role_publish(args.port, args.n)))
        return 0
    if args.role in ("aiomqtt", "pubnet"):
        runner = role_aiomqtt if args.role == "aiomqtt" else role_pubnet
        print(json.dumps(asyncio.run(runner(args.port, args.id, int(args.qos), args.n))))
        return 0
    return orchestrate(args.n, [int(q) for q in args.qos.split(",")], args.max_inflight)


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    sys.exit(main())
