"""The incident state machine: properties over random event sequences (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.lifecycle import RoutePolicy, acknowledge, next_due, resolve, step
from alerting.model import Incident, Kind, Reason, Send, Severity, State, Status

policy_st = st.builds(
    RoutePolicy,
    route=st.integers(0, 0),  # replaced by position below
    repeat=st.one_of(st.none(), st.floats(1, 100)),
    escalate_after=st.one_of(st.none(), st.floats(1, 200)),
)
event_st = st.tuples(
    st.floats(0, 60),
    st.sampled_from(["tick", "tick", "tick", "muted", "ack", "resolve"]),
)


@dataclass
class Sent:
    at: float
    send: Send
    index: int
    """Position of the event that produced it (several events can share a timestamp)."""


def run(group_wait: float, pols: list[RoutePolicy], events: list[tuple[float, str]]) -> (
    tuple[Incident, list[Sent], dict[str, float]]
):
    inc = Incident("INC-1", Kind.DEVICE_DOWN, Severity.MAJOR, "device:x", started_at=0.0,
                   created_at=0.0)
    now = 0.0
    sent: list[Sent] = []
    marks: dict[str, float] = {}
    order: dict[str, int] = {}
    for index, (dt, action) in enumerate(events):
        now += dt
        if action == "ack":
            before = inc.acked_at
            inc = acknowledge(inc, "somchai", None, now)
            if before is None and inc.acked_at is not None:
                marks["ack"] = now
                order["ack"] = index
            continue
        if action == "resolve":
            if inc.is_open:
                marks["resolve"] = now
                order["resolve"] = index
            inc = resolve(inc, now)
            continue
        muted = action == "muted"
        inc, sends = step(inc, pols, now, group_wait=group_wait, muted=muted)
        if muted:
            assert sends == []
        sent.extend(Sent(now, s, index) for s in sends)
    marks.update({f"{k}_index": float(v) for k, v in order.items()})
    return inc, sent, marks


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 100), st.lists(policy_st, max_size=3), st.lists(event_st, max_size=40))
def test_lifecycle_invariants(group_wait: float, raw: list[RoutePolicy],
                              events: list[tuple[float, str]]) -> None:
    pols = [RoutePolicy(i, p.repeat, p.escalate_after) for i, p in enumerate(raw)]
    inc, sent, marks = run(group_wait, pols, events)
    # sequence numbers count the messages, from 1, without gaps
    assert [s.send.sequence for s in sent] == list(range(1, len(sent) + 1))
    assert inc.sequence == len(sent)
    if not sent:
        return
    first = sent[0]
    assert first.send.reason is Reason.FIRST and first.send.status is Status.FIRING
    assert first.at >= group_wait
    assert sum(1 for s in sent if s.send.reason is Reason.FIRST) == 1
    resolved = [s for s in sent if s.send.status is Status.RESOLVED]
    assert len(resolved) <= 1
    if resolved:
        assert sent[-1] is resolved[0]
        assert resolved[0].at >= marks["resolve"]
    ack = marks.get("ack")
    last_to_route: dict[int, float] = {p.route: first.at for p in pols}
    escalated: set[int] = set()
    by_route = {p.route: p for p in pols}
    for s in sent[1:]:
        if s.send.status is Status.RESOLVED:
            continue
        route = s.send.route
        assert route is not None
        assert ack is None or s.index < marks["ack_index"], "no repeat after acknowledgement"
        assert "resolve" not in marks or s.index < marks["resolve_index"]
        policy = by_route[route]
        if s.send.reason is Reason.ESCALATE:
            assert route not in escalated
            assert policy.escalate_after is not None
            assert s.at >= first.at + policy.escalate_after
            escalated.add(route)
        else:
            assert s.send.reason is Reason.REPEAT
            assert policy.repeat is not None
            assert s.at >= last_to_route[route] + policy.repeat
        last_to_route[route] = s.at


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 100), st.lists(policy_st, max_size=3), st.lists(event_st, max_size=30),
       st.floats(0, 500))
def test_next_due_is_when_something_happens(group_wait: float, raw: list[RoutePolicy],
                                            events: list[tuple[float, str]],
                                            probe: float) -> None:
    pols = [RoutePolicy(i, p.repeat, p.escalate_after) for i, p in enumerate(raw)]
    inc, _, _ = run(group_wait, pols, events)
    last = sum(dt for dt, _ in events)
    due = next_due(inc, pols, group_wait=group_wait)
    at = last + probe
    after, sends = step(inc, pols, at, group_wait=group_wait, muted=False)
    if due is None:
        assert sends == []
        return
    if at < due:
        assert sends == []
    else:
        assert sends or after != inc


def test_pending_never_sends_and_resolve_before_announce_sends_nothing() -> None:
    inc = Incident("INC-2", Kind.SITE_DOWN, Severity.MINOR, "device:g", 0.0, 0.0)
    pols = [RoutePolicy(0, 10.0, None)]
    inc, sends = step(inc, pols, 5.0, group_wait=20.0, muted=False)
    assert sends == [] and inc.state is State.PENDING
    inc = resolve(inc, 6.0)
    inc, sends = step(inc, pols, 100.0, group_wait=20.0, muted=False)
    assert sends == []


def test_maintenance_holds_then_releases() -> None:
    inc = Incident("INC-3", Kind.SITE_DOWN, Severity.MINOR, "device:g", 0.0, 0.0)
    pols = [RoutePolicy(0)]
    inc, sends = step(inc, pols, 30.0, group_wait=0.0, muted=True)
    assert sends == [] and inc.maintenance and inc.state is State.FIRING
    inc, sends = step(inc, pols, 60.0, group_wait=0.0, muted=False)
    assert [s.reason for s in sends] == [Reason.FIRST]


def test_merged_incident_gets_an_update_not_a_resolution() -> None:
    inc = Incident("INC-4", Kind.SITE_DOWN, Severity.MINOR, "device:g", 0.0, 0.0)
    pols = [RoutePolicy(0)]
    inc, sends = step(inc, pols, 30.0, group_wait=20.0, muted=False)
    assert [s.reason for s in sends] == [Reason.FIRST]
    inc = resolve(inc, 40.0, merged_into="INC-5")
    inc, sends = step(inc, pols, 41.0, group_wait=20.0, muted=False)
    assert [(s.status, s.reason, s.sequence) for s in sends] == [
        (Status.FIRING, Reason.MERGED, 2)]
    assert step(inc, pols, 99.0, group_wait=20.0, muted=False)[1] == []  # once


def test_window_over_an_announced_incident_marks_it_while_it_lasts() -> None:
    inc = Incident("INC-6", Kind.SITE_DOWN, Severity.MINOR, "device:g", 0.0, 0.0)
    pols = [RoutePolicy(0, repeat=10.0)]
    inc, sends = step(inc, pols, 0.0, group_wait=0.0, muted=False)
    assert [s.reason for s in sends] == [Reason.FIRST] and not inc.maintenance
    inc, sends = step(inc, pols, 15.0, group_wait=0.0, muted=True)
    assert sends == [] and inc.maintenance  # the window began after it was announced
    inc, sends = step(inc, pols, 30.0, group_wait=0.0, muted=False)
    assert [s.reason for s in sends] == [Reason.REPEAT] and not inc.maintenance
