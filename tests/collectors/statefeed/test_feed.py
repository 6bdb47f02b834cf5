"""The alerting instance's state feed without a broker: each state message becomes one
attempt in the store, a replay is a duplicate, every bad message is counted by reason and
logged once per reason (never raised); shards are online from birth until their last will,
a clean stop or missed heartbeats."""

from __future__ import annotations

import json
import logging

import pytest

from collectors.statefeed.feed import StateFeed
from collectors.statefeed.shards import ShardWatch
from pubnet.catalog import PUBNET_DEVICE, SHARD_UP, SHARDS_ONLINE
from pubnet.config import ClusterConfig, MqttConfig
from pubnet.model import Attempt, PollStatus, Source
from pubnet.state import StateStore
from pubnet.statewire import (
    Rejected,
    ShardMessage,
    ShardState,
    encode_attempt,
    encode_shard,
    state_topic,
)
from tests.alerting.builders import district_inventory


@pytest.fixture
def feed() -> StateFeed:
    config = MqttConfig.model_validate({"url": "mqtt://127.0.0.1:1", "client_id": "t"})
    return StateFeed(config, ClusterConfig(), district_inventory(), StateStore(),
                     clock=lambda: 50.0)


def state(status: PollStatus, ts: float, **kw: bool) -> bytes:
    return encode_attempt(Attempt("S-1-gw", status, ts, Source.SNMP, "", **kw), "1/2")


def test_a_state_message_is_one_attempt_in_the_store(feed: StateFeed) -> None:
    with feed.store.subscription("test") as sub:
        feed.handle(state_topic("S-1", "S-1-gw"), state(PollStatus.TIMEOUT, 10.0,
                                                      counts_at_once=True))
        feed.handle(state_topic("", "core-1"), encode_attempt(
            Attempt("core-1", PollStatus.OK, 11.0, Source.ICMP), "2/2"))
        attempts = [a for batch in sub.drain() for a in batch.attempts]
    assert [(a.device, a.status, a.ts, a.source, a.counts_at_once) for a in attempts] == [
        ("S-1-gw", PollStatus.TIMEOUT, 10.0, Source.SNMP, True),
        ("core-1", PollStatus.OK, 11.0, Source.ICMP, False)]
    status = feed.store.status("S-1-gw")
    assert status is not None and status.status is PollStatus.TIMEOUT
    assert feed.received["accepted"] == 2


def test_a_replayed_or_older_message_is_a_duplicate(feed: StateFeed) -> None:
    topic = state_topic("S-1", "S-1-gw")
    feed.handle(topic, state(PollStatus.TIMEOUT, 10.0))
    feed.handle(topic, state(PollStatus.TIMEOUT, 10.0))  # the retained copy, again
    feed.handle(topic, state(PollStatus.OK, 9.0))  # older than what was used
    feed.handle(topic, state(PollStatus.OK, 12.0))
    assert feed.received == {"accepted": 2, "duplicate": 2}
    status = feed.store.status("S-1-gw")
    assert status is not None and status.status is PollStatus.OK


BAD = [
    ("unknown-device", state_topic("S-1", "S-1-gw9"), state(PollStatus.OK, 1.0),
     Rejected.UNKNOWN_DEVICE),
    ("wrong-site", state_topic("S-2", "S-1-gw"), state(PollStatus.OK, 1.0),
     Rejected.SITE_MISMATCH),
    ("bad-json", state_topic("S-1", "S-1-gw"), b"{", Rejected.PAYLOAD),
    ("bad-topic", "pubnet/v1/state/S-1", state(PollStatus.OK, 1.0), Rejected.TOPIC),
    ("bad-shard", "pubnet/v1/shards/1", b'{"v":1}', Rejected.PAYLOAD),
    ("bad-shard-topic", "pubnet/v1/shards/one", b"{}", Rejected.TOPIC),
]


