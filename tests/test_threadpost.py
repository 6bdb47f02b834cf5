"""The worker-thread POST the alert channels use: few loop turns on a busy loop, a stop
that does not wait out a hanging server, the answer's status, body and headers."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pubnet.threadpost import ThreadPoster
from testbed.busyloop import BusyLoop


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(429)
        self.send_header("Retry-After", "7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.upper())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook?x=1"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_post_costs_few_turns_of_a_busy_loop(server_url: str) -> None:
    """On a loop whose every turn takes 50 ms, the request is a hand-off and a result
    (aiohttp's POST took ~8 turns: bench/alert_latency.py)."""
    busy = BusyLoop(0.05)
    poster = ThreadPoster(5.0, "test")
    try:
        busy.start()
        await asyncio.sleep(0)
        start = busy.turns
        reply = await poster.post(server_url, "สวัสดี".encode(), {"X-Key": "k"})
        used = busy.turns - start
    finally:
        busy.stop()
        await poster.aclose()
    assert reply.status == 429
    assert reply.body == "สวัสดี".encode().upper()
    assert reply.headers["retry-after"] == "7"
    assert used <= 3, used


async def test_closing_ends_a_request_to_a_hanging_server_at_once() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)  # reads nothing, answers nothing

    threading.Thread(target=accept, daemon=True).start()
    poster = ThreadPoster(30.0, "test")
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    try:
        request = asyncio.create_task(poster.post(url, b"{}", {}))
        await asyncio.sleep(0.3)
        assert not request.done()
        started = time.monotonic()
        await poster.aclose()
        with pytest.raises(OSError):
            await asyncio.wait_for(request, 2.0)
        assert time.monotonic() - started < 2.0
        with pytest.raises(ConnectionAbortedError):
            await poster.post(url, b"{}", {})
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


class _Counting(ThreadingHTTPServer):
    """Counts the connections it accepts; HTTP/1.1, so a connection may carry several
    requests."""

    connections = 0

    def get_request(self) -> tuple[socket.socket, object]:
        accepted = super().get_request()
        self.connections += 1
        return accepted


class _KeepAlive(_Handler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        if self.path.endswith("close"):
            self.send_header("Connection", "close")
        self.end_headers()


@pytest.mark.parametrize(("keep_alive", "path", "connections"), [
    (True, "/write", 1), (True, "/write?close", 3), (False, "/write", 3)],
    ids=["kept-alive", "server-closes", "one-per-request"])
async def test_a_connection_is_kept_only_when_asked_and_the_server_keeps_it(
        keep_alive: bool, path: str, connections: int) -> None:
    server = _Counting(("127.0.0.1", 0), _KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        async with ThreadPoster(5.0, "test", keep_alive=keep_alive) as poster:
            for _ in range(3):
                assert (await poster.post(url, b"m value=1", {})).status == 204
    finally:
        server.shutdown()
        server.server_close()
    assert server.connections == connections
