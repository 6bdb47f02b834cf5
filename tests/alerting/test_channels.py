"""Delivery to real Mosquitto, an aiosmtpd STARTTLS server and LINE/Telegram stand-ins."""

from __future__ import annotations

import asyncio
import email
import email.policy
import gc
import json
import smtplib
import ssl
import warnings
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from aiohttp import web
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerting.channels import MAX_RETRY_AFTER, MqttSender, build_sender, retry_after
from alerting.model import Outgoing, Status
from testbed.smtp import serve_smtp
from testbed.tls import self_signed
from tests.alerting.builders import fail_rounds, poll_round
from tests.alerting.conftest import HttpReceiver, StartService, alerting_config
from tests.alerting.servers import MailSink, start_mosquitto
from tests.support import eventually, free_port, require_binary, stop_process

LINE_TOKEN = "line-token-7d2c"
TELEGRAM_TOKEN = "123456:tg-token-9b1e"
SMTP_PASSWORD = "smtp-pass-55aa"


def chat_channels(receiver: HttpReceiver, line_token: str = LINE_TOKEN) -> dict[str, Any]:
    """The north's LINE and Telegram channels, pointed at the receiver's stand-ins."""
    return {
        "line-north": {"type": "line", "token": line_token, "to": "Ugroup123",
                       "base_url": receiver.base + "/line"},
        "tg-north": {"type": "telegram", "token": TELEGRAM_TOKEN, "chat_id": -1001234,
                     "base_url": receiver.base + "/tg"},
    }


def on_broker(config: Any, port: int) -> Any:
    """``config`` with its MQTT channel pointed at the broker on ``port``."""
    return config.model_copy(update={"mqtt": config.mqtt.model_validate(
        {"url": f"mqtt://127.0.0.1:{port}"})})


@pytest.fixture
def mosquitto_port(tmp_path: Path) -> Iterator[int]:
    binary = require_binary("mosquitto")
    port = free_port()
    proc = start_mosquitto(binary, tmp_path, port)
    try:
        yield port
    finally:
        stop_process(proc)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, MailSink, Path]]:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    sink = MailSink()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"pubnet"
              and auth_data.password == SMTP_PASSWORD.encode())
        if ok:
            sink.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    port = free_port()
    with serve_smtp(sink, port, tls_context=context, require_starttls=True,
                     authenticator=authenticator, auth_required=True, auth_require_tls=True):
        yield port, sink, cert


@pytest.fixture
async def mqtt_messages(mosquitto_port: int) -> AsyncIterator[list[aiomqtt.Message]]:
    got: list[aiomqtt.Message] = []
    ready = asyncio.Event()

    async def listen() -> None:
        async with aiomqtt.Client("127.0.0.1", mosquitto_port, identifier="alert-test") as c:
            await c.subscribe("pubnet/v1/alerts/#", qos=1)
            ready.set()
            async for message in c.messages:
                got.append(message)

    task = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), timeout=15)
    try:
        yield got
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


