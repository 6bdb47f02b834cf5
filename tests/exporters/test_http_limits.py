"""The /metrics listener under hostile clients: deadlines, the connection cap, failed
accepts logged once, request bodies refused, and bcrypt floods bounded (issue 10 item 15).

Each test runs the real exporter component on a real socket in this process; the clients
are raw sockets (to send half a request) or aiohttp.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pubnet.config import PrometheusConfig
from tests.exporters.conftest import RunningExporter, run_exporter

HALF = b"GET /metrics HTTP/1.1\r\nHost: pubnet\r\n"


async def metrics(exp: RunningExporter, **headers: str) -> dict[tuple[str, str], float]:
    """``{(sample name, first label value or ""): value}`` from a fresh connection."""
    async with aiohttp.ClientSession() as http, http.get(exp.url + "/metrics",
                                                         headers=headers) as resp:
        assert resp.status == 200
        text = await resp.text()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, next(iter(sample.labels.values()), ""))] = sample.value
    return out


async def connect(exp: RunningExporter, send: bytes = HALF) -> tuple[asyncio.StreamReader,
                                                                       asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", exp.port)
    writer.write(send)
    await writer.drain()
    return reader, writer


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes; fails if it is still open after
    ``seconds``."""
    async with asyncio.timeout(seconds):
        try:
            return await reader.read()
        except ConnectionError:  # reset, or our own write found it closed
            return b""


async def test_half_sent_requests_are_closed_at_the_header_timeout() -> None:
    config = PrometheusConfig(listen="127.0.0.1:0", header_timeout=0.5)
    async with run_exporter(config) as exp:
        silent = [await connect(exp, b"") for _ in range(3)]
        half = [await connect(exp) for _ in range(3)]
        trickle_reader, trickle = await connect(exp, HALF[:1])
        started = time.monotonic()
        for n in range(1, 7):  # a byte every 0.15 s does not buy more time
            await asyncio.sleep(0.15)
            with contextlib.suppress(ConnectionError):
                trickle.write(HALF[n:n + 1])
                await trickle.drain()
        await closed_within(trickle_reader, 1.0)
        for reader, _writer in silent + half:
            await closed_within(reader, 1.0)
        assert time.monotonic() - started < 1.5
        got = await metrics(exp)
        assert got[("pubnet_exporter_connections_closed_total", "header_timeout")] == 7
        for _reader, writer in [*silent, *half, (trickle_reader, trickle)]:
            writer.close()


async def test_connections_over_the_cap_get_503_at_once_then_room_again() -> None:
    config = PrometheusConfig(listen="127.0.0.1:0", max_connections=4, header_timeout=30)
    async with run_exporter(config) as exp:
        held = [await connect(exp) for _ in range(4)]
        await asyncio.sleep(0.1)
        started = time.monotonic()
        reader, writer = await connect(exp)
        answer = await closed_within(reader, 1.0)
        assert answer.startswith(b"HTTP/1.1 503 "), answer
        assert time.monotonic() - started < 0.5
        writer.close()
        for _reader, w in held:
            w.close()
        await asyncio.sleep(0.2)
        got = await metrics(exp)
        assert got[("pubnet_exporter_connections_closed_total", "limit")] == 1
        assert got[("pubnet_exporter_connections_limit", "")] == 4
        assert got[("pubnet_exporter_connections", "")] == 1  # this scrape's own


