"""The Influx writer's place among the state store's subscribers: it encodes as the store
publishes.

Every other subscriber takes a filtered share of the observations (statuses, a metric or
two); the writer takes all of them, ~75,000 a second at 100,000 devices. Queued for a task
of its own, they waited for that task's turn: on a saturated loop (turns of 0.2-0.4 s)
that was a turn's worth of polls, ~10,000-25,000 observations alive at once for the
garbage collector's young collections to walk, and the task then spent its turns
draining, looping and yielding over them. Encoded in the publish that offers them, a poll's
observations become pending lines at once and are freed by reference counting when the
publish returns (``bench/influx_write.py --sustain``: 25 % less CPU a point, 2.7 times
the points written on a saturated loop; docs/benchmarks.md, session 23).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pubnet.model import Batch, Observation
from pubnet.state import Subscription, Views


class EncodingSubscription(Subscription):
    """A subscription that hands each batch's observations to ``take`` as it is offered
    and queues nothing.

    ``waiting`` says how many points the writer holds in memory (encoded, not yet delivered
    or spilled to disk): past ``capacity`` a batch is dropped and counted, as a queueing
    subscription drops what does not fit (``pubnet_state_dropped_total``). ``take`` must
    not raise: it runs inside a collector's publish.
    """

    def __init__(self, name: str, capacity: int,
                 take: Callable[[Sequence[Observation]], None],
                 waiting: Callable[[], int]) -> None:
        super().__init__(name, capacity, None)
        self._take = take
        self._waiting = waiting

    def offer(self, batch: Batch, views: Views | None = None) -> None:
        observations = batch.observations
        size = len(observations)
        if size == 0 or self.closed or not self._admit(self._waiting(), size):
            return
        self.delivered += size
        self._take(observations)

    @property
    def pending(self) -> int:
        return self._waiting()
