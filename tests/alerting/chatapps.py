"""LINE- and Telegram-shaped local HTTP servers: the real APIs cannot be reached from tests.

Each records what pubnet sent it (pushes, replies, callback answers) and checks the bot's
credentials the way the real API would (a Bearer token for LINE, the token in the path for
Telegram). The Telegram stand-in also serves ``getUpdates`` from a queue, holding the
request open up to its ``timeout`` like the real long poll.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from testbed.http import serving as serve_app

LINE_TOKEN = "line-channel-access-token"
LINE_SECRET = "line-channel-secret-7c1d"
TELEGRAM_TOKEN = "123456:telegram-bot-token"
TELEGRAM_SECRET = "telegram-secret-token-55"


def line_signature(body: bytes, secret: str = LINE_SECRET) -> str:
    """What LINE puts in ``X-Line-Signature``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def line_postback(event_id: str, user_id: str, data: str, reply_token: str) -> bytes:
    """A webhook body with one postback event, as LINE sends it."""
    return json.dumps({"destination": "Ubot", "events": [{
        "type": "postback", "mode": "active", "timestamp": 1_765_000_000_000,
        "webhookEventId": event_id, "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user_id}, "replyToken": reply_token,
        "postback": {"data": data}}]}).encode()


def telegram_callback(update_id: int, user_id: int, data: str) -> dict[str, Any]:
    """An update with one callback query, as Telegram sends it."""
    return {"update_id": update_id, "callback_query": {
        "id": f"cq-{update_id}", "from": {"id": user_id, "is_bot": False, "first_name": "X"},
        "message": {"message_id": 7, "chat": {"id": -100200, "type": "group"}},
        "chat_instance": "1", "data": data}}


@dataclass
class LineStandIn:
    port: int = 0
    pushes: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    unauthorised: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {LINE_TOKEN}":
            self.unauthorised += 1
            return web.json_response({"message": "Authentication failed"}, status=401)
        body = await request.json()
        if request.path == "/v2/bot/message/push":
            self.pushes.append(body)
        elif request.path == "/v2/bot/message/reply":
            self.replies.append(body)
        else:
            return web.json_response({"message": "Not found"}, status=404)
        return web.json_response({})


@dataclass
class TelegramStandIn:
    port: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    queued: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue(self, update: dict[str, Any]) -> None:
        self.queued.append(update)
        self.arrived.set()

    async def handle(self, request: web.Request) -> web.Response:
        token, _, method = request.match_info["tail"].partition("/")
        if token != f"bot{TELEGRAM_TOKEN}":
            return web.json_response({"ok": False, "error_code": 401}, status=401)
        body = await request.json()
        if method == "sendMessage":
            self.sent.append(body)
            return web.json_response({"ok": True, "result": {"message_id": len(self.sent)}})
        if method == "answerCallbackQuery":
            self.answers.append(body)
            return web.json_response({"ok": True, "result": True})
        if method == "getUpdates":
            self.polls += 1
            offset = int(body.get("offset", 0))
            self.queued = [u for u in self.queued if u["update_id"] >= offset]
            if not self.queued:
                self.arrived.clear()
                try:
                    await asyncio.wait_for(self.arrived.wait(), min(body.get("timeout", 0), 2))
                except TimeoutError:
                    pass
            return web.json_response({"ok": True, "result": list(self.queued)})
        return web.json_response({"ok": False, "error_code": 404}, status=404)


@asynccontextmanager
async def serving(handler: Any, port: int) -> AsyncIterator[None]:
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handler)
    async with serve_app(app, port):
        yield