async def test_idle_keep_alive_connection_is_closed_and_a_body_refused() -> None:
    config = PrometheusConfig(listen="127.0.0.1:0", idle_timeout=0.3)
    async with run_exporter(config) as exp:
        reader, writer = await connect(exp, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await closed_within(reader, 1.5)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"ok\n")
        writer.close()
        reader, writer = await connect(
            exp, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nab")
        answer = await closed_within(reader, 1.0)
        assert answer.startswith(b"HTTP/1.1 413 "), answer
        writer.close()
        got = await metrics(exp)
        assert got[("pubnet_exporter_connections_closed_total", "idle_timeout")] >= 1
        assert got[("pubnet_exporter_connections_closed_total", "request_body")] == 1


@contextlib.contextmanager
def out_of_descriptors() -> Iterator[None]:
    """Every descriptor number this process may use is taken until the block ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(name) for name in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 20, hard))
    filler: list[int] = []
    try:
        while True:
            try:
                filler.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                break
        yield
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_accept_failures_are_logged_once_per_cause(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    loop = asyncio.get_running_loop()
    async with run_exporter(PrometheusConfig(listen="127.0.0.1:0")) as exp:
        clients = [socket.socket() for _ in range(20)]
        for sock in clients:
            sock.setblocking(False)
        with out_of_descriptors():
            for sock in clients:  # connecting takes no new descriptor; accepting does
                await loop.sock_connect(sock, ("127.0.0.1", exp.port))
            await asyncio.sleep(2.0)
        await loop.sock_sendall(clients[0], b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                b"Connection: close\r\n\r\n")
        async with asyncio.timeout(5):
            answer = await loop.sock_recv(clients[0], 4096)
        assert answer.startswith(b"HTTP/1.1 200 ")
        for sock in clients:
            sock.close()
        got = await metrics(exp)
    accept_lines = [r for r in caplog.records if "accept" in r.getMessage()]
    assert len(accept_lines) == 1, [r.getMessage()[:120] for r in accept_lines[:5]]
    assert getattr(accept_lines[0], "error", None) == "EMFILE"  # a field (extra), not in msg
    assert got[("pubnet_exporter_accept_errors_total", "EMFILE")] >= 2


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def _flood(exp: RunningExporter, passwords: list[str]) -> tuple[float, float]:
    """Wrong-password requests all at once: (seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession() as http:

        async def one(password: str) -> int:
            async with http.get(exp.url + "/metrics",
                                headers={"Authorization": _basic("noc", password)}) as resp:
                return resp.status

        statuses = await asyncio.gather(*(one(p) for p in passwords))
    assert set(statuses) == {401}
    return time.perf_counter() - wall, time.process_time() - cpu


async def test_wrong_password_floods_cost_one_bcrypt_at_a_time() -> None:
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=10))
    one_check = time.process_time()
    bcrypt.checkpw(b"x", hashed)
    one_check = time.process_time() - one_check
    config = PrometheusConfig(listen="127.0.0.1:0", basic_auth_users={"noc": hashed.decode()})
    async with run_exporter(config) as exp:
        good = _basic("noc", "right")
        await metrics(exp, Authorization=good)  # remembered from now on
        # the same wrong password 40 times: one bcrypt check, not 40
        _wall, cpu = await _flood(exp, ["wrong"] * 40)
        assert cpu < 10 * one_check, f"{cpu:.2f}s CPU for one repeated password"
        # distinct wrong passwords: checked one at a time (at most one core), while a
        # client whose verdict is remembered is answered without waiting its turn
        flood = asyncio.create_task(_flood(exp, [f"guess-{n}" for n in range(16)]))
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        await metrics(exp, Authorization=good)
        assert time.perf_counter() - started < 0.5
        wall, cpu = await flood
        assert wall >= 14 * one_check * 0.8, f"16 checks in {wall:.2f}s: not one at a time"
        assert cpu / wall < 1.4, f"{cpu:.2f}s CPU in {wall:.2f}s: more than one core"
        got = await metrics(exp, Authorization=good)
    assert got[("pubnet_exporter_auth_checks_total", "")] == 1 + 1 + 16
    assert got[("pubnet_exporter_auth_failures_total", "")] == 40 + 16


