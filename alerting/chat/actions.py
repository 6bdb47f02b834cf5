"""What a button press means, and the reply the technician reads in the chat.

Both chat apps carry the same data on a button: ``action=ack|enroute|fixed&incident=INC-42``
(a LINE postback's ``data``, a Telegram callback's ``callback_data``, 64 bytes at most).
Every action is recorded as an acknowledgement, as ``pubnet alerts ack --by <technician>``
records one, with the action as the note and the chat app as the channel; so it stops
repeats and escalation and shows in ``pubnet alerts list`` (who, what, when, from where).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs

from alerting.db import IncidentDB


class Action(StrEnum):
    ACK = "ack"
    ENROUTE = "enroute"
    FIXED = "fixed"


LABELS: dict[Action, tuple[str, str]] = {
    Action.ACK: ("รับเรื่อง", "Acknowledge"),
    Action.ENROUTE: ("กำลังเดินทาง", "On my way"),
    Action.FIXED: ("แก้ไขแล้วที่หน้างาน", "Fixed on site"),
}
"""(Thai, English) button labels, Thai first."""


class Result(StrEnum):
    """How a press ended (the ``result`` label of ``pubnet_alert_chat_actions_total``)."""

    APPLIED = "applied"
    REPLAYED = "replayed"
    UNKNOWN_USER = "unknown_user"
    UNKNOWN_INCIDENT = "unknown_incident"
    CLOSED = "closed"
    BAD_SIGNATURE = "bad_signature"
    BAD_REQUEST = "bad_request"


@dataclass(frozen=True, slots=True)
class Press:
    action: Action
    incident_id: str


def button_data(action: Action, incident_id: str) -> str:
    return f"action={action.value}&incident={incident_id}"


def parse_data(data: str) -> Press | None:
    """The press a button's data names, or None for anything else."""
    fields = parse_qs(data, keep_blank_values=False, max_num_fields=4)
    actions = fields.get("action", [])
    incidents = fields.get("incident", [])
    if len(actions) != 1 or len(incidents) != 1:
        return None
    try:
        action = Action(actions[0])
    except ValueError:
        return None
    incident_id = incidents[0].strip()
    if not incident_id or len(incident_id) > 40 or not incident_id.isprintable():
        return None
    return Press(action, incident_id)


def apply(db: IncidentDB, press: Press, technician_id: str, channel: str, event_id: str,
          now: float) -> Result:
    """Record the press once per ``event_id`` (runs on the database's thread)."""
    outcome = db.acknowledge(press.incident_id, technician_id, press.action.value, now,
                             channel=channel, event_id=event_id)
    return {"ok": Result.APPLIED, "replayed": Result.REPLAYED, "closed": Result.CLOSED,
            "unknown": Result.UNKNOWN_INCIDENT}[outcome]


def reply_text(result: Result, press: Press | None, name: str = "") -> str:
    """What the technician reads back, Thai first with English beside."""
    inc = press.incident_id if press is not None else ""
    if result is Result.APPLIED and press is not None:
        if press.action is Action.ACK:
            return f"รับเรื่อง {inc} แล้ว โดย {name}\n{inc} acknowledged by {name}"
        if press.action is Action.ENROUTE:
            return (f"บันทึกแล้ว: {name} กำลังเดินทางไป {inc}\n"
                    f"Noted: {name} is on the way to {inc}")
        return (f"บันทึกแล้ว: {inc} แก้ไขแล้วที่หน้างาน โดย {name} "
                "(เหตุการณ์จะปิดเมื่ออุปกรณ์กลับมาตอบสนอง)\n"
                f"Noted: {inc} fixed on site by {name} (it closes when the devices answer "
                "again)")
    if result is Result.UNKNOWN_INCIDENT:
        return f"ไม่พบเหตุการณ์ {inc}\nNo incident {inc}"
    if result is Result.CLOSED:
        return (f"เหตุการณ์ {inc} ปิดไปแล้ว ไม่ต้องดำเนินการ\n"
                f"{inc} is already resolved: nothing to do")
    if result is Result.UNKNOWN_USER:
        return ("ขออภัย บัญชีนี้ไม่อยู่ในรายชื่อช่างเทคนิคของ pubnet กรุณาติดต่อศูนย์ NOC "
                "เพื่อเพิ่มรายชื่อ\nSorry, this account is not in pubnet's technician "
                "directory: ask the NOC to add it")
    return "ไม่เข้าใจคำสั่งนี้\nThis button is not understood"