@pytest.mark.parametrize(("topic", "payload", "reason"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_messages_are_counted_and_logged_once(feed: StateFeed, topic: str,
                                                  payload: bytes, reason: Rejected,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "pubnet.statefeed"):
        for _ in range(3):
            feed.handle(topic, payload)
    assert feed.rejected == {reason: 3}
    assert [r.reason for r in caplog.records] == [reason.value]  # type: ignore[attr-defined]
    assert feed.store.statuses() == {}


def test_a_cleared_retained_state_is_ignored(feed: StateFeed) -> None:
    feed.handle(state_topic("S-1", "S-1-gw"), b"")
    assert feed.rejected == {} and feed.store.statuses() == {}


def shard(state_: ShardState, reason: str = "", heartbeat: float = 10.0) -> ShardMessage:
    return ShardMessage(1, "1/2", state_, 0.0, heartbeat, reason, 1, 2)


def test_shard_liveness_from_birth_will_and_heartbeats() -> None:
    watch = ShardWatch(missed=3)
    change = watch.message(1, shard(ShardState.ONLINE, "birth"), now=0.0)
    assert change is not None and change.online
    assert watch.message(1, shard(ShardState.ONLINE), now=10.0) is None  # a heartbeat
    assert watch.expire(now=40.0) == []  # 30 s of silence: 3 heartbeats, not more
    [gone] = watch.expire(now=40.5)
    assert (gone.spec, gone.online, gone.reason) == ("1/2", False, "missed heartbeats")
    assert watch.expire(now=100.0) == []  # once
    back = watch.message(1, shard(ShardState.ONLINE), now=101.0)
    assert back is not None and back.online
    will = watch.message(1, shard(ShardState.OFFLINE, "lost"), now=102.0)
    assert will is not None and (will.online, will.reason) == (False, "lost")
    assert watch.online() == 0
    assert watch.forget(1) is not None and watch.shards == {}


def test_the_feed_publishes_shard_up_for_alerting(feed: StateFeed) -> None:
    feed.handle("pubnet/v1/shards/1", encode_shard(shard(ShardState.ONLINE, "birth")))
    assert feed.store.latest(PUBNET_DEVICE, SHARD_UP, (("shard", "1/2"),)) is not None
    online = feed.store.latest(PUBNET_DEVICE, SHARDS_ONLINE)
    assert online is not None and online.value == 1.0
    feed.check(50.0 + 31.0)  # clock: 50 at the birth, 3 × 10 s heartbeats missed
    up = feed.store.latest(PUBNET_DEVICE, SHARD_UP, (("shard", "1/2"),))
    assert up is not None and up.value == 0.0
    feed.handle("pubnet/v1/shards/1", b"")  # retired: its series goes
    assert feed.store.latest(PUBNET_DEVICE, SHARD_UP, (("shard", "1/2"),)) is None
    assert json.dumps(feed.rejected) == "{}"


def test_live_states_keep_a_shard_online_while_its_heartbeat_queues_behind_them() -> None:
    """At a national first round a shard's heartbeat waits behind ~50,000 states on its one
    connection: the states it sends are its sign of life. A retained state (the broker's
    copy, sent because we subscribed) is not: a dead shard's devices all have one."""
    now = [50.0]
    config = MqttConfig.model_validate({"url": "mqtt://127.0.0.1:1", "client_id": "t"})
    feed = StateFeed(config, ClusterConfig(), district_inventory(), StateStore(),
                     clock=lambda: now[0])
    feed.handle("pubnet/v1/shards/1", encode_shard(shard(ShardState.ONLINE, "birth")))
    for ts in (60.0, 70.0, 80.0):  # the state of 1/2's device, live, and no heartbeat
        now[0] = ts
        feed.handle(state_topic("S-1", "S-1-gw"), state(PollStatus.OK, ts))
    now[0] = 105.0  # 55 s since the birth, 25 s since the last state
    feed.check(now[0])
    assert feed.shards.online() == 1
    now[0] = 109.0  # only retained copies since: silence counts from 80 s
    feed.handle(state_topic("S-1", "S-1-gw"), state(PollStatus.OK, 80.0), retained=True)
    feed.check(111.0)
    assert feed.shards.online() == 0
    assert feed.shards.shards[1].reason == "missed heartbeats"