@contextlib.contextmanager
def descriptor_limit(soft: int) -> Iterator[None]:
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def test_descriptor_budget_puts_polling_first() -> None:
    """The listener's cap and the poller's sockets both come from one split of the limit."""
    from collectors.snmp.poller import SnmpPoller
    from inventory.model import Device, Inventory, Role
    from pubnet.app.components import build_http
    from pubnet.app.runtime import Readiness
    from pubnet.app.web import WebServer
    from pubnet.config import parse_config
    from pubnet.fdbudget import plan_budget
    from pubnet.state import StateStore

    inv = Inventory()
    for n in range(600):
        inv.devices[f"d{n}"] = Device(f"d{n}", "", Role.ACCESS_POINT, "127.0.0.1", None,
                                      "if-mib", "v2", "")
    config = parse_config({"credentials": {"v2": {"version": "2c", "community": "x"}}})
    budget = plan_budget(config, inv, limit=1024)
    assert (budget.reserved, budget.listener, budget.poller) == (64, 100, 860)
    small = plan_budget(config, inv, limit=256)
    assert (small.listener, small.poller) == (48, 144)
    assert plan_budget(config, inv, limit=64).listener == 16  # /metrics stays reachable
    off = parse_config({"credentials": {"v2": {"version": "2c", "community": "x"}},
                        "prometheus": None})
    assert plan_budget(off, inv, limit=1024).listener == 0

    def listener_cap() -> int:
        """The connection cap of the listener as ``pubnet run`` builds it."""
        server = build_http(config, inv, StateStore(), Readiness())[1]
        assert isinstance(server, WebServer)
        return server.limits.max_connections

    with descriptor_limit(512):
        assert listener_cap() == 100
        poller = SnmpPoller(config, inv, StateStore())
        # 600 devices do not fit in 512 - 64 - 100 = 348: sockets per poll, 348 at most
        assert not poller.poller.keep_sockets
        assert poller.max_in_flight == 348
    with descriptor_limit(300):
        assert listener_cap() == (300 - 64) // 4
    with descriptor_limit(1024):
        poller = SnmpPoller(config, inv, StateStore())
        assert poller.poller.keep_sockets, "600 fit in 860: every socket stays open"
        assert poller.max_in_flight == 2000


async def test_clients_that_hang_up_leave_no_bcrypt_work_behind() -> None:
    """A flood whose clients give up at once must not leave a queue of checks running."""
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=10)).decode()
    config = PrometheusConfig(listen="127.0.0.1:0", basic_auth_users={"noc": hashed})
    async with run_exporter(config) as exp:
        writers = []
        for n in range(30):
            request = (f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: "
                       f"{_basic('noc', f'guess-{n}')}\r\n\r\n").encode()
            writers.append((await connect(exp, request))[1])
        await asyncio.sleep(0.1)
        for writer in writers:
            writer.close()
        await asyncio.sleep(2.0)  # 30 checks would take ~2 s; the abandoned are skipped
        got = await metrics(exp, Authorization=_basic("noc", "right"))
    assert got[("pubnet_exporter_auth_checks_total", "")] <= 1 + 8


async def test_tls_handshake_that_never_comes_is_closed_and_counted(tmp_path: Path) -> None:
    import ssl

    from testbed.tls import self_signed

    cert, key = self_signed(tmp_path)
    config = PrometheusConfig(listen="127.0.0.1:0", tls_cert_file=cert, tls_key_file=key,
                              header_timeout=0.5)
    async with run_exporter(config) as exp:
        plain = await connect(exp, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        silent = [await connect(exp, b"") for _ in range(3)]
        for reader, _writer in [plain, *silent]:
            await closed_within(reader, 1.5)
        tls = ssl.create_default_context(cafile=str(cert))
        tls.check_hostname = False
        async with aiohttp.ClientSession() as http, http.get(exp.url + "/metrics",
                                                             ssl=tls) as resp:
            text = await resp.text()
        for _reader, writer in [plain, *silent]:
            writer.close()
    assert 'pubnet_exporter_connections_closed_total{reason="tls_handshake"} 4.0' in text
