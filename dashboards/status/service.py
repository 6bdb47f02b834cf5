"""What the status API serves, cached so that many open pages cost pubnet next to nothing.

A NOC wall screen, a provincial office and a few laptops each refresh every couple of
seconds; polling must not notice them (issue 13: poll lag unchanged with 20 clients
refreshing every second). So:

- ``/api/v1/status`` is built from running counts (:mod:`dashboards.status.fleet`) at most
  once per :data:`STATUS_TTL` and only when something changed or it has aged, then served
  to every client as the same bytes, plain or gzipped;
- the GeoJSON is rebuilt only after a site changed, in a worker thread (a 25,000-site body
  and its gzip would otherwise hold the loop for ~100 ms), one build at a time;
- the map's colours refresh from :meth:`StatusService.site_codes`, one byte per site.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dashboards.status import views
from dashboards.status.fleet import FleetStatus
from dashboards.status.geo import SiteFeatures, render_gzipped
from pubnet.failures import FailureLog
from pubnet.incidents import IncidentSource, OpenIncident, SentMessage
from pubnet.state import StateStore

log = logging.getLogger("pubnet.status")

STATUS_TTL = 1.0
"""Seconds a built ``/api/v1/status`` is served as is, even if counts changed meanwhile."""
MESSAGES_TTL = 5.0
"""Seconds between reads of the latest alert messages (one small SQLite query)."""
RECENT_MESSAGES = 10
REFRESH_SECONDS = 2.0
"""How often the page asks for news (it also learns this from ``/api/v1/status``)."""


@dataclass(frozen=True, slots=True)
class Body:
    """One built JSON document, plain and gzipped."""

    plain: bytes
    gzipped: bytes
    key: tuple[int, ...]
    built_at: float


def encode(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _body(document: Any, key: tuple[int, ...], built_at: float) -> Body:
    plain = encode(document)
    return Body(plain, gzip.compress(plain, 6, mtime=0), key, built_at)


class StatusService:
    """The documents of the API over one :class:`FleetStatus` (see the module docstring)."""

    def __init__(self, fleet: FleetStatus, store: StateStore,
                 incidents: IncidentSource | None, *, poll_interval: float,
                 can_acknowledge: bool, clock: Callable[[], float] = time.time) -> None:
        self.fleet = fleet
        self.store = store
        self.incidents = incidents
        self.poll_interval = poll_interval
        self.can_acknowledge = can_acknowledge
        self.clock = clock
        self._features: SiteFeatures | None = None
        self._status: Body | None = None
        self._status_lock = asyncio.Lock()
        self._geojson: Body | None = None
        self._geojson_lock = asyncio.Lock()
        self._messages: tuple[float, list[SentMessage]] = (-1e18, [])
        self._messages_failures = FailureLog(log, "status page cannot read alert messages")
        self.acks = 0
        """Changes on every acknowledgement, so the next status is built afresh."""

    def open_incidents(self) -> Sequence[OpenIncident]:
        return () if self.incidents is None else self.incidents.open_incidents()

    async def _recent_messages(self, now: float) -> list[SentMessage]:
        fetched_at, messages = self._messages
        if self.incidents is None or now - fetched_at < MESSAGES_TTL:
            return messages
        try:
            messages = list(await self.incidents.recent_messages(RECENT_MESSAGES))
        except (sqlite3.Error, OSError) as exc:
            self._messages_failures.failed(error=str(exc))
        else:
            self._messages_failures.worked()
        self._messages = (now, messages)
        return messages

    async def status(self) -> Body:
        """``/api/v1/status``, rebuilt when older than :data:`STATUS_TTL` and stale."""
        async with self._status_lock:
            now = self.clock()
            cached = self._status
            key = (self.fleet.version, self.acks)
            if cached is not None and now - cached.built_at < STATUS_TTL and (
                    cached.key == key or now - cached.built_at < STATUS_TTL / 2):
                return cached
            messages = await self._recent_messages(now)
            now = self.clock()
            key = (self.fleet.version, self.acks)
            document = views.status(
                self.fleet, self.open_incidents(), messages,
                views.collectors(self.store, self.poll_interval, now), now,
                {"alerting": self.incidents is not None,
                 "can_acknowledge": self.can_acknowledge and self.incidents is not None,
                 "refresh_seconds": REFRESH_SECONDS})
            self._status = _body(document, key, now)
            return self._status

    def site_codes(self) -> bytes:
        """``/api/v1/site-status``: ``{"sites_version": n, "status": "uudn..."}``."""
        return (b'{"sites_version":' + str(self.fleet.sites_version).encode()
                + b',"status":"' + self.fleet.site_codes() + b'"}')

    async def geojson(self) -> Body:
        """``/api/v1/sites.geojson``, rebuilt in a worker thread after a site changed."""
        async with self._geojson_lock:
            fleet = self.fleet
            key = (fleet.sites_version,)
            cached = self._geojson
            if cached is not None and cached.key == key:
                return cached
            if self._features is None:
                self._features = await asyncio.to_thread(SiteFeatures, fleet)
            statuses = bytes(fleet.site_status)
            plain, gzipped = await asyncio.to_thread(render_gzipped, self._features, statuses)
            self._geojson = Body(plain, gzipped, key, self.clock())
            return self._geojson

    def province(self, code: str) -> dict[str, Any] | None:
        area = self.fleet.province_by_code.get(code)
        if area is None:
            return None
        return views.province(self.fleet, area, self.open_incidents(), self.clock())

    def district(self, code: str) -> dict[str, Any] | None:
        area = self.fleet.district_by_code.get(code)
        if area is None:
            return None
        return views.district(self.fleet, area, self.open_incidents(), self.clock())

    def site(self, site_id: str) -> dict[str, Any] | None:
        if site_id not in self.fleet.site_index:
            return None
        return views.site(self.fleet, self.store, site_id, self.open_incidents(), self.clock())
