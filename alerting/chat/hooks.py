"""The ``chat`` component: button presses from LINE and Telegram become acknowledgements.

It contributes ``POST /hooks/line`` and ``POST /hooks/telegram`` to pubnet's one HTTP
listener (outside its basic auth: the apps cannot send a password, they sign instead), and
runs Telegram long polling for channels with ``updates: polling``. A press is checked in
this order, and nothing later happens when a step fails:

1. the request's signature (LINE) or secret token (Telegram): 401, logged once per source;
2. who pressed: a LINE ``userId`` or Telegram user id unknown to ``technicians.csv`` gets a
   polite refusal in the chat, no action;
3. the button data, then the incident: applied as ``pubnet alerts ack --by <technician>``
   with the action as the note and ``line``/``telegram`` as the channel, in the same
   transaction as the event id (a redelivery is applied once); a resolved or unknown
   incident gets a clear reply.

It writes to the alerting database through its own connection, like the CLI (WAL lets both
write); the alerting loop picks acknowledgements up within a tick. Replies go out from a
queue in the component's TaskGroup, so a slow chat API never holds the webhook answer.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from alerting.chat import line, telegram
from alerting.chat.actions import Press, Result, apply, parse_data, reply_text
from alerting.db import AsyncIncidentDB
from alerting.directory import Directory, Technician
from pubnet.backoff import backoff
from pubnet.catalog import ALERT_CHAT_ACTIONS, LABEL_CHANNEL, LABEL_RESULT, PUBNET_DEVICE
from pubnet.config import AlertingConfig, LineChannel, TelegramChannel
from pubnet.failures import FailureLog
from pubnet.httpbody import accepts_body
from pubnet.model import Observation, Source
from pubnet.state import StateStore

log = logging.getLogger("pubnet.alerting.chat")

MAX_BODY = 1 << 20
"""A webhook body larger than this is refused (413) unread."""
MAX_SOURCES_LOGGED = 1000

Reply = Callable[[], Awaitable[None]]


class ChatHooks:
    """See the module docstring."""

    name = "chat"

    def __init__(self, config: AlertingConfig, directory: Directory, store: StateStore, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.directory = directory
        self.store = store
        self.clock = clock
        self.ready = asyncio.Event()
        """Set once the database is open and polling started."""
        self.counts: dict[tuple[str, Result], int] = {}
        self._line = {name: c for name, c in config.channels.items()
                      if isinstance(c, LineChannel) and c.channel_secret is not None}
        self._telegram = {name: c for name, c in config.channels.items()
                          if isinstance(c, TelegramChannel) and c.updates != "off"}
        self._db: AsyncIncidentDB | None = None
        self._http: aiohttp.ClientSession | None = None
        self._replies: asyncio.Queue[Reply] = asyncio.Queue()
        self._rejected_sources: set[str] = set()

    def routes(self) -> list[web.RouteDef]:
        """The webhook routes to serve (none when neither hook is configured)."""
        routes = []
        if self.config.line_webhook:
            routes.append(web.post("/hooks/line", self._line_hook))
        if any(c.updates == "webhook" for c in self._telegram.values()):
            routes.append(web.post("/hooks/telegram", self._telegram_hook))
        return routes

    async def run(self) -> None:
        async with AsyncIncidentDB(self.config.database) as db, \
                aiohttp.ClientSession() as http:
            self._db, self._http = db, http
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._reply_worker(), name="chat-replies")
                    for name, channel in self._telegram.items():
                        if channel.updates == "polling":
                            group.create_task(self._poll(name, channel),
                                              name=f"chat-telegram-poll-{name}")
                    self.ready.set()
            finally:
                self._db = self._http = None
                self.ready.clear()

    # -- shared ----------------------------------------------------------------------------

    def _count(self, channel: str, result: Result) -> None:
        key = (channel, result)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.store.publish([Observation(
            PUBNET_DEVICE, ALERT_CHAT_ACTIONS, float(self.counts[key]), self.clock(),
            Source.INTERNAL, ((LABEL_CHANNEL, channel), (LABEL_RESULT, result.value)))])

    def _rejected(self, channel: str, source: str, why: str) -> None:
        self._count(channel, Result.BAD_SIGNATURE)
        key = f"{channel}:{source}"
        if key not in self._rejected_sources and len(self._rejected_sources) < (
                MAX_SOURCES_LOGGED):
            self._rejected_sources.add(key)
            log.warning("chat webhook refused, nothing applied (logged once per source)",
                        extra={"channel": channel, "source": source, "reason": why})

    async def _press(self, app: str, technician: Technician | None, data: str,
                     event_id: str) -> tuple[Result, Press | None]:
        """Apply one press; the result and what was pressed."""
        if technician is None:
            return Result.UNKNOWN_USER, None
        press = parse_data(data)
        if press is None:
            return Result.BAD_REQUEST, None
        db = self._db
        assert db is not None
        result = await db.call(apply, db.sync, press, technician.technician_id, app,
                               event_id, self.clock())
        if result is Result.APPLIED:
            log.info("incident action from chat", extra={
                "incident": press.incident_id, "action": press.action.value,
                "by": technician.technician_id, "channel": app})
        return result, press

    async def _reply_worker(self) -> None:
        while True:
            reply = await self._replies.get()
            try:
                await reply()
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                log.warning("chat reply failed", extra={"error": type(exc).__name__})

    async def _post(self, url: str, body: bytes, headers: dict[str, str], seconds: float,
                    what: str) -> bytes:
        http = self._http
        if http is None:
            raise aiohttp.ClientConnectionError("closing")
        async with http.post(url, data=body, headers={
                "Content-Type": "application/json; charset=utf-8", **headers},
                timeout=aiohttp.ClientTimeout(total=seconds)) as response:
            answer = await response.read()
            if not 200 <= response.status < 300:
                log.warning("chat reply refused",
                            extra={"what": what, "status": response.status})
            return answer

    def _not_ready(self) -> web.Response | None:
        if self._db is None:
            return web.Response(status=503, text="starting\n")
        return None

    @staticmethod
    async def _body(request: web.Request) -> bytes | None:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return None
        body = await request.content.read(MAX_BODY + 1)
        return None if len(body) > MAX_BODY else body

    # -- LINE ------------------------------------------------------------------------------

    @accepts_body(MAX_BODY)
    async def _line_hook(self, request: web.Request) -> web.Response:
        if (busy := self._not_ready()) is not None:
            return busy
        body = await self._body(request)
        if body is None:
            return web.Response(status=413, text="too large\n")
        secrets = {name: c.channel_secret.get_secret_value().encode("utf-8")
                   for name, c in self._line.items() if c.channel_secret is not None}
        name = line.verified_channel(secrets, body, request.headers.get(line.SIGNATURE_HEADER))
        if name is None:
            self._rejected("line", request.remote or "?", "bad X-Line-Signature")
            return web.Response(status=401, text="bad signature\n")
        try:
            events = line.postbacks(body)
        except ValueError as exc:
            self._count("line", Result.BAD_REQUEST)
            log.warning("LINE webhook body not understood", extra={"error": str(exc)})
            return web.Response(status=400, text="bad body\n")
        channel = self._line[name]
        for event in events:
            technician = self.directory.by_line.get(event.user_id)
            result, press = await self._press("line", technician, event.data,
                                              f"line:{event.event_id}")
            self._count("line", result)
            if result is Result.REPLAYED or not event.reply_token:
                continue
            text = reply_text(result, press, technician.name if technician else "")
            self._replies.put_nowait(self._line_reply(channel, event.reply_token, text))
        return web.Response(text="ok\n")

    def _line_reply(self, channel: LineChannel, token: str, text: str) -> Reply:
        async def send() -> None:
            await self._post(channel.base_url.rstrip("/") + line.REPLY_PATH,
                             line.reply_body(token, text),
                             {"Authorization": f"Bearer {channel.token.get_secret_value()}"},
                             channel.timeout, "line reply")

        return send

    # -- Telegram --------------------------------------------------------------------------

    @accepts_body(MAX_BODY)
    async def _telegram_hook(self, request: web.Request) -> web.Response:
        if (busy := self._not_ready()) is not None:
            return busy
        header = request.headers.get(telegram.SECRET_HEADER, "")
        name = next((n for n, c in self._telegram.items() if c.updates == "webhook"
                     and c.secret_token is not None
                     and _same(c.secret_token.get_secret_value(), header)), None)
        if name is None:
            self._rejected("telegram", request.remote or "?",
                           "bad X-Telegram-Bot-Api-Secret-Token")
            return web.Response(status=401, text="bad secret token\n")
        body = await self._body(request)
        if body is None:
            return web.Response(status=413, text="too large\n")
        try:
            await self._telegram_update(name, json.loads(body))
        except ValueError as exc:
            self._count("telegram", Result.BAD_REQUEST)
            log.warning("Telegram update not understood", extra={"error": str(exc)})
            return web.Response(status=400, text="bad body\n")
        return web.Response(text="ok\n")

    async def _telegram_update(self, name: str, update: object) -> None:
        """Apply one update (webhook or polling). Raises ValueError for a malformed one."""
        press = telegram.callback(update)
        if press is None:
            return
        technician = self.directory.by_telegram.get(press.user_id)
        result, what = await self._press("telegram", technician, press.data,
                                         f"telegram:{name}:{press.update_id}")
        self._count("telegram", result)
        if result is Result.REPLAYED:
            return
        text = reply_text(result, what, technician.name if technician else "")
        self._replies.put_nowait(self._telegram_reply(self._telegram[name], press, text))

    def _telegram_reply(self, channel: TelegramChannel, press: telegram.Callback,
                        text: str) -> Reply:
        async def send() -> None:
            base = f"{channel.base_url.rstrip('/')}/bot{channel.token.get_secret_value()}"
            await self._post(f"{base}/answerCallbackQuery", json.dumps(
                {"callback_query_id": press.query_id, "text": text[:200]},
                ensure_ascii=False).encode("utf-8"), {}, channel.timeout, "telegram answer")
            await self._post(f"{base}/sendMessage", json.dumps(
                {"chat_id": press.chat_id, "text": text}, ensure_ascii=False).encode("utf-8"),
                {}, channel.timeout, "telegram reply")

        return send

    async def _poll(self, name: str, channel: TelegramChannel) -> None:
        """Long polling ``getUpdates``; capped back-off with jitter while it fails."""
        offset = 0
        failures = 0
        outage = FailureLog(log, "telegram polling failing, will retry",
                            "telegram polling recovered", channel=name)
        base = f"{channel.base_url.rstrip('/')}/bot{channel.token.get_secret_value()}"
        while True:
            body = json.dumps({"offset": offset, "timeout": int(channel.poll_timeout),
                               "allowed_updates": ["callback_query"]}).encode("utf-8")
            try:
                answer = await self._post(f"{base}/getUpdates", body, {},
                                          channel.poll_timeout + channel.timeout,
                                          "telegram getUpdates")
                found = telegram.updates(answer)
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                failures += 1
                outage.failed(error=type(exc).__name__)
                await asyncio.sleep(backoff(failures, initial=1.0, cap=60.0,
                                            jitter=random.random()))
                continue
            if outage.worked():
                failures = 0
            for update in found:
                if isinstance(update, dict) and isinstance(update.get("update_id"), int):
                    offset = max(offset, int(update["update_id"]) + 1)
                try:
                    await self._telegram_update(name, update)
                except ValueError as exc:
                    self._count("telegram", Result.BAD_REQUEST)
                    log.warning("Telegram update not understood", extra={"error": str(exc)})


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


__all__ = ["ChatHooks"]
