"""Device status between machines: the MQTT topics and payloads of sharded pubnet.

Shards (``pubnet run --shard I/N``, role ``poll``) publish what alerting needs of each
:class:`~pubnet.model.Attempt` on ``pubnet/v1/state/{site_id}/{device_id}`` (QoS 1,
retained: the broker keeps each device's last status), and their own liveness on
``pubnet/v1/shards/{I}`` (a retained birth, a retained last will, periodic heartbeats).
The alerting instance (role ``alerting``) subscribes to both and turns each state message
back into an attempt in its own store.

Ground layer, because both sides use it and components do not import each other: the
publisher is an exporter (``exporters/mqttstate``), the feed a collector
(``collectors/statefeed``). Payloads are compact JSON, versioned by the ``v`` field and
by the ``v1`` topic level; a field added later is ignored by an older reader, a payload
of another ``v`` is rejected (counted, logged once).

A device without a site travels under its own id as the site segment
(``pubnet/v1/state/core-1/core-1``), the key :func:`pubnet.shard.shard_key` places it by.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, TypeVar

import msgspec

from pubnet.model import Attempt, PollStatus, Source
from pubnet.shard import Shard

ROOT: Final = "pubnet/v1"
STATE_PREFIX: Final = f"{ROOT}/state/"
SHARDS_PREFIX: Final = f"{ROOT}/shards/"
STATE_FILTER: Final = f"{ROOT}/state/+/+"
SHARDS_FILTER: Final = f"{ROOT}/shards/+"
VERSION: Final = 1
MAX_PAYLOAD: Final = 2048
"""A state or shard message larger than this is rejected before it is decoded (a detail
is a short text; an attempt fits in ~150 bytes)."""


class Rejected(StrEnum):
    """Why a state-feed message was not used (the ``reason`` label of
    ``pubnet_state_messages_rejected_total``)."""

    TOPIC = "topic"
    """Not ``pubnet/v1/state/{site}/{device}`` or ``pubnet/v1/shards/{I}``."""
    TOO_LARGE = "too_large"
    PAYLOAD = "payload"
    """Not JSON, or a field missing or of the wrong type or value."""
    VERSION = "version"
    UNKNOWN_DEVICE = "unknown_device"
    """A device this pubnet's inventory does not have (inventories out of step)."""
    SITE_MISMATCH = "site_mismatch"
    """The topic's site is not the device's site in this pubnet's inventory."""


class StateMessage(msgspec.Struct, frozen=True, omit_defaults=True):
    """One device attempt as it travels; the field names are an interface (docs/mqtt.md)."""

    v: int
    status: PollStatus
    ts: float
    source: Source
    shard: str
    detail: str = ""
    counts_at_once: bool = False
    rebooted: bool = False


class ShardState(StrEnum):
    ONLINE = "online"
    """Birth and heartbeats."""
    OFFLINE = "offline"
    """A clean stop (``reason: stopped``) or the last will (``reason: lost``)."""


class ShardMessage(msgspec.Struct, frozen=True, omit_defaults=True):
    """A shard's birth, heartbeat or will on ``pubnet/v1/shards/{I}`` (retained)."""

    v: int
    shard: str
    """``I/N``."""
    state: ShardState
    ts: float
    heartbeat: float = 0.0
    """Seconds between this shard's heartbeats (the alerting instance waits a few)."""
    reason: str = ""
    sites: int = 0
    devices: int = 0


class WireError(ValueError):
    """A message that cannot be used; ``reason`` says which counter it goes to."""

    def __init__(self, reason: Rejected, message: str) -> None:
        super().__init__(message)
        self.reason = reason


M = TypeVar("M", StateMessage, ShardMessage)

_encode = msgspec.json.Encoder().encode
_state_decoder = msgspec.json.Decoder(StateMessage)
_shard_decoder = msgspec.json.Decoder(ShardMessage)


def site_segment(device_id: str, site_id: str) -> str:
    """The topic's site level: the site, or the device's own id when it has none."""
    return site_id or device_id


def state_topic(site_id: str, device_id: str) -> str:
    return f"{STATE_PREFIX}{site_segment(device_id, site_id)}/{device_id}"


def shard_topic(shard: Shard) -> str:
    return f"{SHARDS_PREFIX}{shard.index}"


def encode_attempt(attempt: Attempt, shard: str) -> bytes:
    """The payload for one attempt (~100-150 bytes)."""
    return _encode(StateMessage(VERSION, attempt.status, attempt.ts, attempt.source, shard,
                                attempt.detail, attempt.counts_at_once, attempt.rebooted))


def encode_shard(message: ShardMessage) -> bytes:
    return _encode(message)


def parse_state_topic(topic: str) -> tuple[str, str]:
    """``(site segment, device id)`` of a state topic; raises :class:`WireError`."""
    if topic.startswith(STATE_PREFIX):
        site, sep, device = topic[len(STATE_PREFIX):].partition("/")
        if sep and site and device and "/" not in device:
            return site, device
    raise WireError(Rejected.TOPIC, f"not a state topic: {topic!r}")


def parse_shard_topic(topic: str) -> int:
    """The shard number of a shard topic; raises :class:`WireError`."""
    if topic.startswith(SHARDS_PREFIX):
        index = topic[len(SHARDS_PREFIX):]
        if index.isascii() and index.isdigit() and int(index) >= 1:
            return int(index)
    raise WireError(Rejected.TOPIC, f"not a shard topic: {topic!r}")


def _decoded(decoder: msgspec.json.Decoder[M], payload: bytes) -> M:
    """Either payload decoded and checked for size and version; raises :class:`WireError`."""
    if len(payload) > MAX_PAYLOAD:
        raise WireError(Rejected.TOO_LARGE, f"{len(payload)} bytes, at most {MAX_PAYLOAD}")
    try:
        message = decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise WireError(Rejected.PAYLOAD, str(exc)) from None
    if message.v != VERSION:
        raise WireError(Rejected.VERSION, f"v {message.v}, this pubnet reads v {VERSION}")
    return message


def decode_state(payload: bytes) -> StateMessage:
    """A state payload, checked; raises :class:`WireError` saying what is wrong."""
    message = _decoded(_state_decoder, payload)
    if message.ts != message.ts or message.ts <= 0:  # NaN or not a time
        raise WireError(Rejected.PAYLOAD, f"ts {message.ts!r} is not a Unix time")
    return message


def decode_shard(payload: bytes) -> ShardMessage:
    """A shard payload, checked (its ``shard`` is ``I/N``); raises :class:`WireError`."""
    message = _decoded(_shard_decoder, payload)
    try:
        Shard.parse(message.shard)
    except ValueError as exc:
        raise WireError(Rejected.PAYLOAD, str(exc)) from None
    if message.heartbeat < 0 or message.heartbeat != message.heartbeat:
        raise WireError(Rejected.PAYLOAD, f"heartbeat {message.heartbeat!r} is negative")
    return message
