"""Recognising QoS 1 redeliveries so that each message is stored once.

QoS 1 is "at least once": when pubnet has stored a message but its acknowledgement did not
reach the broker (the broker stopped, the link dropped), the broker sends the message again
after the reconnect, with the same packet id. The broker only reuses a packet id once the
previous message with it was acknowledged, so a message whose packet id *and* content
equal the last one stored under that id is the same message again. (A device repeating a
byte-identical payload under a reused id would be dropped too, which loses nothing: the
store already holds exactly those values.)

Memory is bounded by the 65,535 packet ids of one session.
"""

from __future__ import annotations


class RedeliveryFilter:
    """Remembers a digest of the last message stored under each packet id."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[int, int] = {}

    def is_redelivery(self, packet_id: int, topic: str, payload: bytes) -> bool:
        """True when this message was already stored; otherwise remember it."""
        digest = hash((topic, payload))
        if self._last.get(packet_id) == digest:
            return True
        self._last[packet_id] = digest
        return False
