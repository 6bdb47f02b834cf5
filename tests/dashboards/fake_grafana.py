"""A stand-in for Grafana's HTTP API (Grafana is not packaged for this machine): the
folder and dashboard endpoints ``grafana-client`` calls, with Grafana's answers and status
codes, on a free loopback port."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from testbed.http import serving


@dataclass
class Saved:
    folder_uid: str
    dashboard: dict[str, Any]
    version: int
    message: str


@dataclass
class FakeGrafana:
    token: str | None = None
    """Bearer token every request must carry (None: any Authorization is accepted)."""
    basic: str | None = None
    """Expected ``Authorization: Basic ...`` value, when the URL carries user:password."""
    fail: dict[str, tuple[int, str]] = field(default_factory=dict)
    """uid → (status, message) to answer instead of saving."""
    folders: dict[str, str] = field(default_factory=dict)
    """uid → title."""
    dashboards: dict[str, Saved] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(method, path, Authorization header) of every request."""
    url: str = ""

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization")
        if self.token is not None:
            return header == f"Bearer {self.token}"
        if self.basic is not None:
            return header == self.basic
        return True

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path,
                              request.headers.get("Authorization")))
        if not self._authorised(request):
            return web.json_response({"message": "Unauthorized"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    async def list_folders(self, request: web.Request) -> web.Response:
        return web.json_response([{"id": i + 1, "uid": uid, "title": title}
                                  for i, (uid, title) in enumerate(self.folders.items())])

    async def create_folder(self, request: web.Request) -> web.Response:
        body = await request.json()
        title = body.get("title")
        if not title:
            return web.json_response({"message": "folder title cannot be empty"}, status=400)
        if title in self.folders.values():
            return web.json_response({"message": "a folder with the same name already exists"},
                                     status=409)
        uid = body.get("uid") or f"f{len(self.folders) + 1:04d}"
        self.folders[uid] = title
        return web.json_response({"id": len(self.folders), "uid": uid, "title": title,
                                  "url": f"/dashboards/f/{uid}/"})

    async def save_dashboard(self, request: web.Request) -> web.Response:
        body = await request.json()
        dashboard = body.get("dashboard") or {}
        uid = dashboard.get("uid")
        if not uid or not dashboard.get("title"):
            return web.json_response({"message": "Dashboard title cannot be empty"},
                                     status=400)
        if uid in self.fail:
            status, message = self.fail[uid]
            return web.json_response({"message": message, "status": "error"}, status=status)
        folder_uid = body.get("folderUid", "")
        if folder_uid and folder_uid not in self.folders:
            return web.json_response({"message": "folder not found"}, status=400)
        existing = self.dashboards.get(uid)
        if existing is not None and not body.get("overwrite"):
            return web.json_response({"message": "The dashboard has been changed by someone "
                                      "else", "status": "version-mismatch"}, status=412)
        version = existing.version + 1 if existing else 1
        self.dashboards[uid] = Saved(folder_uid, dashboard, version, body.get("message", ""))
        slug = re.sub(r"[^a-z0-9]+", "-", str(dashboard["title"]).lower()).strip("-")
        return web.json_response({"id": list(self.dashboards).index(uid) + 1, "uid": uid,
                                  "url": f"/d/{uid}/{slug}", "status": "success",
                                  "version": version, "slug": slug})

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[FakeGrafana]:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/api/folders", self.list_folders)
        app.router.add_post("/api/folders", self.create_folder)
        app.router.add_post("/api/dashboards/db", self.save_dashboard)
        async with serving(app) as port:
            self.url = f"http://127.0.0.1:{port}"
            yield self
