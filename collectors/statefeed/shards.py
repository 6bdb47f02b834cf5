"""Which polling shards are online, from their births, heartbeats and last wills.

Pure timing logic, a function of the time it is given (no sleeping in tests): a shard is
online from its ``online`` message until an ``offline`` (its last will, or a clean stop)
or until it has been silent for ``missed`` of its own heartbeat intervals (a hung shard
whose connection stays up). Any live message from a shard breaks its silence, not only a
heartbeat: at a national first round a shard publishes ~50,000 device states through one
connection, its heartbeat queues behind them for longer than ``missed`` intervals, and
the alerting instance saw both shards "gone" (``collector_down`` to the NOC) while their
states were streaming in (bench/fleet.py --shards 2 at 97,000 devices). Silence is
measured from when each message was *received*, not from the shard's own ``ts``, so the
machines' clocks need not agree; a retained ``online`` left by a shard that is gone ages
out the same way (a retained state, sent because we subscribed, is no sign of life).
"""

from __future__ import annotations

from dataclasses import dataclass

from pubnet.statewire import ShardMessage, ShardState


@dataclass(slots=True)
class ShardView:
    index: int
    spec: str
    """``I/N`` as the shard gave it."""
    online: bool
    heard: float
    """When its last message was received."""
    heartbeat: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ShardChange:
    """A shard came online or went away (``reason``: ``lost``, ``stopped``, ``missed
    heartbeats``, ``birth``)."""

    index: int
    spec: str
    online: bool
    reason: str
    ts: float


class ShardWatch:
    """The shards' liveness (see the module docstring)."""

    def __init__(self, missed: int) -> None:
        self.missed = missed
        self.shards: dict[int, ShardView] = {}

    def message(self, index: int, message: ShardMessage, now: float) -> ShardChange | None:
        """One message on ``pubnet/v1/shards/{index}``; the change it makes, if any."""
        online = message.state is ShardState.ONLINE
        known = self.shards.get(index)
        reason = message.reason or ("birth" if online else "lost")
        self.shards[index] = ShardView(index, message.shard, online, now, message.heartbeat,
                                       reason)
        if known is not None and known.online is online and known.spec == message.shard:
            return None
        return ShardChange(index, message.shard, online, reason, now)

    def heard(self, index: int, now: float) -> None:
        """A live message from an online shard (a device state): it is not silent."""
        view = self.shards.get(index)
        if view is not None and view.online:
            view.heard = now

    def forget(self, index: int) -> ShardView | None:
        """The retained topic was cleared (a shard retired when N shrank)."""
        return self.shards.pop(index, None)

    def expire(self, now: float) -> list[ShardChange]:
        """Shards silent for ``missed`` heartbeats go offline."""
        changes = []
        for view in self.shards.values():
            if view.online and view.heartbeat > 0 and \
                    now - view.heard > self.missed * view.heartbeat:
                view.online = False
                view.reason = "missed heartbeats"
                changes.append(ShardChange(view.index, view.spec, False, view.reason, now))
        return changes

    def online(self) -> int:
        return sum(1 for v in self.shards.values() if v.online)
