"""The shell's one HTTP listener serves whatever a part contributes, with the same guards:
basic auth on every contributed route, open probes, readiness asked of the components."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import bcrypt
from aiohttp import web

from inventory.model import Inventory
from pubnet.app.runtime import Readiness
from pubnet.app.web import WebServer, limits_for, stats_for
from pubnet.config import PrometheusConfig, parse_config
from pubnet.fdbudget import plan_budget
from tests.standin import NotStarted


async def hello(_request: web.Request) -> web.Response:
    return web.Response(text="สวัสดี\n")


@contextlib.asynccontextmanager
async def serving(config: PrometheusConfig, readiness: Readiness) -> AsyncIterator[str]:
    budget = plan_budget(parse_config({}), Inventory())
    server = WebServer(config, limits_for(config, budget), [web.get("/hello", hello)],
                       readiness.waiting, stats_for(config))
    readiness.track([server])
    task = asyncio.create_task(server.run())
    try:
        await asyncio.wait_for(server.ready.wait(), 30)
        assert server.bound is not None
        yield f"http://127.0.0.1:{server.bound.port}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_contributed_route_is_behind_auth_and_the_probes_are_not() -> None:
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=4)).decode()
    config = PrometheusConfig(listen="127.0.0.1:0", basic_auth_users={"noc": hashed})
    good = {"Authorization": "Basic " + base64.b64encode(b"noc:right").decode()}
    async with serving(config, Readiness()) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/hello") as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"] == 'Basic realm="pubnet"'
        async with http.get(url + "/hello", headers=good) as resp:
            assert resp.status == 200 and await resp.text() == "สวัสดี\n"
        async with http.head(url + "/hello", headers=good) as resp:
            assert resp.status == 200
        for probe in ("/healthz", "/readyz"):
            async with http.get(url + probe) as resp:
                assert resp.status == 200, probe
        async with http.get(url + "/nope") as resp:
            assert resp.status == 404  # no route: not found, not "unauthorized"


async def test_readyz_names_the_components_that_have_not_started() -> None:
    poller, alerting = NotStarted("snmp-poller"), NotStarted("alerting")
    readiness = Readiness([poller, alerting])
    async with serving(PrometheusConfig(listen="127.0.0.1:0"), readiness) as url, \
            aiohttp.ClientSession() as http:
        async with http.get(url + "/readyz") as resp:
            assert resp.status == 503
            assert await resp.text() == "not ready: alerting, snmp-poller\n"
        alerting.ready.set()
        poller.ready.set()
        async with http.get(url + "/readyz") as resp:
            assert resp.status == 200 and await resp.text() == "ready\n"
