"""Encoding in a child process (``influxdb.encoder: process``): the same points, in the
same order, as encoding on the loop; a child that dies is counted, not silent; a stop
takes what the child still holds."""

from __future__ import annotations

import asyncio
import io
import logging
import math
import os
import signal
from pathlib import Path

import pytest
from pydantic import ValidationError

from exporters.influx import writer as writer_module
from exporters.influx.encoder_child import read_frame, serve, write_frame
from exporters.influx.lineproto import LineEncoder, device_tags
from exporters.influx.writer import InfluxWriter
from pubnet.model import Observation, Source
from pubnet.state import StateStore
from tests.exporters.helpers import small_inventory
from tests.exporters.test_influx_writer import ScriptedSink, config, points, running
from tests.support import eventually as until


def mixed_polls() -> list[list[Observation]]:
    """Polls of several devices: Thai and escaped labels, several label shapes, a device
    the inventory does not know, values that are not floats, and rejected points."""
    ts = 1_700_000_000.123456
    polls: list[list[Observation]] = []
    for n in range(40):
        polls.append([
            Observation("gw1", "pubnet_interface_receive_bytes_total", 1000.0 * n, ts + n,
                        Source.SNMP, (("ifname", "ge 0/1,ไทย=x"),)),
            Observation("gw1", "pubnet_ap_clients", n % 7, ts + n, Source.SNMP,
                        (("radio", "wlan\n2.4 GHz"),)),
            Observation("gw2", "pubnet_device_up", 1.0, ts + n, Source.SNMP,
                        (("province", "50"), ("site", "S2"))),
            Observation("gw1", "pubnet_probe_rtt_seconds", math.nan, ts + n, Source.ICMP),
            Observation("unknown", "pubnet_ap_clients", 3.0, ts + n, Source.MQTT,
                        (("time", "reserved"),)),
            Observation("dist1", "pubnet_interface_info", 1.0, ts + n, Source.SNMP,
                        (("ifalias", f"to บ้าน {n}"), ("ifname", "xe-0/0/0"))),
        ])
    return polls


def test_child_answers_what_the_encoder_encodes() -> None:
    """The child's side alone, through in-memory pipes: batches of ``batch_size``, a
    cut's remainder, and the rejected points, in order."""
    tags = device_tags(small_inventory())
    polls = mixed_polls()
    expected: list[str] = []
    rejected_expected = []
    reference = LineEncoder(tags)
    for poll in polls:
        rejected_expected += [(r.reason.value, r.device, r.metric)
                              for r in reference.encode_into(poll, expected)]
    from exporters.influx.encoder_child import poll_columns

    source = io.BytesIO()
    write_frame(source, ("tags", 7, tags))
    write_frame(source, ("obs", [poll_columns(p) for p in polls[:25]]))
    write_frame(source, ("obs", [poll_columns(p) for p in polls[25:]]))
    write_frame(source, ("cut",))
    source.seek(0)
    out = io.BytesIO()
    serve(source, out)
    out.seek(0)
    lines: list[str] = []
    rejected = []
    answers = []
    while (answer := read_frame(out)) is not None:
        data, count, refused, cut = answer
        answers.append((count, cut))
        lines += data.decode().split("\n") if count else []
        rejected += refused
        assert count in (0, 7) or cut, "full batches until the cut"
    assert lines == expected
    assert rejected == rejected_expected and len(rejected) == 80
    assert answers[-1][1], "the cut is answered last"


async def test_process_writes_what_inline_writes(tmp_path: Path) -> None:
    sinks = {}
    dropped = {}
    for encoder in ("inline", "process"):
        store, sink = StateStore(), ScriptedSink()
        writer = InfluxWriter(store, small_inventory(),
                              config(tmp_path / encoder, encoder=encoder, batch_size=16),
                              stats_interval=None)
        async with running(writer, sink):
            await until(lambda w=writer: w.ready.is_set())  # type: ignore[misc]
            if encoder == "process":
                await until(lambda w=writer: w._process is not None)  # type: ignore[misc]
                child = writer._process.pid
                assert child is not None and child != os.getpid()
            else:
                assert writer._process is None
            for poll in mixed_polls():
                store.publish(poll)
                await asyncio.sleep(0)
        sinks[encoder], dropped[encoder] = sink.lines, writer.stats.dropped
    assert len(sinks["process"]) == 40 * 4
    assert sinks["process"] == sinks["inline"], "the same lines in the same order"
    assert dropped["process"] == dropped["inline"] == {"non_finite_value": 40,
                                                       "reserved_tag": 40}