async def test_every_channel_type_gets_firing_and_resolved(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
    mosquitto_port: int, mqtt_messages: list[aiomqtt.Message],
    smtp_server: tuple[int, MailSink, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    smtp_port, sink, cert = smtp_server
    monkeypatch.setenv("LINE_TOKEN", LINE_TOKEN)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    config = alerting_config(
        tmp_path,
        routes=[
            {"match": {"district": ["5002"]},
             "channels": ["techs-app", "manager-mail", "line-north", "tg-north"],
             "language": "th"},
        ],
        channels={
            "techs-app": {"type": "mqtt"},
            "manager-mail": {"type": "email", "to": ["manager@example.org"],
                             "from": "pubnet@example.org",
                             "smtp": {"host": "127.0.0.1", "port": smtp_port,
                                      "username": "pubnet", "password": "${SMTP_PASSWORD}",
                                      "ca_file": str(cert)}},
            **chat_channels(receiver, "${LINE_TOKEN}"),
        },
    )
    config = on_broker(config, mosquitto_port)
    run = await start_service(config)
    ts = fail_rounds(run.store, ("S-4-gw",), 9000.0)

    def counts() -> tuple[int, int, int, int]:
        return (len(mqtt_messages), len(sink.messages),
                len(receiver.on("/line/v2/bot/message/push")),
                len(receiver.on(f"/tg/bot{TELEGRAM_TOKEN}/sendMessage")))

    await eventually(lambda: counts() == (1, 1, 1, 1), within=30, what="firing everywhere")
    # MQTT: topic per province/district, the payload is the JSON interface
    message = mqtt_messages[0]
    assert str(message.topic) == "pubnet/v1/alerts/50/5002"
    assert message.qos == 1
    assert isinstance(message.payload, bytes | bytearray)
    payload = json.loads(message.payload)
    assert payload["status"] == "firing" and payload["root_device"] == "S-4-gw"
    assert payload["sites"][0]["village"] == "บ้านทดสอบ หมู่ 4"
    # e-mail went over STARTTLS with login, Thai subject and body intact
    assert sink.tls_seen == [True] and sink.logins == ["pubnet"]
    mail = email.message_from_bytes(sink.messages[0]["content"], policy=email.policy.default)
    assert mail["X-Pubnet-Delivery"] == f"{payload['incident_id']}:firing:1"
    assert "ไซต์ใช้งานไม่ได้" in str(mail["Subject"])
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None and "จอมทอง" in body.get_content()
    # LINE push: bearer token, retry key, text message to the configured target
    line = receiver.on("/line/v2/bot/message/push")[0]
    assert line.headers["Authorization"] == f"Bearer {LINE_TOKEN}"
    assert line.headers["X-Line-Retry-Key"]
    line_body = line.json
    assert line_body["to"] == "Ugroup123"
    assert line_body["messages"][0]["type"] == "text"
    assert payload["incident_id"] in line_body["messages"][0]["text"]
    # Telegram sendMessage with the chat id
    tg = receiver.on(f"/tg/bot{TELEGRAM_TOKEN}/sendMessage")[0].json
    assert tg["chat_id"] == "-1001234" and "แจ้งเหตุ" in tg["text"]

    ts += 1
    poll_round(run.store, ("S-4-gw",), True, ts)
    await eventually(lambda: counts() == (2, 2, 2, 2), within=30, what="resolved everywhere")
    assert json.loads(mqtt_messages[1].payload)["status"] == "resolved"  # type: ignore[arg-type]
    assert "แก้ไขแล้ว" in receiver.on("/line/v2/bot/message/push")[1].json[
        "messages"][0]["text"]


async def test_throttled_line_and_telegram_are_retried_no_sooner_than_asked(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    """LINE answers 429 with Retry-After, Telegram a flood-wait in its JSON body; the
    configured back-off (50 ms) is far shorter, the far end's wish wins."""
    line_path, tg_path = "/line/v2/bot/message/push", f"/tg/bot{TELEGRAM_TOKEN}/sendMessage"
    receiver.fail[line_path] = [web.Response(status=429, headers={"Retry-After": "2"})]
    receiver.fail[tg_path] = [web.json_response(
        {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 2",
         "parameters": {"retry_after": 2}}, status=429)]
    config = alerting_config(
        tmp_path,
        routes=[{"match": {"district": ["5002"]}, "channels": ["line-north", "tg-north"]}],
        channels={
            **chat_channels(receiver),
        },
    )
    run = await start_service(config)
    fail_rounds(run.store, ("S-4-gw",), 9000.0)
    await eventually(lambda: receiver.on(line_path) and receiver.on(tg_path), within=30,
                     what="both delivered after the throttle")
    for path in (line_path, tg_path):
        first, second = [r.at for r in receiver.attempts if r.path == path][:2]
        assert second - first >= 1.9, path


def test_the_smtp_server_stops_cleanly_under_an_open_starttls_session(tmp_path: Path) -> None:
    """A test sees its mail at DATA, before the QUIT: stopping the server then must not
    leave the session's socket for the garbage collector to report in a later test."""
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    port = free_port()
    with serve_smtp(MailSink(), port, tls_context=context, require_starttls=True):
        client = smtplib.SMTP("127.0.0.1", port)
        client.starttls(context=ssl.create_default_context(cafile=str(cert)))
        client.ehlo()
    client.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_retry_after_header_forms() -> None:
    now = 1_800_000_000.0
    assert retry_after("120", now) == 120.0
    assert retry_after(formatdate(now + 30, usegmt=True), now) == pytest.approx(30.0, abs=1)
    assert retry_after(formatdate(now - 30, usegmt=True), now) == 0.0
    assert retry_after("999999", now) == MAX_RETRY_AFTER
    assert retry_after("soon", now) is None and retry_after(None, now) is None


async def test_mqtt_broker_down_then_up_gets_messages_in_order(
    tmp_path: Path, start_service: StartService,
) -> None:
    binary = require_binary("mosquitto")
    port = free_port()
    folder = tmp_path / "broker"
    folder.mkdir()

    async def reader(collect: list[Any] | None, until: int = 0) -> None:
        """A technician's app: persistent session, so messages wait while it is away."""
        async with aiomqtt.Client("127.0.0.1", port, identifier="techs-app",
                                  clean_session=False) as c:
            await c.subscribe("pubnet/v1/alerts/#", qos=1)
            if collect is None:
                return
            async for message in c.messages:
                collect.append(json.loads(message.payload))  # type: ignore[arg-type]
                if len(collect) >= until:
                    return

    proc = start_mosquitto(binary, folder, port, persistence=True)
    await reader(None)
    proc.terminate()
    proc.wait(timeout=10)

    config = alerting_config(tmp_path, routes=[{"match": {}, "channels": ["app"]}],
                             channels={"app": {"type": "mqtt"}})
    config = on_broker(config, port)
    run = await start_service(config)
    ts = 9500.0
    for gateway in ("S-1-gw", "S-3-gw", "S-4-gw"):
        ts = fail_rounds(run.store, (gateway,), ts)
        await eventually(lambda g=gateway: any(  # type: ignore[misc]
            i.root == f"device:{g}" and i.announced_at for i in run.service.incidents()),
            what="announced while the broker is down")
    delivery = run.service.delivery
    assert delivery is not None
    await eventually(lambda: delivery.stats["app"].failures > 0, what="failed attempts")
    assert delivery.stats["app"].delivered == 0

    proc = start_mosquitto(binary, folder, port, persistence=True)
    try:
        await eventually(lambda: delivery.stats["app"].delivered == 3, within=30,
                         what="broker accepted all three")
        got: list[Any] = []
        await asyncio.wait_for(reader(got, until=3), timeout=30)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert [g["root_device"] for g in got] == ["S-1-gw", "S-3-gw", "S-4-gw"]
    assert len({g["incident_id"] for g in got}) == 3


async def test_an_mqtt_channel_closed_after_losing_its_broker_logs_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """pubnet stopping after the broker went away while the channel was idle: nothing
    for asyncio to report as a "Future exception was never retrieved" traceback."""
    binary = require_binary("mosquitto")
    port = free_port()
    proc = start_mosquitto(binary, tmp_path, port)
    config = on_broker(alerting_config(tmp_path, routes=[], channels={"app": {"type": "mqtt"}}),
                       port)
    sender = build_sender("app", config.alerting.channels["app"], config.mqtt)
    assert isinstance(sender, MqttSender)
    try:
        await sender.send(Outgoing("app", "INC-1", Status.FIRING, 1, "{}"))
        client = sender._client
        assert client is not None
    finally:
        stop_process(proc)
    await eventually(client._disconnected.done, what="the client saw the broker go")
    del client
    await sender.aclose()
    gc.collect()
    await asyncio.sleep(0)
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


async def test_merge_update_carries_no_resolved_status_on_any_channel(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
    mosquitto_port: int, mqtt_messages: list[aiomqtt.Message],
    smtp_server: tuple[int, MailSink, Path],
) -> None:
    """A gateway's announced incident is absorbed by its district router's: every channel
    gets an update ("merged into INC-2, still down"), never a resolution."""
    smtp_port, sink, cert = smtp_server
    line_path, tg_path = "/line/v2/bot/message/push", f"/tg/bot{TELEGRAM_TOKEN}/sendMessage"
    config = alerting_config(
        tmp_path,
        routes=[
            {"match": {"district": ["5002"]}, "channels": ["hook"], "language": "en"},
            {"match": {"district": ["5002"]},
             "channels": ["app", "mail", "line-north", "tg-north"], "language": "th"},
        ],
        channels={
            "hook": {"type": "webhook", "url": receiver.base + "/hook"},
            "app": {"type": "mqtt"},
            "mail": {"type": "email", "to": ["manager@example.org"],
                     "from": "pubnet@example.org",
                     "smtp": {"host": "127.0.0.1", "port": smtp_port, "username": "pubnet",
                              "password": SMTP_PASSWORD, "ca_file": str(cert)}},
            **chat_channels(receiver),
        },
    )
    config = on_broker(config, mosquitto_port)
    run = await start_service(config)
    ts = 9000.0
    for devices in (("S-4-gw",), ("da-5002",)):
        ts = fail_rounds(run.store, devices, ts)
        await asyncio.sleep(0.5)

    def counts() -> tuple[int, ...]:
        return (len(receiver.on("/hook")), len(mqtt_messages), len(sink.messages),
                len(receiver.on(line_path)), len(receiver.on(tg_path)))

    await eventually(lambda: counts() == (3, 3, 3, 3, 3), within=30, what="three each")
    hook = [r.json for r in receiver.on("/hook")]
    gateway = hook[0]["incident_id"]
    router = hook[1]["incident_id"]
    update_key = f"{gateway}:firing:2"
    webhook = next(r for r in receiver.on("/hook")
                   if r.headers["X-Pubnet-Delivery"].startswith(f"{gateway}:")
                   and r.headers["X-Pubnet-Delivery"].endswith(":2"))
    assert webhook.headers["X-Pubnet-Delivery"] == update_key
    assert webhook.json["status"] == "firing" and webhook.json["reason"] == "merged"
    assert f"merged into {router}, still down" in webhook.json["message"].splitlines()[0]
    mqtt = [json.loads(m.payload) for m in mqtt_messages]  # type: ignore[arg-type]
    merged = [p for p in mqtt if p["incident_id"] == gateway and p["sequence"] == 2]
    assert [(p["status"], p["merged_into"]) for p in merged] == [("firing", router)]
    mails = [email.message_from_bytes(m["content"], policy=email.policy.default)
             for m in sink.messages]
    subject = next(str(m["Subject"]) for m in mails
                   if str(m["X-Pubnet-Delivery"]).startswith(f"{gateway}:")
                   and str(m["X-Pubnet-Delivery"]).endswith(":2"))
    assert subject.startswith("[อัปเดต]") and router in subject
    texts = [r.json["messages"][0]["text"] for r in receiver.on(line_path)]
    texts += [r.json["text"] for r in receiver.on(tg_path)]
    updates = [t for t in texts if f"รวมเข้ากับเหตุการณ์ {router}" in t]
    assert len(updates) == 2
    for text in [subject, *updates, webhook.json["message"], *(p["message"] for p in merged)]:
        for word in ("RESOLVED", "แก้ไขแล้ว", "กลับมาใช้งานได้", "Restored"):
            assert word not in text
