"""The listener's contributed routes follow the running generation across reloads: a
reload's status page and chat hooks answer, a route it drops answers 404, a route it adds
is reported (the listener's table is fixed until the next start)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from pubnet.app.components import Workers
from pubnet.app.reload import _Dispatch
from pubnet.httpbody import accepts_body, body_limit


def answering(text: str) -> web.RouteDef:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(text=text)

    return web.get("/api/v1/status", handler)


async def test_stand_ins_answer_with_the_current_generation() -> None:
    dispatch = _Dispatch(Workers([], [answering("first")], []))
    (stand_in,) = dispatch.stand_ins([answering("first")])
    request = make_mocked_request("GET", "/api/v1/status")
    first = await stand_in.handler(request)  # type: ignore[call-arg]
    assert isinstance(first, web.Response) and first.text == "first"

    assert dispatch.set(Workers([], [answering("second")], [])) == []
    second = await stand_in.handler(request)  # type: ignore[call-arg]
    assert isinstance(second, web.Response) and second.text == "second"

    added = web.post("/hooks/line", stand_in.handler)
    assert dispatch.set(Workers([], [], [added])) == ["/hooks/line"]
    gone = await stand_in.handler(request)  # type: ignore[call-arg]
    assert gone.status == 404


def test_a_stand_in_keeps_the_body_limit_of_its_route() -> None:
    @accepts_body(4096)
    async def ack(_request: web.Request) -> web.Response:
        return web.Response()

    route = web.post("/api/v1/incidents/{incident_id}/ack", ack)
    (stand_in,) = _Dispatch(Workers([], [route], [])).stand_ins([route])
    assert body_limit(stand_in.handler) == 4096
