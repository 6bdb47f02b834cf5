"""Acknowledge from LINE and Telegram, end to end: ``pubnet run`` watches the fleet
simulator, pushes the incident with buttons to LINE- and Telegram-shaped stand-ins, and the
test presses them by posting the webhooks those apps would send to pubnet's listener."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from alerting.db import IncidentDB
from inventory.writer import write_inventory
from pubnet.config import parse_config
from simulator import Fleet, plan_addresses, simulated_inventory
from tests.alerting.builders import district_inventory
from tests.alerting.chatapps import (
    LINE_SECRET,
    LINE_TOKEN,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    LineStandIn,
    TelegramStandIn,
    line_postback,
    line_signature,
    serving,
    telegram_callback,
)
from tests.simulator.conftest import loopback_plan
from tests.support import eventually, free_port, start_pubnet, stop_pubnet

pytestmark = pytest.mark.integration

SOMCHAI = "U" + "a" * 32
MALEE_TELEGRAM = 735291
STRANGER = "U" + "f" * 32

TECHNICIANS = (
    "technician_id,name,phone,email,line_user_id,telegram_user_id,provinces,districts\n"
    f"tech-a,สมชาย ใจดี,0810000001,,{SOMCHAI},,50,5002\n"
    f"tech-b,มาลี ศรีสุข,0810000002,,,{MALEE_TELEGRAM},50,\n"
)

CONFIG = """\
inventory: inv
credentials:
  c: {{version: 2c, community: village-ro}}
snmp: {{interval: 500ms, timeout: 300ms, retries: 0}}
prometheus: {{listen: "127.0.0.1:{http_port}"}}
history: null
alerting:
  database: pubnet.db
  down_after: 2
  tick: 100ms
  group_wait: 500ms
  technicians: technicians.csv
  line_webhook: true
  routes:
    - {{match: {{}}, channels: [line-bot, tg-bot]}}
  channels:
    line-bot: {{type: line, token: {line_token}, to: Cgroup0001, base_url: "{line}",
               channel_secret: {line_secret}}}
    tg-bot: {{type: telegram, token: "{tg_token}", chat_id: "-100200", base_url: "{tg}",
             updates: webhook, secret_token: {tg_secret}}}
