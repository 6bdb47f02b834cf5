"""LINE Messaging API: quick-reply buttons on pushes, and the webhook's events.

LINE signs every webhook request: ``X-Line-Signature`` is the base64 HMAC-SHA256 of the raw
body with the channel secret. :func:`verified_channel` checks it *before* anything is
parsed, so a forged or truncated request never reaches the JSON reader. Each event carries
a ``webhookEventId`` that stays the same when LINE redelivers it; the hook records it with
the acknowledgement, so a redelivered press is applied once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alerting.chat.actions import LABELS, Action, button_data

SIGNATURE_HEADER = "X-Line-Signature"
REPLY_PATH = "/v2/bot/message/reply"
LABEL_LIMIT = 20
"""LINE's limit on a quick-reply label, in characters."""


def signature(secret: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode("ascii")


def verified_channel(secrets: Mapping[str, bytes], body: bytes,
                     header: str | None) -> str | None:
    """The name of the channel whose secret signed ``body`` (constant-time), or None."""
    if not header:
        return None
    for name, secret in secrets.items():
        if hmac.compare_digest(signature(secret, body), header.strip()):
            return name
    return None


def quick_reply(incident_id: str) -> dict[str, Any]:
    """The three postback buttons under an incident push."""
    items = []
    for action in Action:
        thai, english = LABELS[action]
        items.append({"type": "action", "action": {
            "type": "postback", "label": thai[:LABEL_LIMIT],
            "data": button_data(action, incident_id),
            "displayText": f"{thai} ({english}) {incident_id}"}})
    return {"items": items}


def push_message(text: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """One text message; a firing one (not a merge notice) carries the buttons."""
    message: dict[str, Any] = {"type": "text", "text": text}
    if wants_buttons(payload):
        message["quickReply"] = quick_reply(str(payload["incident_id"]))
    return message


def wants_buttons(payload: Mapping[str, Any]) -> bool:
    return (payload.get("status") == "firing" and payload.get("reason") not in (
        "merged", "digest") and bool(payload.get("incident_id")))


@dataclass(frozen=True, slots=True)
class Postback:
    event_id: str
    user_id: str
    reply_token: str
    data: str


def postbacks(body: bytes) -> list[Postback]:
    """The postback events of a (verified) webhook body; other events are ignored.
    Raises ValueError when the body is not a LINE webhook object."""
    document = json.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise ValueError("not a LINE webhook body: no events list")
    found: list[Postback] = []
    for event in document["events"]:
        if not isinstance(event, dict) or event.get("type") != "postback":
            continue
        source = event.get("source")
        postback = event.get("postback")
        if not isinstance(source, dict) or not isinstance(postback, dict):
            raise ValueError("postback event without source or postback")
        found.append(Postback(str(event.get("webhookEventId", "")),
                              str(source.get("userId", "")),
                              str(event.get("replyToken", "")),
                              str(postback.get("data", ""))))
    return found


def reply_body(reply_token: str, text: str) -> bytes:
    return json.dumps({"replyToken": reply_token,
                       "messages": [{"type": "text", "text": text[:5000]}]},
                      ensure_ascii=False).encode("utf-8")
