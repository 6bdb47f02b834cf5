"""Answers that make gufo-snmp 0.13 panic never reach it (issue 10, item 20).

Each datagram below panics gufo's decoder (``index out of bounds`` and the like). The panic
was caught and counted before, but Rust's panic hook had already written it to stderr, with
a 60-line backtrace under ``RUST_BACKTRACE=1``; pubnet now checks the BER framing first, so
stderr stays empty, the datagram is counted (``decode``) and logged once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from collectors.snmp.client import PacketStats, SnmpTarget
from collectors.snmp.gufo_client import GufoClient
from collectors.snmp.poller import SnmpPoller
from pubnet.ber import PduType, Version, encode_int, encode_message, tlv
from pubnet.config import Credential, parse_config
from pubnet.model import PollStatus
from pubnet.state import StateStore
from tests.collectors.snmp.fake_agent import (
    GET,
    FakeAgent,
    Request,
    ber_oid,
    response,
)
from tests.collectors.snmp.fleet import make_inventory
from tests.support import eventually

CRED = Credential(version="2c", community="fake")
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


def message(req: Request, varbinds: bytes) -> bytes:
    """A response to ``req`` whose varbind list is ``varbinds`` as given (raw BER)."""
    return encode_message(Version.V2C, req.community, PduType.RESPONSE, req.request_id, 0, 0,
                          varbinds)


def good_varbind(req: Request) -> bytes:
    return tlv(0x30, ber_oid(req.oids[0]) + encode_int(1))


PANICS = {
    # a header cut off by the end of its list: gufo reads 4 length bytes that are not there
    "cut-long-length": lambda req: message(req, good_varbind(req) + b"\x30\x84"),
    # the form seen in the field (fuzzed answer): a varbind length of 0xfd = 125 bytes of length
    "field-0xfd": lambda req: message(req, b"\x30\xfd" + ber_oid(req.oids[0])[:-1]),
    # a multi-byte tag running off the end
    "cut-high-tag": lambda req: message(req, good_varbind(req) + b"\x3f\xff"),
    # an empty varbind: gufo indexes its first byte
    "empty-varbind": lambda req: message(req, b"\x30\x00"),
    # a BIT STRING value with more bytes after it in its varbind: gufo copies all of them
    # into an 8-byte buffer
    "bit-string": lambda req: message(
        req, tlv(0x30, ber_oid(req.oids[0]) + b"\x03\x02\x00\x01" + bytes(9))),
}


def answers(kind: str, stale_first: bool = False):  # type: ignore[no-untyped-def]
    def handler(req: Request) -> list[bytes]:
        if req.pdu != GET:
            return []
        bad = PANICS[kind](req)
        good = response(req, [(req.oids[0], 42)])
        if stale_first:
            # gufo reads on past an answer that is not its own, into the malformed one
            stale = Request(req.pdu, req.request_id - 1, req.oids, 0, req.community)
            return [response(stale, [(req.oids[0], 13)]), bad, good]
        return [bad, good]
    return handler


def client(port: int, stats: PacketStats, timeout: float = 1.0) -> GufoClient:
    return GufoClient(SnmpTarget("127.0.0.1", port, CRED, timeout, 0), stats)


@pytest.mark.parametrize("kind", sorted(PANICS), ids=str)
def test_the_datagrams_really_make_gufo_panic(kind: str) -> None:
    """Guards the tests below: each datagram panics gufo-snmp when it reads it unchecked
    (in a child process, so that the panic's output is its own)."""
    script = textwrap.dedent(f"""
        import asyncio
        from gufo.snmp import _fast
        from tests.collectors.snmp.fake_agent import FakeAgent
        from tests.collectors.snmp.test_malformed_answers import answers

        async def main():
            async with FakeAgent(answers({kind!r})) as agent:
                sock = _fast.SnmpV2cClientSocket(f"127.0.0.1:{{agent.port}}", "fake", 0, 0, 0, 0)
                sock.send_get_many(["1.3.6.1.2.1.1.3.0"])
                await asyncio.sleep(0.3)
                try:
                    sock.recv_get_many()
                except BaseException as exc:
                    print(type(exc).__name__)
        asyncio.run(main())
    """)
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, env=env, cwd=os.getcwd())
    assert done.stdout.strip() == "PanicException", done.stdout + done.stderr
    assert "panicked at" in done.stderr
    assert len(done.stderr.splitlines()) > 10  # the backtrace of the report


@pytest.mark.parametrize("stale_first", [False, True], ids=["alone", "behind-a-stale-answer"])
@pytest.mark.parametrize("kind", sorted(PANICS), ids=str)
async def test_a_panicking_answer_is_dropped_without_a_word_on_stderr(
        kind: str, stale_first: bool, capfd: pytest.CaptureFixture[str]) -> None:
    stats = PacketStats()
    async with FakeAgent(answers(kind, stale_first)) as agent, client(agent.port, stats) as c:
        # the real answer comes after the malformed one and still wins
        assert await c.get([SYS_UPTIME]) == {SYS_UPTIME: 42}
    assert stats.dropped.get("decode") == 1
    if stale_first:
        assert stats.dropped.get("flushed") == 1
    err = capfd.readouterr().err
    assert "panicked" not in err and "backtrace" not in err, err


async def test_the_poller_logs_the_dropped_answer_once(
        capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """Through the real poller: the device stays up, the drops are counted in
    pubnet_snmp_dropped_packets_total and one log line says so, however many arrive."""
    caplog.set_level(logging.DEBUG, logger="pubnet")

    def handler(req: Request) -> list[bytes]:
        if req.pdu != GET:  # walks find empty tables: the next OID is past them
            return [response(req, [("1.3.6.1.6.1.0", 0)])]
        return [PANICS["cut-long-length"](req), response(req, [(o, 7) for o in req.oids])]

    async with FakeAgent(handler) as agent:
        inventory = make_inventory([("bad-bytes", "127.0.0.1", agent.port, "v2", "host")])
        config = parse_config({"credentials": {"v2": {"version": "2c", "community": "fake"}},
                               "snmp": {"interval": "0.2s", "timeout": "0.5s", "retries": 0}})
        store = StateStore()
        poller = SnmpPoller(config, inventory, store)
        task = asyncio.create_task(poller.run())
        try:
            await eventually(lambda: poller.runs["bad-bytes"].attempts >= 4, within=20,
                             what="four polls")
            await eventually(lambda: store.latest(
                "pubnet", "pubnet_snmp_dropped_packets_total", (("reason", "decode"),)),
                within=20, what="the drop counter")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    status = store.status("bad-bytes")
    assert status is not None and status.status is PollStatus.OK
    dropped = store.latest("pubnet", "pubnet_snmp_dropped_packets_total",
                           (("reason", "decode"),))
    assert dropped is not None and dropped.value >= 4
    lines = [(r.getMessage(), r.__dict__.get("counted_in")) for r in caplog.records
             if r.levelno >= logging.INFO and r.__dict__.get("reason") == "decode"]
    assert lines == [("dropping SNMP packets", "pubnet_snmp_dropped_packets_total")]
    err = capfd.readouterr().err
    assert "panicked" not in err, err
