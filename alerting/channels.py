"""Channels: how one outbox message reaches a webhook, MQTT, e-mail, LINE or Telegram.

Each sender's :meth:`send` begins at once, and its result is ready when the far end has
*accepted* the message (HTTP 2xx, MQTT PUBACK, SMTP 250) or raises :class:`DeliveryError`;
the delivery worker retries with back-off, and waits at least as long as the far end asked
(HTTP 429 or 503 with ``Retry-After``, Telegram's ``retry_after``): LINE and Telegram
throttle bots that push too fast, and hammering them during an outage storm only prolongs
it. Error texts name the channel and the status, never a token, password or a URL that
carries one (Telegram puts the token in the path).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import ssl
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parsedate_to_datetime
from typing import Any, Generic, Protocol, TypeVar

import aiomqtt
import aiosmtplib

from alerting.chat.line import push_message
from alerting.chat.telegram import reply_markup
from alerting.model import Outgoing
from pubnet.config import (
    AlertChannel,
    EmailChannel,
    LineChannel,
    MqttChannel,
    MqttConfig,
    TelegramChannel,
    WebhookChannel,
)
from pubnet.threadpost import ThreadPoster

SIGNATURE_HEADER = "X-Pubnet-Signature"
DELIVERY_HEADER = "X-Pubnet-Delivery"
LINE_TEXT_LIMIT = 5000
TELEGRAM_TEXT_LIMIT = 4096
MAX_RETRY_AFTER = 3600.0
"""The longest wait a far end's Retry-After is believed for (a bogus value must not park a
channel for days)."""


class DeliveryError(Exception):
    """The channel did not accept the message; the text is safe to log.

    ``retry_after`` is how long the far end asked us to wait before trying again, if it said.
    """

    def __init__(self, text: str, retry_after: float | None = None) -> None:
        super().__init__(text)
        self.retry_after = retry_after


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` (delay-seconds or an HTTP date), capped
    at :data:`MAX_RETRY_AFTER`; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class Sender(Protocol):
    name: str

    def send(self, message: Outgoing) -> Awaitable[None]:
        """Begin delivering now; awaiting the result returns once the far end accepted, or
        raises :class:`DeliveryError`. (An ``async def send`` fits: it begins when
        awaited.)"""

    async def aclose(self) -> None:
        """Release connections."""


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Pubnet-Signature`` value: ``sha256=<hex HMAC-SHA256 of body>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """Constant-time check of a received signature (for receivers and tests)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def _message_text(message: Outgoing) -> str:
    data = json.loads(message.payload)
    return str(data.get("message", ""))


def _subject(message: Outgoing) -> str:
    text = _message_text(message)
    return text.splitlines()[0] if text else message.delivery_key


ChannelT = TypeVar("ChannelT", bound=WebhookChannel | LineChannel | TelegramChannel)


@dataclass(frozen=True, slots=True)
class Request:
    """One POST of an HTTP sender, built on the loop and made in the sender's thread."""

    url: str
    body: bytes
    headers: dict[str, str]


class _HttpSender(ABC, Generic[ChannelT]):
    """A sender that POSTs to an HTTP API from a worker thread of its own
    (:mod:`pubnet.threadpost`). :meth:`send` hands the request to the thread at once, and
    the thread judges the answer too: on a saturated loop the POST leaves in the turn the
    message was queued, whatever the loop does next."""

    kind = ""
    """How errors name the channel's type: ``webhook``, ``line``, ``telegram``."""

    def __init__(self, name: str, config: ChannelT) -> None:
        self.name = name
        self.config = config
        self._poster = ThreadPoster(config.timeout, f"alerts-{name}")

    def send(self, message: Outgoing) -> asyncio.Future[None]:
        return self._poster.in_thread(self._deliver, self.request(message))

    @abstractmethod
    def request(self, message: Outgoing) -> Request:
        """The POST that carries ``message`` (on the loop: no I/O)."""

    def accept(self, status: int, body: bytes, wait: float | None) -> None:
        """Raise :class:`DeliveryError` unless the answer means accepted (in the thread);
        ``wait`` is the answer's Retry-After."""
        if not 200 <= status < 300:
            raise DeliveryError(f"{self.kind} {self.name}: HTTP {status}", wait)

    def _deliver(self, request: Request) -> None:
        try:
            reply = self._poster.exchange(request.url, request.body, request.headers)
        except TimeoutError:
            raise DeliveryError(f"{self.kind} {self.name}: timed out after "
                                f"{self.config.timeout:g}s") from None
        except (OSError, http.client.HTTPException) as exc:
            raise DeliveryError(f"{self.kind} {self.name}: {type(exc).__name__}") from None
        self.accept(reply.status, reply.body,
                    retry_after(reply.headers.get("retry-after"), time.time()))

    async def aclose(self) -> None:
        await self._poster.aclose()


