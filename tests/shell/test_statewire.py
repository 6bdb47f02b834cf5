"""The device-status payloads between shards and the alerting instance (issue 15):
what a shard encodes decodes to the same attempt, and every malformed input is a
:class:`~pubnet.statewire.WireError` naming its counter, never another exception."""

from __future__ import annotations

import json

import pytest

from pubnet.model import Attempt, PollStatus, Source
from pubnet.shard import Shard
from pubnet.statewire import (
    MAX_PAYLOAD,
    Rejected,
    ShardMessage,
    ShardState,
    WireError,
    decode_shard,
    decode_state,
    encode_attempt,
    encode_shard,
    parse_shard_topic,
    parse_state_topic,
    shard_topic,
    state_topic,
)


def test_an_attempt_round_trips_compactly() -> None:
    attempt = Attempt("gw-1", PollStatus.UNREACHABLE, 1767312000.25, Source.MQTT,
                      "last will: offline — ไฟดับ", counts_at_once=True)
    payload = encode_attempt(attempt, "2/3")
    assert len(payload) < 160
    message = decode_state(payload)
    assert (message.status, message.ts, message.source, message.detail, message.shard,
            message.counts_at_once, message.rebooted) == (
        PollStatus.UNREACHABLE, 1767312000.25, Source.MQTT, "last will: offline — ไฟดับ",
        "2/3", True, False)
    ok = encode_attempt(Attempt("gw-1", PollStatus.OK, 1.5, Source.SNMP), "1/1")
    assert json.loads(ok) == {"v": 1, "status": "ok", "ts": 1.5, "source": "snmp",
                              "shard": "1/1"}  # defaults left out


def test_topics() -> None:
    assert state_topic("S-1", "gw-1") == "pubnet/v1/state/S-1/gw-1"
    assert state_topic("", "core-1") == "pubnet/v1/state/core-1/core-1"  # no site: own id
    assert parse_state_topic("pubnet/v1/state/S-1/gw-1") == ("S-1", "gw-1")
    assert shard_topic(Shard(2, 3)) == "pubnet/v1/shards/2"
    assert parse_shard_topic("pubnet/v1/shards/2") == 2


GOOD = {"v": 1, "status": "timeout", "ts": 100.0, "source": "snmp", "shard": "1/2"}

BAD_STATES = [
    ("not-json", b"{nope", Rejected.PAYLOAD),
    ("not-an-object", b"[1, 2]", Rejected.PAYLOAD),
    ("missing-status", json.dumps({k: v for k, v in GOOD.items() if k != "status"}).encode(),
     Rejected.PAYLOAD),
    ("unknown-status", json.dumps({**GOOD, "status": "sleepy"}).encode(), Rejected.PAYLOAD),
    ("unknown-source", json.dumps({**GOOD, "source": "carrier-pigeon"}).encode(),
     Rejected.PAYLOAD),
    ("ts-as-text", json.dumps({**GOOD, "ts": "yesterday"}).encode(), Rejected.PAYLOAD),
    ("ts-zero", json.dumps({**GOOD, "ts": 0}).encode(), Rejected.PAYLOAD),
    ("flag-as-text", json.dumps({**GOOD, "rebooted": "yes"}).encode(), Rejected.PAYLOAD),
    ("version-2", json.dumps({**GOOD, "v": 2}).encode(), Rejected.VERSION),
    ("too-large", json.dumps({**GOOD, "detail": "x" * MAX_PAYLOAD}).encode(),
     Rejected.TOO_LARGE),
    ("invalid-utf8", b'{"v":1,"status":"ok","ts":1,"source":"snmp","shard":"1/1",'
     b'"detail":"\xff"}', Rejected.PAYLOAD),
]


@pytest.mark.parametrize(("payload", "reason"), [(p, r) for _, p, r in BAD_STATES],
                         ids=[name for name, _, _ in BAD_STATES])
def test_bad_state_payloads_are_rejected_with_a_reason(payload: bytes,
                                                       reason: Rejected) -> None:
    with pytest.raises(WireError) as caught:
        decode_state(payload)
    assert caught.value.reason is reason
    assert str(caught.value)


def test_an_added_field_is_ignored() -> None:
    """A later shard may add a field; this reader keeps working."""
    assert decode_state(json.dumps({**GOOD, "firmware": "2.1"}).encode()).ts == 100.0


BAD_SHARDS = [
    ("bad-spec", {"v": 1, "shard": "3/2", "state": "online", "ts": 1.0}),
    ("bad-state", {"v": 1, "shard": "1/2", "state": "sleeping", "ts": 1.0}),
    ("negative-heartbeat", {"v": 1, "shard": "1/2", "state": "online", "ts": 1.0,
                            "heartbeat": -1}),
]


@pytest.mark.parametrize("payload", [p for _, p in BAD_SHARDS], ids=[n for n, _ in BAD_SHARDS])
def test_bad_shard_payloads_are_rejected(payload: dict[str, object]) -> None:
    with pytest.raises(WireError) as caught:
        decode_shard(json.dumps(payload).encode())
    assert caught.value.reason is Rejected.PAYLOAD


@pytest.mark.parametrize("topic", ["pubnet/v1/state/S-1", "pubnet/v1/state/S-1/gw/x",
                                   "pubnet/v1/state//gw", "pubnet/v2/state/S-1/gw-1"],
                         ids=["short", "long", "empty-site", "other-version"])
def test_bad_state_topics(topic: str) -> None:
    with pytest.raises(WireError) as caught:
        parse_state_topic(topic)
    assert caught.value.reason is Rejected.TOPIC


@pytest.mark.parametrize("topic", ["pubnet/v1/shards/0", "pubnet/v1/shards/x",
                                   "pubnet/v1/shards/"], ids=["zero", "text", "empty"])
def test_bad_shard_topics(topic: str) -> None:
    with pytest.raises(WireError):
        parse_shard_topic(topic)


def test_a_shard_message_round_trips() -> None:
    message = ShardMessage(1, "2/2", ShardState.OFFLINE, 5.0, 10.0, "lost", 3, 9)
    assert decode_shard(encode_shard(message)) == message
