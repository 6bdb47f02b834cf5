"""The Influx writer's HTTP requests: a kept-alive connection the server closed while it
was idle is not taken for InfluxDB being down."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from exporters.influx.http import HttpSink
from pubnet.config import InfluxConfig

ANSWER = (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n"
          b"Connection: keep-alive\r\n\r\n")


class OneAnswerPerConnection:
    """Answers the first request of each connection with a keep-alive 204, then closes
    the connection (as a server's idle timeout does between two writes)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests += 1
                conn.sendall(ANSWER)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def server() -> Iterator[OneAnswerPerConnection]:
    served = OneAnswerPerConnection()
    yield served
    served.close()


async def test_a_write_on_a_connection_the_server_closed_goes_again_on_a_new_one(
        server: OneAnswerPerConnection, tmp_path: Path) -> None:
    config = InfluxConfig(url=server.url, token=SecretStr("t0ken"), org="noc",
                          bucket="pubnet", buffer_dir=tmp_path / "buffer", timeout=5.0)
    async with HttpSink(config, threads=1) as sink:
        for n in range(3):
            assert await sink.write("pubnet", "noc", f"m value={n}.0 1".encode())
    assert server.requests == 3
    assert server.connections == 3