class WebhookSender(_HttpSender[WebhookChannel]):
    """POSTs the payload JSON, signed with HMAC-SHA256, with an idempotency key."""

    kind = "webhook"

    def request(self, message: Outgoing) -> Request:
        body = message.payload.encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8",
                   DELIVERY_HEADER: message.delivery_key}
        if self.config.secret is not None:
            headers[SIGNATURE_HEADER] = sign(
                self.config.secret.get_secret_value().encode("utf-8"), body)
        return Request(self.config.url, body, headers)


class LineSender(_HttpSender[LineChannel]):
    """LINE Messaging API push message; ``X-Line-Retry-Key`` makes retries idempotent. A
    firing message carries the quick-reply buttons (:mod:`alerting.chat.line`)."""

    kind = "line"

    def request(self, message: Outgoing) -> Request:
        payload = json.loads(message.payload)
        text = str(payload.get("message", ""))[:LINE_TEXT_LIMIT]
        body = json.dumps({"to": self.config.to, "messages": [push_message(text, payload)]},
                          ensure_ascii=False).encode("utf-8")
        retry_key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"pubnet:{message.delivery_key}"))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"Bearer {self.config.token.get_secret_value()}",
            "X-Line-Retry-Key": retry_key,
        }
        return Request(self.config.base_url.rstrip("/") + "/v2/bot/message/push", body,
                       headers)

    def accept(self, status: int, body: bytes, wait: float | None) -> None:
        # 409: a request with this retry key was already accepted -- delivered.
        if status != 409:
            super().accept(status, body, wait)


class TelegramSender(_HttpSender[TelegramChannel]):
    """Telegram Bot API ``sendMessage``; the token is in the URL, so the URL is never logged."""

    kind = "telegram"

    def request(self, message: Outgoing) -> Request:
        payload = json.loads(message.payload)
        text = str(payload.get("message", ""))[:TELEGRAM_TEXT_LIMIT]
        request: dict[str, Any] = {"chat_id": self.config.chat_id, "text": text,
                                   "disable_web_page_preview": True}
        if (markup := reply_markup(payload)) is not None:
            request["reply_markup"] = markup  # the buttons a technician answers with
        body = json.dumps(request, ensure_ascii=False).encode("utf-8")
        url = (f"{self.config.base_url.rstrip('/')}/bot"
               f"{self.config.token.get_secret_value()}/sendMessage")
        return Request(url, body, {"Content-Type": "application/json; charset=utf-8"})

    def accept(self, status: int, body: bytes, wait: float | None) -> None:
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        if not 200 <= status < 300:
            # A flood-wait names its delay in the body: {"parameters": {"retry_after": 7}}.
            parameters = answer.get("parameters")
            if isinstance(parameters, dict) and isinstance(parameters.get("retry_after"), int):
                wait = min(float(parameters["retry_after"]), MAX_RETRY_AFTER)
            raise DeliveryError(f"telegram {self.name}: HTTP {status}", wait)
        if answer.get("ok") is not True:
            raise DeliveryError(f"telegram {self.name}: response without ok=true")


