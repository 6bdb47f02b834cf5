"""The incident state machine as pure functions of a timestamp.

Nothing here reads a clock, sleeps or does I/O: every function takes ``now`` and returns a new
:class:`~alerting.model.Incident` (and the messages to send), so that the rules (group wait,
announce, repeat while unacknowledged, escalate once, resolve once, hold everything inside a
maintenance window) are tested exhaustively with hypothesis instead of with sleeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from alerting.model import Incident, Reason, RouteTimer, Send, State, Status


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """The timing part of one matched route."""

    route: int
    repeat: float | None = None
    escalate_after: float | None = None
    escalate_steps: int = 1
    """Escalate again every ``escalate_after`` until this many steps were sent."""


def step(
    incident: Incident,
    policies: Sequence[RoutePolicy],
    now: float,
    *,
    group_wait: float,
    muted: bool,
) -> tuple[Incident, list[Send]]:
    """Advance ``incident`` to ``now``; return it and the messages that are due.

    ``policies`` are the routes that match the incident (used when it is first announced);
    ``muted`` says a maintenance window covers it right now, in which case nothing is sent
    and the incident is marked instead (and unmarked, if open, once it is not). A closed
    incident that was announced gets one last message: ``resolved``, or a ``firing`` update
    (reason ``merged``) when it was merged into another.
    """
    sends: list[Send] = []
    inc = incident
    if inc.state is State.PENDING:
        if now < inc.created_at + group_wait:
            return inc, sends
        inc = replace(inc, state=State.ACKNOWLEDGED if inc.acknowledged else State.FIRING)
    if muted:
        # Open incidents show the window as long as it covers them (also those announced
        # before it began: their repeats are held back too); a closed one only while its
        # last message waits.
        held = inc.is_open or (inc.announced_at is not None and not inc.resolved_sent)
        if held and not inc.maintenance:
            inc = replace(inc, maintenance=True)
        return inc, sends
    if not inc.is_open:
        if inc.announced_at is not None and not inc.resolved_sent:
            seq = inc.sequence + 1
            if inc.merged_into is not None:
                # Absorbed by an upstream incident: still down, so an update, not a resolution.
                sends.append(Send(inc.incident_id, Status.FIRING, Reason.MERGED, seq))
            else:
                sends.append(Send(inc.incident_id, Status.RESOLVED, Reason.RESOLVED, seq))
            inc = replace(inc, sequence=seq, resolved_sent=True)
        return inc, sends
    if inc.maintenance:
        inc = replace(inc, maintenance=False)  # the window is over
    if inc.announced_at is None:
        seq = inc.sequence + 1
        sends.append(Send(inc.incident_id, Status.FIRING, Reason.FIRST, seq))
        timers = tuple(RouteTimer(p.route, now) for p in policies)
        routes = tuple(p.route for p in policies)
        return replace(inc, sequence=seq, announced_at=now, timers=timers, routes=routes), sends
    if inc.acknowledged:
        return inc, sends
    by_route = {p.route: p for p in policies}
    timers_out: list[RouteTimer] = []
    seq = inc.sequence
    for timer in inc.timers:
        policy = by_route.get(timer.route)
        if policy is not None:
            if (
                policy.escalate_after is not None
                and timer.escalations < policy.escalate_steps
                and now >= inc.announced_at + (timer.escalations + 1) * policy.escalate_after
            ):
                seq += 1
                sends.append(
                    Send(inc.incident_id, Status.FIRING, Reason.ESCALATE, seq, timer.route)
                )
                timer = replace(timer, escalated_at=now, last_sent_at=now,
                                escalations=timer.escalations + 1)
            elif policy.repeat is not None and now >= timer.last_sent_at + policy.repeat:
                seq += 1
                sends.append(Send(inc.incident_id, Status.FIRING, Reason.REPEAT, seq, timer.route))
                timer = replace(timer, last_sent_at=now)
        timers_out.append(timer)
    if sends:
        inc = replace(inc, sequence=seq, timers=tuple(timers_out))
    return inc, sends


def next_due(
    incident: Incident, policies: Sequence[RoutePolicy], *, group_wait: float
) -> float | None:
    """The earliest time at which :func:`step` (unmuted) would change or send something.

    ``None`` when nothing will ever be due again without a new event (ack, resolve).
    A result in the past means "now".
    """
    inc = incident
    if inc.state is State.PENDING:
        return inc.created_at + group_wait
    if not inc.is_open:
        if inc.announced_at is not None and not inc.resolved_sent:
            return inc.resolved_at if inc.resolved_at is not None else inc.created_at
        return None
    if inc.announced_at is None:
        return inc.created_at + group_wait
    if inc.acknowledged:
        return None
    by_route = {p.route: p for p in policies}
    due: list[float] = []
    for timer in inc.timers:
        policy = by_route.get(timer.route)
        if policy is None:
            continue
        if policy.escalate_after is not None and timer.escalations < policy.escalate_steps:
            due.append(inc.announced_at + (timer.escalations + 1) * policy.escalate_after)
        if policy.repeat is not None:
            due.append(timer.last_sent_at + policy.repeat)
    return min(due) if due else None


def acknowledge(incident: Incident, by: str, note: str | None, now: float,
                channel: str | None = None) -> Incident:
    """Record who took the incident, how and from where (the latest acknowledgement
    wins); repeats and escalation stop. Closed ones stay as they are."""
    if not incident.is_open:
        return incident
    state = State.ACKNOWLEDGED if incident.state is State.FIRING else incident.state
    return replace(incident, acked_by=by, acked_at=now, ack_note=note, ack_channel=channel,
                   state=state)


def resolve(incident: Incident, now: float, merged_into: str | None = None) -> Incident:
    """Close the incident (its root recovered, or it became part of ``merged_into``)."""
    if not incident.is_open:
        return incident
    return replace(incident, state=State.RESOLVED, resolved_at=now, merged_into=merged_into)


def was_announced(incident: Incident) -> bool:
    return incident.announced_at is not None

