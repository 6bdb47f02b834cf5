"""Chat buttons: the data they carry, LINE's signature, Telegram long polling, and the
webhooks served outside basic auth but inside the listener's body limits."""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerting.chat.actions import Action, Press, Result, button_data, parse_data
from alerting.chat.hooks import ChatHooks
from alerting.chat.line import verified_channel
from alerting.db import IncidentDB, IncidentFacts
from alerting.directory import load_technicians
from alerting.model import Incident, Kind, Severity, State
from pubnet.config import parse_config
from pubnet.state import StateStore
from tests.alerting.chatapps import (
    LINE_SECRET,
    TELEGRAM_TOKEN,
    TelegramStandIn,
    line_signature,
    serving,
    telegram_callback,
)
from tests.support import eventually, free_port


@given(st.sampled_from(list(Action)), st.from_regex(r"INC-[0-9]{1,9}", fullmatch=True))
def test_button_data_round_trips_and_fits_telegram(action: Action, incident: str) -> None:
    data = button_data(action, incident)
    assert len(data.encode()) <= 64  # Telegram's callback_data limit
    assert parse_data(data) == Press(action, incident)


@pytest.mark.parametrize("data", [
    "", "action=ack", "incident=INC-1", "action=reboot&incident=INC-1",
    "action=ack&action=fixed&incident=INC-1", "action=ack&incident=", "garbage",
], ids=["empty", "no-incident", "no-action", "unknown-action", "two-actions", "blank-id",
        "garbage"])
def test_other_data_is_not_a_press(data: str) -> None:
    assert parse_data(data) is None


def test_line_signature_checked_against_each_channel_secret() -> None:
    body = b'{"events":[]}'
    secrets = {"north": b"other-secret", "south": LINE_SECRET.encode()}
    assert verified_channel(secrets, body, line_signature(body)) == "south"
    assert verified_channel(secrets, body + b" ", line_signature(body)) is None
    assert verified_channel(secrets, body, None) is None
    assert verified_channel(secrets, body, "") is None


async def test_telegram_long_polling_applies_a_press_once(tmp_path: Path) -> None:
    telegram = TelegramStandIn(port=free_port())
    (tmp_path / "technicians.csv").write_text(
        "technician_id,name,telegram_user_id,provinces\ntech-b,มาลี,735291,50\n",
        encoding="utf-8")
    config = parse_config({"prometheus": None, "alerting": {
        "database": "pubnet.db", "technicians": "technicians.csv",
        "channels": {"tg": {"type": "telegram", "token": TELEGRAM_TOKEN, "chat_id": "-1",
                            "base_url": telegram.base, "updates": "polling",
                            "poll_timeout": "1s"}}}}, base_dir=tmp_path)
    assert config.alerting is not None
    with IncidentDB(config.alerting.database) as db:
        incident = Incident("INC-7", Kind.DEVICE_DOWN, Severity.MINOR, "device:S-4-gw", 1.0,
                            1.0, State.FIRING, announced_at=1.0)
        db.save([(incident, IncidentFacts("50", "5002", "S-4"))], [], [], 1.0)
    store = StateStore()
    hooks = ChatHooks(config.alerting, load_technicians(tmp_path / "technicians.csv"), store)
    assert hooks.routes() == []  # polling needs no route
    async with serving(telegram.handle, telegram.port):
        task = asyncio.create_task(hooks.run())
        try:
            await asyncio.wait_for(hooks.ready.wait(), 10)
            press = telegram_callback(501, 735291, "action=ack&incident=INC-7")
            telegram.queue(press)
            telegram.queue(press)  # the same update twice (a retried getUpdates)
            await eventually(lambda: telegram.answers, what="the callback answered")
            await eventually(lambda: telegram.polls >= 3, what="polling moved past it")
            # someone not in technicians.csv presses too: refused in the chat, no action
            telegram.queue(telegram_callback(502, 999999, "action=fixed&incident=INC-7"))
            await eventually(lambda: len(telegram.answers) == 2, what="the refusal")
            await asyncio.sleep(0.2)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    with IncidentDB(config.alerting.database) as db:
        assert [(a.by, a.note, a.channel) for a in db.acks("INC-7")] == [
            ("tech-b", "ack", "telegram")]
    assert len(telegram.answers) == 2
    assert "รับเรื่อง INC-7 แล้ว โดย มาลี" in telegram.sent[0]["text"]
    assert "not in pubnet's technician directory" in telegram.sent[1]["text"]
    assert hooks.counts == {("telegram", Result.APPLIED): 1, ("telegram", Result.REPLAYED): 1,
                            ("telegram", Result.UNKNOWN_USER): 1}


async def test_webhooks_bypass_basic_auth_but_not_the_body_limit(tmp_path: Path) -> None:
    from aiohttp import web

    from alerting.chat.hooks import MAX_BODY
    from pubnet.app.web import WebServer, limits_for
    from pubnet.fdbudget import FdBudget
    from pubnet.httpbody import accepts_body

    port = free_port()
    config = parse_config({"prometheus": {
        "listen": f"127.0.0.1:{port}",
        "basic_auth_users": {"noc": bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()},
    }}).prometheus
    assert config is not None
    seen: list[bytes] = []

    @accepts_body(MAX_BODY)  # as the chat hooks mark theirs
    async def hook(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(text="ok")

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(text="metrics")

    budget = FdBudget(limit=1024, reserved=0, listener=100, poller=100)
    server = WebServer(config, limits_for(config, budget),
                       [web.get("/metrics", metrics)], lambda: [],
                       signed=[web.post("/hooks/line", hook)])
    task = asyncio.create_task(server.run())
    try:
        await asyncio.wait_for(server.ready.wait(), 10)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/metrics") as r:
                assert r.status == 401  # the contributed route stays behind basic auth
            async with http.post(f"{base}/hooks/line", data=b'{"events":[]}') as r:
                assert r.status == 200
            async with http.post(f"{base}/metrics", data=b"x") as r:
                assert r.status in (401, 405, 413)
            async with http.post(f"{base}/hooks/line", data=io.BytesIO(b"x" * (MAX_BODY + 1))) as r:
                assert r.status == 413
        assert seen == [b'{"events":[]}']
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