"""


@pytest.fixture
async def apps() -> AsyncIterator[tuple[LineStandIn, TelegramStandIn]]:
    line, telegram = LineStandIn(port=free_port()), TelegramStandIn(port=free_port())
    async with serving(line.handle, line.port), serving(telegram.handle, telegram.port):
        yield line, telegram


async def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, data=body,
                                                          headers=headers) as response:
        return response.status


def acks(database: Path, incident_id: str) -> list[tuple[str, str | None, str]]:
    with IncidentDB(database) as db:
        return [(a.by, a.note, a.channel) for a in db.acks(incident_id)]


async def test_press_in_line_and_telegram_acknowledges_through_pubnet_run(
    tmp_path: Path, apps: tuple[LineStandIn, TelegramStandIn],
) -> None:
    line, telegram = apps
    base = district_inventory()
    plan = loopback_plan()
    write_inventory(simulated_inventory(base, plan_addresses(base, plan)), tmp_path / "inv")
    (tmp_path / "technicians.csv").write_text(TECHNICIANS, encoding="utf-8")
    http_port = free_port()
    text = CONFIG.format(http_port=http_port, line=line.base, tg=telegram.base,
                         line_token=LINE_TOKEN, line_secret=LINE_SECRET,
                         tg_token=TELEGRAM_TOKEN, tg_secret=TELEGRAM_SECRET)
    (tmp_path / "pubnet.yaml").write_text(text, encoding="utf-8")
    credentials = parse_config({"credentials": {"c": {"version": "2c",
                                                      "community": "village-ro"}}}).credentials
    hook = f"http://127.0.0.1:{http_port}/hooks"
    database = tmp_path / "pubnet.db"
    async with Fleet.from_inventory(base, plan, credentials=credentials) as fleet:
        proc = start_pubnet(tmp_path)
        try:
            await run_scenario(fleet, line, telegram, hook, database, tmp_path)
        finally:
            await stop_pubnet(proc)
    log = (tmp_path / "pubnet.log").read_text(encoding="utf-8")
    assert LINE_SECRET not in log and TELEGRAM_SECRET not in log and LINE_TOKEN not in log
    assert log.count("chat webhook refused") == 2, "logged once per source and channel"


async def run_scenario(fleet: Fleet, line: LineStandIn, telegram: TelegramStandIn, hook: str,
                       database: Path, folder: Path) -> None:
    fleet.silence("S-4-gw")  # district 5002: one site gateway
    await eventually(lambda: line.pushes and telegram.sent, within=60,
                     what="the incident pushed to LINE and Telegram")
    push = line.pushes[0]
    message = push["messages"][0]
    incident_id = json.loads(json.dumps(message))["quickReply"]["items"][0]["action"][
        "data"].split("incident=")[1]
    assert push["to"] == "Cgroup0001"
    assert [i["action"]["data"] for i in message["quickReply"]["items"]] == [
        f"action={a}&incident={incident_id}" for a in ("ack", "enroute", "fixed")]
    assert [i["action"]["label"] for i in message["quickReply"]["items"]] == [
        "รับเรื่อง", "กำลังเดินทาง", "แก้ไขแล้วที่หน้างาน"]
    keyboard = telegram.sent[0]["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == [
        f"action={a}&incident={incident_id}" for a in ("ack", "enroute", "fixed")]

    # a forged press: 401, nothing applied, nothing replied
    body = line_postback("01HXEVENT0001", SOMCHAI, f"action=ack&incident={incident_id}", "rt-1")
    assert await post(f"{hook}/line", body, {"X-Line-Signature": line_signature(
        body, "wrong-secret")}) == 401
    assert await post(f"{hook}/line", body, {}) == 401
    await asyncio.sleep(0.3)
    assert acks(database, incident_id) == [] and line.replies == []

    # Somchai presses "On my way" in LINE
    body = line_postback("01HXEVENT0002", SOMCHAI, f"action=enroute&incident={incident_id}",
                         "reply-token-2")
    headers = {"X-Line-Signature": line_signature(body), "Content-Type": "application/json"}
    assert await post(f"{hook}/line", body, headers) == 200
    assert acks(database, incident_id) == [("tech-a", "enroute", "line")]
    await eventually(lambda: len(line.replies) == 1, what="the LINE reply")
    reply = line.replies[0]
    assert reply["replyToken"] == "reply-token-2"
    assert "สมชาย ใจดี กำลังเดินทางไป" in reply["messages"][0]["text"]
    assert "on the way to " + incident_id in reply["messages"][0]["text"]

    # LINE redelivers the same event: applied once, no second reply
    assert await post(f"{hook}/line", body, headers) == 200
    await asyncio.sleep(0.3)
    assert acks(database, incident_id) == [("tech-a", "enroute", "line")]
    assert len(line.replies) == 1

    # someone not in technicians.csv: a polite refusal, no action
    body = line_postback("01HXEVENT0003", STRANGER, f"action=ack&incident={incident_id}",
                         "reply-token-3")
    assert await post(f"{hook}/line", body, {"X-Line-Signature": line_signature(body)}) == 200
    await eventually(lambda: len(line.replies) == 2, what="the refusal")
    assert "not in pubnet's technician directory" in line.replies[1]["messages"][0]["text"]
    assert len(acks(database, incident_id)) == 1

    # Malee presses "Fixed on site" in Telegram
    update = json.dumps(telegram_callback(9001, MALEE_TELEGRAM,
                                          f"action=fixed&incident={incident_id}")).encode()
    assert await post(f"{hook}/telegram", update,
                      {"X-Telegram-Bot-Api-Secret-Token": "guess"}) == 401
    assert await post(f"{hook}/telegram", update,
                      {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}) == 200
    assert await post(f"{hook}/telegram", update,
                      {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}) == 200
    assert acks(database, incident_id) == [("tech-a", "enroute", "line"),
                                           ("tech-b", "fixed", "telegram")]
    await eventually(lambda: len(telegram.answers) == 1 and len(telegram.sent) >= 2,
                     what="the Telegram answer and reply")
    assert telegram.answers[0]["callback_query_id"] == "cq-9001"
    assert "แก้ไขแล้วที่หน้างาน โดย มาลี ศรีสุข" in telegram.sent[-1]["text"]
    assert telegram.sent[-1]["chat_id"] == "-100200"

    # the status page shows who took it and what they said
    async def on_the_page() -> dict[str, Any] | None:
        async with aiohttp.ClientSession() as http, http.get(
                hook.replace("/hooks", "/api/v1/status")) as response:
            status = await response.json()
        return next((i for i in status["incidents"] if i["incident_id"] == incident_id), None)

    shown: list[dict[str, Any] | None] = [None]

    async def page_shows_malee() -> bool:
        shown[0] = await on_the_page()
        return shown[0] is not None and shown[0]["acknowledged_by"] == "tech-b"

    for _ in range(100):
        if await page_shows_malee():
            break
        await asyncio.sleep(0.1)
    assert shown[0] is not None and shown[0]["status"] == "acknowledged"
    assert (shown[0]["acknowledged_by"], shown[0]["ack_note"], shown[0]["ack_channel"]) == (
        "tech-b", "fixed", "telegram")
    assert shown[0]["acknowledged_at"]

    # pubnet alerts list shows who, what, when and from where
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pubnet.cli", "alerts", "list", "--config",
        str(folder / "pubnet.yaml"), "--format", "json", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    listed: list[dict[str, Any]] = json.loads(out)
    row = next(r for r in listed if r["incident_id"] == incident_id)
    assert row["acknowledged_by"] == "tech-b" and row["ack_note"] == "fixed"
    assert [(a["by"], a["note"], a["channel"]) for a in row["acks"]] == [
        ("tech-a", "enroute", "line"), ("tech-b", "fixed", "telegram")]
    assert all(a["at"] for a in row["acks"])

    # the site answers again: the incident resolves; a late press says so
    fleet.heal("S-4-gw")

    def resolved() -> bool:
        with IncidentDB(database) as db:
            found = db.get(incident_id)
        return found is not None and found.incident.state.value == "resolved"

    await eventually(resolved, within=30, what="the incident resolved")
    body = line_postback("01HXEVENT0004", SOMCHAI, f"action=ack&incident={incident_id}",
                         "reply-token-4")
    assert await post(f"{hook}/line", body, {"X-Line-Signature": line_signature(body)}) == 200
    await eventually(lambda: len(line.replies) == 3, what="the reply to a late press")
    assert f"{incident_id} is already resolved" in line.replies[2]["messages"][0]["text"]
    body = line_postback("01HXEVENT0005", SOMCHAI, "action=ack&incident=INC-999", "rt-5")
    assert await post(f"{hook}/line", body, {"X-Line-Signature": line_signature(body)}) == 200
    await eventually(lambda: len(line.replies) == 4, what="the reply to an unknown incident")
    assert "No incident INC-999" in line.replies[3]["messages"][0]["text"]
    assert len(acks(database, incident_id)) == 2
