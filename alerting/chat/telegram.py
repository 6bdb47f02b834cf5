"""Telegram Bot API: inline keyboards on pushes, and callback queries from presses.

Updates arrive by webhook (``POST /hooks/telegram``, checked against the
``X-Telegram-Bot-Api-Secret-Token`` header Telegram sends when ``setWebhook`` was given a
secret) or, where pubnet has no public URL, by long polling ``getUpdates``
(``updates: polling`` on the channel). An update's ``update_id`` is its identity: a press
delivered twice is applied once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alerting.chat.actions import LABELS, Action, button_data
from alerting.chat.line import wants_buttons

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def inline_keyboard(incident_id: str) -> dict[str, Any]:
    return {"inline_keyboard": [[
        {"text": f"{LABELS[a][0]} ({LABELS[a][1]})", "callback_data": button_data(a, incident_id)}
    ] for a in Action]}


def reply_markup(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    return inline_keyboard(str(payload["incident_id"])) if wants_buttons(payload) else None


@dataclass(frozen=True, slots=True)
class Callback:
    update_id: int
    query_id: str
    user_id: str
    chat_id: str
    data: str


def callback(update: object) -> Callback | None:
    """The callback query of an update, None for other updates. Raises ValueError when
    ``update`` is not an update at all."""
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise ValueError("not a Telegram update: no update_id")
    query = update.get("callback_query")
    if not isinstance(query, dict):
        return None
    sender = query.get("from")
    message = query.get("message")
    chat = message.get("chat") if isinstance(message, dict) else None
    if not isinstance(sender, dict):
        raise ValueError("callback query without from")
    chat_id = chat.get("id") if isinstance(chat, dict) else sender.get("id")
    return Callback(int(update["update_id"]), str(query.get("id", "")),
                    str(sender.get("id", "")), str(chat_id), str(query.get("data", "")))


def updates(body: bytes) -> list[object]:
    """The ``result`` list of a ``getUpdates`` answer. Raises ValueError."""
    answer = json.loads(body)
    if not isinstance(answer, dict) or answer.get("ok") is not True or not isinstance(
            answer.get("result"), list):
        raise ValueError("getUpdates answer without ok=true and a result list")
    return list(answer["result"])