class EmailSender:
    """SMTP submission with STARTTLS (``smtp.starttls``, on by default)."""

    def __init__(self, name: str, config: EmailChannel) -> None:
        self.name = name
        self.config = config

    def _tls_context(self) -> ssl.SSLContext:
        ca = self.config.smtp.ca_file
        return ssl.create_default_context(cafile=str(ca) if ca is not None else None)

    def send(self, message: Outgoing) -> asyncio.Future[None]:
        return asyncio.ensure_future(self._send(message))

    async def _send(self, message: Outgoing) -> None:
        smtp = self.config.smtp
        mail = EmailMessage()
        mail["From"] = self.config.sender
        mail["To"] = ", ".join(self.config.to)
        mail["Subject"] = _subject(message)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = make_msgid(idstring=message.delivery_key.replace(":", "."),
                                        domain="pubnet")
        mail[DELIVERY_HEADER] = message.delivery_key
        mail.set_content(_message_text(message), charset="utf-8")
        try:
            await aiosmtplib.send(
                mail,
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password.get_secret_value() if smtp.password else None,
                start_tls=smtp.starttls,
                use_tls=False,
                tls_context=self._tls_context() if smtp.starttls else None,
                timeout=smtp.timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"email {self.name}: SMTP {exc.code}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"email {self.name}: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        return None


class MqttSender:
    """Publishes the payload JSON at QoS 1 to ``pubnet/v1/alerts/{province}/{district}``.

    Keeps one connection to the broker of the ``mqtt:`` section and reconnects on the next
    message after a failure; ``publish`` returns once the broker acknowledged (PUBACK).
    """

    def __init__(self, name: str, config: MqttChannel, broker: MqttConfig) -> None:
        self.name = name
        self.config = config
        self.broker = broker
        self._stack: AsyncExitStack | None = None
        self._client: aiomqtt.Client | None = None

    def topic(self, message: Outgoing) -> str:
        province, district = message.topic_hint
        return self.config.topic.format(province_code=province or "unknown",
                                        district_code=district or "unknown")

    def _client_args(self) -> dict[str, Any]:
        b = self.broker
        args: dict[str, Any] = {
            "hostname": b.host,
            "port": b.port,
            "identifier": f"{b.client_id}-alerts-{self.name}"[:128],
            "keepalive": int(b.keepalive),
            "timeout": self.config.timeout,
            "protocol": aiomqtt.ProtocolVersion.V5 if b.mqtt_version == "5"
            else aiomqtt.ProtocolVersion.V311,
        }
        if b.username:
            args["username"] = b.username
            args["password"] = b.password.get_secret_value() if b.password else None
        if b.tls:
            context = ssl.create_default_context(
                cafile=str(b.ca_file) if b.ca_file is not None else None)
            if b.cert_file is not None and b.key_file is not None:
                context.load_cert_chain(str(b.cert_file), str(b.key_file))
            args["tls_context"] = context
        return args

    async def _connect(self) -> aiomqtt.Client:
        if self._client is not None:
            return self._client
        stack = AsyncExitStack()
        try:
            client = await stack.enter_async_context(aiomqtt.Client(**self._client_args()))
        except BaseException:
            await stack.aclose()
            raise
        self._stack, self._client = stack, client
        return client

    def send(self, message: Outgoing) -> asyncio.Future[None]:
        return asyncio.ensure_future(self._send(message))

    async def _send(self, message: Outgoing) -> None:
        try:
            client = await self._connect()
            await client.publish(self.topic(message), message.payload.encode("utf-8"),
                                 qos=self.config.qos, timeout=self.config.timeout)
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            await self.aclose()
            raise DeliveryError(f"mqtt {self.name}: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        stack, self._stack, client, self._client = self._stack, None, self._client, None
        if stack is not None:
            try:
                await stack.aclose()
            except (aiomqtt.MqttError, OSError, TimeoutError):
                pass
        if client is not None:
            _forget_lost_connection(client)


def _forget_lost_connection(client: aiomqtt.Client) -> None:
    """Read a lost connection's error that nothing else will read.

    aiomqtt records a connection lost while idle in a future that only the next publish
    reads; closed before that (pubnet stopping after a broker restart), asyncio would log
    the error with its traceback as "never retrieved". The sender has already counted the
    failure, or will never send again."""
    lost = client._disconnected
    if lost.done() and not lost.cancelled():
        lost.exception()


def build_sender(name: str, config: AlertChannel, broker: MqttConfig) -> Sender:
    if isinstance(config, WebhookChannel):
        return WebhookSender(name, config)
    if isinstance(config, LineChannel):
        return LineSender(name, config)
    if isinstance(config, TelegramChannel):
        return TelegramSender(name, config)
    if isinstance(config, EmailChannel):
        return EmailSender(name, config)
    return MqttSender(name, config, broker)


def build_senders(channels: Mapping[str, AlertChannel], broker: MqttConfig
                  ) -> dict[str, Sender]:
    """One sender per configured (and per technician) channel, by channel name."""
    return {name: build_sender(name, channel, broker)
            for name, channel in channels.items()}
