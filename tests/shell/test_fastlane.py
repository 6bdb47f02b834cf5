"""On a busy loop an HTTP request is answered in the turn that reads it, not three turns on:
what its bytes wake, and aiohttp's tasks for it, run ahead of the callbacks waiting."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import cast

from aiohttp import web

from inventory.model import Inventory
from pubnet.app.fastlane import FastLane
from pubnet.app.runtime import Readiness
from pubnet.app.web import WebServer, limits_for, stats_for
from pubnet.config import PrometheusConfig, parse_config
from pubnet.fdbudget import plan_budget

REQUEST = b"GET /turn HTTP/1.1\r\nHost: pubnet\r\n\r\n"


async def test_callbacks_scheduled_ahead_run_first_in_their_order() -> None:
    loop = asyncio.get_running_loop()
    lane = FastLane(loop)
    ran: list[str] = []
    done = loop.create_future()
    with lane.installed():
        loop.call_soon(ran.append, "waiting-1")
        loop.call_soon(ran.append, "waiting-2")
        with lane.ahead():
            loop.call_soon(ran.append, "ahead-1")
            with lane.ahead():  # inside another: the outer block moves it
                loop.call_soon(ran.append, "ahead-2")
            loop.call_soon(ran.append, "ahead-3")
        loop.call_soon(done.set_result, None)
        await done
    assert lane.active
    assert ran == ["ahead-1", "ahead-2", "ahead-3", "waiting-1", "waiting-2"]


async def test_a_loop_whose_queue_it_cannot_reach_is_left_as_it_is() -> None:
    other = cast(asyncio.AbstractEventLoop, SimpleNamespace())  # no ``_ready`` deque
    lane = FastLane(other)
    with lane.ahead(), lane.installed():
        pass
    assert not lane.active


async def test_the_task_factory_is_put_back_and_a_previous_one_still_makes_tasks() -> None:
    loop = asyncio.get_running_loop()
    made: list[str] = []

    def previous(loop: asyncio.AbstractEventLoop, coro: object, **kwargs: object
                 ) -> asyncio.Future[object]:
        made.append(getattr(coro, "__qualname__", "?"))
        return asyncio.Task(coro, loop=loop, **kwargs)  # type: ignore[arg-type]

    async def work() -> int:
        return 7

    loop.set_task_factory(previous)  # type: ignore[arg-type]
    try:
        with FastLane(loop).installed():
            assert await asyncio.create_task(work()) == 7
        assert loop.get_task_factory() is previous
    finally:
        loop.set_task_factory(None)
    assert made == [work.__qualname__]


async def test_a_reordered_turn_does_not_queue_an_accept_twice() -> None:
    """Callbacks moved forward leave a turn's last ones for the next: asyncio would then
    queue the listening socket's accept a second time while the first still waits, and the
    second would take a connection for a future already answered, and drop it."""
    loop = asyncio.get_running_loop()
    lane = FastLane(loop)
    errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    accepted: list[socket.socket] = []
    clients: list[socket.socket] = []
    all_accepted = asyncio.Event()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(512)
        server.setblocking(False)
        port = server.getsockname()[1]

        async def accept_forever() -> None:
            while True:
                conn, _ = await loop.sock_accept(server)
                accepted.append(conn)
                if len(accepted) == 300:
                    all_accepted.set()

        async def requests_every_turn() -> None:
            while True:
                with lane.ahead():
                    for _ in range(5):
                        loop.call_soon(int)
                await asyncio.sleep(0)

        async def connect() -> None:
            for _ in range(100):
                for _ in range(3):
                    clients.append(socket.create_connection(("127.0.0.1", port)))
                await asyncio.sleep(0)
            with contextlib.suppress(TimeoutError):  # a dropped one is never accepted
                async with asyncio.timeout(5):
                    await all_accepted.wait()

        try:
            with lane.installed():
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(accept_forever()),
                             group.create_task(requests_every_turn())]
                    await connect()
                    for task in tasks:
                        task.cancel()
        finally:
            loop.set_exception_handler(None)
            for sock in accepted + clients:
                sock.close()
    assert not errors, errors[0].get("message")
    assert len(accepted) == len(clients) == 300


class Turns:
    """Counts the loop's turns: one step of :meth:`count` a turn."""

    def __init__(self) -> None:
        self.now = 0
        self.sent: list[int] = []
        self.handled: list[int] = []
        self.answered = asyncio.Event()
        self.stop = asyncio.Event()

    async def count(self, send: Callable[[], None]) -> None:
        """Steps once a turn; in the 20th it sends the request (its bytes reach the
        server's socket before the next turn's ``select``)."""
        while not self.stop.is_set():
            self.now += 1
            if self.now == 20:
                send()
                self.sent.append(self.now)
            await asyncio.sleep(0)

    async def other_work(self) -> None:
        """Yields every turn, as the steps of polls in flight do."""
        while True:
            await asyncio.sleep(0)
            if self.stop.is_set():
                return


@contextlib.asynccontextmanager
async def listening(turns: Turns) -> AsyncIterator[int]:
    config = PrometheusConfig(listen="127.0.0.1:0")
    budget = plan_budget(parse_config({}), Inventory())

    async def turn(_request: web.Request) -> web.Response:
        turns.handled.append(turns.now)
        turns.answered.set()
        return web.Response(text="ok\n")

    server = WebServer(config, limits_for(config, budget), [web.get("/turn", turn)],
                       Readiness().waiting, stats_for(config))
    task = asyncio.create_task(server.run())
    try:
        await asyncio.wait_for(server.ready.wait(), 30)
        assert server.bound is not None
        yield server.bound.port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"ok\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


async def turns_to_handler(kept_alive: bool) -> int:
    """Loop turns from the one in which a request's bytes reach the kernel to the one its
    handler runs in, with 20 other tasks keeping the loop turning as polls do."""
    turns = Turns()
    async with listening(turns) as port:
        sockets: list[socket.socket] = []
        try:
            if kept_alive:  # its first request answered: aiohttp waits for the next
                sockets.append(socket.create_connection(("127.0.0.1", port)))
                sockets[0].sendall(REQUEST)
                assert b"200 OK" in await asyncio.to_thread(read_response, sockets[0])
                turns.handled.clear()
                turns.answered.clear()

            def send() -> None:
                if not sockets:
                    sockets.append(socket.create_connection(("127.0.0.1", port)))
                sockets[0].sendall(REQUEST)

            async with asyncio.TaskGroup() as group:
                for _ in range(20):
                    group.create_task(turns.other_work())
                group.create_task(turns.count(send))
                await turns.answered.wait()
                turns.stop.set()
            assert b"200 OK" in await asyncio.to_thread(read_response, sockets[0])
        finally:
            for sock in sockets:
                sock.close()
    return turns.handled[0] - turns.sent[0]


async def test_a_kept_alive_request_is_handled_in_the_turn_that_reads_it() -> None:
    # sent during turn N, handled first thing in turn N+1, before the counting task steps
    # again: without the lane three turns on, at their end
    assert await turns_to_handler(kept_alive=True) == 0


async def test_a_new_connection_s_request_waits_few_turns() -> None:
    # accepted in turn N+1, set up in N+2, its bytes read first in N+3: without the lane
    # seven turns
    assert await turns_to_handler(kept_alive=False) <= 3
