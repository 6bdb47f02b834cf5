"""What the alerting component tells ``/metrics`` about itself, as observations.

Kept apart from the service loop so that the loop only decides *when* to publish (on the
periodic tick) and this module alone knows *what*: open incidents, per-channel delivery
counts and the outbox, and messages held back by the digest gate or a budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from alerting.delivery import ChannelStats
from alerting.model import Incident, State
from pubnet.catalog import (
    ALERT_MESSAGES_HELD,
    ALERTING_DELIVERED,
    ALERTING_DELIVERY_FAILURES,
    ALERTING_INCIDENTS_OPEN,
    ALERTING_OUTBOX_PENDING,
    LABEL_CHANNEL,
    LABEL_REASON,
    PUBNET_DEVICE,
)
from pubnet.model import Observation, Source


def alerting_observations(incidents: Iterable[Incident], channels: Mapping[str, ChannelStats],
                          held: Mapping[tuple[str, str], int], now: float) -> list[Observation]:
    """The component's own metrics at ``now`` (``held`` is keyed by channel and reason)."""
    open_count = sum(1 for i in incidents if i.state in (State.FIRING, State.ACKNOWLEDGED))
    obs = [Observation(PUBNET_DEVICE, ALERTING_INCIDENTS_OPEN, float(open_count), now,
                       Source.INTERNAL)]
    for name, st in channels.items():
        labels = ((LABEL_CHANNEL, name),)
        obs += [Observation(PUBNET_DEVICE, metric, float(value), now, Source.INTERNAL, labels)
                for metric, value in ((ALERTING_DELIVERED, st.delivered),
                                      (ALERTING_DELIVERY_FAILURES, st.failures),
                                      (ALERTING_OUTBOX_PENDING, st.pending))]
    obs += [Observation(PUBNET_DEVICE, ALERT_MESSAGES_HELD, float(count), now, Source.INTERNAL,
                        ((LABEL_CHANNEL, channel), (LABEL_REASON, reason)))
            for (channel, reason), count in held.items()]
    return obs
