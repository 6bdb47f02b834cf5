"""The status page's routes on pubnet's one HTTP listener: the page, its assets, the API.

Every API error is JSON ``{"error": "..."}`` with its status (400 bad body, 401 missing or
wrong operator credentials, 403 read-only, 404 unknown province/district/site/incident or
path, 405 wrong method, 409 already resolved, 503 the alerting database cannot be written),
and a handler that fails unexpectedly answers 500 JSON and logs once per cause: a malformed
request never breaks the server.

Acknowledging needs an operator of ``web.operators``, presented as HTTP basic credentials on
the POST itself (the page asks for them in a form). The 401 carries no
``WWW-Authenticate`` challenge: a browser would otherwise pop its own password dialog over
the page's. The listener's own basic auth (``prometheus.basic_auth_users``), when set, still
guards every route; operators pass it too (:mod:`pubnet.app.components`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any

from aiohttp import web

from dashboards.status.service import Body, StatusService, encode
from pubnet.httpbody import accepts_body, same_limit
from pubnet.incidents import AckResult

log = logging.getLogger("pubnet.status")

ASSETS = {"status.js": "application/javascript; charset=utf-8",
          "status.css": "text/css; charset=utf-8"}
MAX_BODY = 4096
"""Bytes an acknowledgement's body may have (the listener refuses larger ones: 413)."""
MAX_BY = 100
MAX_NOTE = 1000
JSON_TYPE = "application/json; charset=utf-8"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OperatorCheck = Callable[[str | None], Awaitable[str | None]]
"""The operator an ``Authorization`` header signs in as, or None (the app supplies it over
``web.operators``: bcrypt checks belong to the listener's auth, not to this page)."""


def error(status: int, text: str) -> web.Response:
    return web.Response(status=status, body=encode({"error": text}), content_type=None,
                        headers={"Content-Type": JSON_TYPE, "Cache-Control": "no-store"})


def _json(document: Any) -> web.Response:
    return web.Response(body=encode(document), headers={"Content-Type": JSON_TYPE,
                                                        "Cache-Control": "no-store"})


def _wants_gzip(request: web.Request) -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def _cached(request: web.Request, body: Body, content_type: str = JSON_TYPE) -> web.Response:
    headers = {"Content-Type": content_type, "Cache-Control": "no-store",
               "Vary": "Accept-Encoding"}
    if _wants_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=body.gzipped, headers=headers)
    return web.Response(body=body.plain, headers=headers)


def _guarded(handler: Handler) -> Handler:
    """Answer 500 JSON instead of a traceback page; log each cause once."""
    logged: set[str] = set()

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:
            cause = f"{handler.__name__}:{type(exc).__name__}"
            if cause not in logged:
                logged.add(cause)
                log.exception("status API failed", extra={"path": request.path})
            return error(500, "internal error; see pubnet's log")

    guarded.__name__ = handler.__name__
    return same_limit(guarded, handler)


def parse_ack(raw: bytes) -> tuple[str, str | None]:
    """``{"by": name, "note": text}`` → (by, note); raises ValueError saying what is
    wrong."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the body is not JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ValueError('the body must be a JSON object {"by": ..., "note": ...}')
    unknown = sorted(set(data) - {"by", "note"})
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; expected by and note")
    by = data.get("by")
    if not isinstance(by, str) or not by.strip():
        raise ValueError('"by" must be a non-empty string: who takes the incident')
    if len(by) > MAX_BY:
        raise ValueError(f'"by" is longer than {MAX_BY} characters')
    note = data.get("note")
    if note is not None and not isinstance(note, str):
        raise ValueError('"note" must be a string')
    if note is not None and len(note) > MAX_NOTE:
        raise ValueError(f'"note" is longer than {MAX_NOTE} characters')
    return by.strip(), (note.strip() or None) if note is not None else None


class StatusApi:
    """Route definitions over a :class:`StatusService`."""

    def __init__(self, service: StatusService, operators: OperatorCheck | None) -> None:
        self.service = service
        self.operators = operators
        package = files("dashboards.status") / "static"
        self.page = (package / "index.html").read_bytes()
        self.assets = {name: (package / name).read_bytes() for name in ASSETS}

    def routes(self) -> list[web.RouteDef]:
        g = _guarded
        return [
            web.get("/", g(self.index)),
            web.get("/ui/{name}", g(self.asset)),
            web.get("/api/v1/status", g(self.status)),
            web.get("/api/v1/site-status", g(self.site_status)),
            web.get("/api/v1/sites.geojson", g(self.geojson)),
            web.get("/api/v1/provinces/{code}", g(self.province)),
            web.get("/api/v1/districts/{code}", g(self.district)),
            web.get("/api/v1/sites/{site_id}", g(self.site)),
            web.post("/api/v1/incidents/{incident_id}/ack", g(self.ack)),
            web.route("*", "/api/{tail:.*}", g(self.no_such_path)),
        ]

    async def index(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.page, headers={
            "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:",
            "X-Content-Type-Options": "nosniff"})

    async def asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = self.assets.get(name)
        if body is None:
            return error(404, f"no asset {name!r}")
        return web.Response(body=body, headers={"Content-Type": ASSETS[name],
                                                "Cache-Control": "no-cache",
                                                "X-Content-Type-Options": "nosniff"})

    async def status(self, request: web.Request) -> web.Response:
        return _cached(request, await self.service.status())

    async def site_status(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.service.site_codes(),
                            headers={"Content-Type": JSON_TYPE, "Cache-Control": "no-store"})

    async def geojson(self, request: web.Request) -> web.Response:
        return _cached(request, await self.service.geojson(), "application/geo+json")

    async def province(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        found = self.service.province(code)
        return error(404, f"no province {code!r} with sites") if found is None else _json(found)

    async def district(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        found = self.service.district(code)
        return error(404, f"no district {code!r} with sites") if found is None else _json(found)

    async def site(self, request: web.Request) -> web.Response:
        site_id = request.match_info["site_id"]
        found = self.service.site(site_id)
        return error(404, f"no site {site_id!r}") if found is None else _json(found)

    async def no_such_path(self, request: web.Request) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            return error(405, f"{request.method} is not allowed on {request.path}")
        return error(404, f"no API path {request.path}")

    @accepts_body(MAX_BODY)
    async def ack(self, request: web.Request) -> web.Response:
        incident_id = request.match_info["incident_id"]
        if self.operators is None:
            return error(403, "the status page is read-only: no web.operators in the config")
        operator = await self.operators(request.headers.get("Authorization"))
        if operator is None:
            return error(401, "operator credentials required (web.operators)")
        try:
            by, note = parse_ack(await request.read())
        except ValueError as exc:
            return error(400, str(exc))
        source = self.service.incidents
        if source is None:
            return error(404, f"no incident {incident_id!r}: alerting is off")
        who = by if by == operator else f"{by} ({operator})"
        try:
            result = await source.acknowledge(incident_id, who, note, "web")
        except (sqlite3.Error, OSError) as exc:
            log.warning("acknowledgement not recorded",
                        extra={"incident": incident_id, "error": str(exc)})
            return error(503, "the alerting database cannot be written; try again")
        if result is AckResult.UNKNOWN:
            return error(404, f"no open incident {incident_id!r}")
        if result is AckResult.CLOSED:
            return error(409, f"{incident_id} is already resolved")
        self.service.acks += 1
        log.info("incident acknowledged from the status page",
                 extra={"incident": incident_id, "by": who})
        return _json({"incident_id": incident_id, "acknowledged_by": who, "channel": "web",
                      "note": note})