async def test_auto_encodes_apart_from_a_fleet_size(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    small = InfluxWriter(StateStore(), small_inventory(), config(tmp_path),
                         stats_interval=None)
    assert not small._encode_apart, "5 devices: on the loop"
    monkeypatch.setattr(writer_module, "ENCODER_PROCESS_FROM", 5)
    large = InfluxWriter(StateStore(), small_inventory(), config(tmp_path),
                         stats_interval=None)
    assert large._encode_apart
    forced = InfluxWriter(StateStore(), small_inventory(), config(tmp_path, encoder="inline"),
                          stats_interval=None)
    assert not forced._encode_apart


def test_encoder_key_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="encoder"):
        config(tmp_path, encoder="thread")


async def test_a_dead_encoder_process_is_counted_and_the_writer_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, sink = StateStore(), ScriptedSink()
    writer = InfluxWriter(store, small_inventory(), config(tmp_path, encoder="process"),
                          stats_interval=None)
    with caplog.at_level(logging.INFO, "pubnet.exporters.influx"):
        async with running(writer, sink):
            await until(lambda: writer._process is not None)
            store.publish(points(0, 10))
            await until(lambda: len(sink.values()) == 10)
            assert writer._process is not None and writer._process.pid is not None
            child = writer._process.pid
            os.kill(child, signal.SIGSTOP)  # it takes nothing more: what is sent waits
            store.publish(points(10, 25))
            await asyncio.sleep(0.2)
            os.kill(child, signal.SIGKILL)
            await until(lambda: writer.stats.dropped.get("encoder_lost") == 25)
            store.publish(points(35, 5))  # encoded on the loop from now on
            await until(lambda: len(sink.values()) == 15)
    assert sink.values() == [*range(10), *range(35, 40)]
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1 and "encoder process failed" in failures[0].getMessage()
    assert getattr(failures[0], "points_lost", None) == 25


async def test_stop_takes_what_the_encoder_process_holds(tmp_path: Path) -> None:
    """Everything published before the stop is delivered, however much the child had
    not answered yet."""
    store, sink = StateStore(), ScriptedSink()
    writer = InfluxWriter(store, small_inventory(),
                          config(tmp_path, encoder="process", batch_size=1000,
                                 flush_interval=30.0),
                          stats_interval=None)
    async with running(writer, sink):
        await until(lambda: writer._process is not None)
        for start in range(0, 3050, 50):
            store.publish(points(start, 50))
        # leaving stops the writer at once: the child holds a partial batch (a 30 s
        # flush interval would not cut it) and perhaps more
    assert sink.values() == list(range(3050)), "every point once, in order"
    assert not writer.buffer and "encoder_lost" not in writer.stats.dropped


async def test_a_stop_signal_to_the_whole_group_leaves_the_stop_to_the_writer(
        tmp_path: Path) -> None:
    """systemd's SIGTERM (and a terminal's Ctrl-C) reach the child too: it must live on
    until the writer's own stop has taken what it holds."""
    store, sink = StateStore(), ScriptedSink()
    writer = InfluxWriter(store, small_inventory(),
                          config(tmp_path, encoder="process", flush_interval=30.0),
                          stats_interval=None)
    async with running(writer, sink):
        await until(lambda: writer._process is not None)
        assert writer._process is not None and writer._process.pid is not None
        store.publish(points(0, 5))  # a partial batch: the child holds it
        await asyncio.sleep(0.2)
        os.kill(writer._process.pid, signal.SIGTERM)
        os.kill(writer._process.pid, signal.SIGINT)
        await asyncio.sleep(0.2)
        store.publish(points(5, 3))
    assert sink.values() == list(range(8))
    assert writer.stats.dropped == {}
