"""Interpreting notification varbinds, without sockets."""

from __future__ import annotations

import pytest

from collectors.traps.events import (
    SNMP_TRAP_ADDRESS_0,
    SNMP_TRAP_OID_0,
    SYS_UPTIME_0,
    TrapKind,
    interpret,
    observations_for,
)
from pubnet.model import Observation, Source

LINK_DOWN = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
LINK_UP = (1, 3, 6, 1, 6, 3, 1, 1, 5, 4)
COLD = (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)
IF_INDEX_3 = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 3)
IF_NAME_3 = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1, 3)
IF_OPER_3 = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 3)


@pytest.mark.parametrize(("varbinds", "kind", "label"), [
    ([(SNMP_TRAP_OID_0, LINK_DOWN), (IF_INDEX_3, 3), (IF_NAME_3, b"ether3")],
     TrapKind.LINK_DOWN, "ether3"),
    ([(SNMP_TRAP_OID_0, LINK_DOWN), (IF_INDEX_3, 3)], TrapKind.LINK_DOWN, "ifIndex=3"),
    ([(SNMP_TRAP_OID_0, LINK_UP), (IF_OPER_3, 1)], TrapKind.LINK_UP, "ifIndex=3"),
    ([(SNMP_TRAP_OID_0, LINK_UP), (IF_NAME_3, "ge-0/0/3")], TrapKind.LINK_UP, "ge-0/0/3"),
], ids=["name-in-trap", "index-only", "index-from-column", "name-only"])
def test_link_traps_name_the_interface(varbinds: list, kind: TrapKind, label: str) -> None:
    event = interpret([(SYS_UPTIME_0, 500), *varbinds])
    assert event.kind is kind
    [obs] = observations_for("gw-1", event, 10.0, {})
    assert obs.metric == "pubnet_interface_oper_up"
    assert obs.labels == (("ifname", label),)
    assert obs.value == (0.0 if kind is TrapKind.LINK_DOWN else 1.0)
    assert obs.source is Source.TRAP


def test_index_only_trap_uses_a_name_the_store_knows() -> None:
    known_obs = Observation("gw-1", "pubnet_interface_info", 1, 1.0, Source.SNMP,
                            (("ifindex", "3"), ("ifname", "sfp-plus1")))
    event = interpret([(SNMP_TRAP_OID_0, LINK_DOWN), (IF_INDEX_3, 3)])
    [obs] = observations_for("gw-1", event, 10.0, {known_obs.key: known_obs})
    assert obs.labels == (("ifname", "sfp-plus1"),)


def test_cold_start_reports_the_new_uptime() -> None:
    event = interpret([(SYS_UPTIME_0, 1234), (SNMP_TRAP_OID_0, COLD)])
    [obs] = observations_for("gw-1", event, 10.0, {})
    assert (obs.metric, obs.value) == ("pubnet_device_uptime_seconds", 12.34)


def test_v1_agent_address_and_unknown_traps() -> None:
    event = interpret([(SNMP_TRAP_OID_0, (1, 3, 6, 1, 4, 1, 9, 0, 1)),
                       (SNMP_TRAP_ADDRESS_0, bytes([10, 1, 0, 1]))])
    assert event.kind is TrapKind.OTHER and event.agent_address == "10.1.0.1"
    assert observations_for("gw-1", event, 1.0, {}) == []
    assert interpret([]).kind is TrapKind.OTHER


@pytest.mark.parametrize(("varbinds", "problem"), [
    ([(SNMP_TRAP_OID_0, COLD), (SYS_UPTIME_0, 2**32 - 1)], None),
    ([(SNMP_TRAP_OID_0, COLD), (SYS_UPTIME_0, 2**32)], "sysUpTime.0 4294967296"),
    ([(SNMP_TRAP_OID_0, COLD), (SYS_UPTIME_0, -1)], "sysUpTime.0 -1"),
    ([(SNMP_TRAP_OID_0, LINK_DOWN), (IF_INDEX_3, 2**31 - 1)], None),
    ([(SNMP_TRAP_OID_0, LINK_DOWN), (IF_INDEX_3, 2**64 - 1)], "ifIndex 18446744073709551615"),
    ([(SNMP_TRAP_OID_0, LINK_DOWN), (IF_INDEX_3, 0)], "ifIndex 0"),
], ids=["uptime-max", "uptime-33-bits", "uptime-negative", "ifindex-max", "ifindex-64-bits",
        "ifindex-0"])
def test_values_are_bounded_by_their_object(varbinds: list[tuple[tuple[int, ...], object]],
                                            problem: str | None) -> None:
    event = interpret(varbinds)  # type: ignore[arg-type]
    if problem is None:
        assert event.problem is None
    else:
        assert event.problem is not None and event.problem.startswith(problem)


def test_log_limiter_logs_the_first_per_cause_then_sums_up() -> None:
    from collectors.traps.lograte import TrapLogLimiter

    limiter = TrapLogLimiter(period=60)
    assert limiter.first("linkDown", "gw-1", 0.0) is True
    assert limiter.first("coldStart", "gw-1", 0.5) is True
    assert [limiter.first("linkDown", f"gw-{n % 3}", 1.0 + n / 1000) for n in range(13_999)] \
        == [False] * 13_999
    assert limiter.summary(59.0) is None  # the period is still running
    summary = limiter.summary(60.0)
    assert summary is not None and summary.counts == {"linkDown": 13_999}
    assert summary.devices == 3
    assert summary.fields() == {"period_s": 60, "linkDown": 13_999, "senders": 3}
    # a new period: the next one is logged in full again; a quiet period has no summary
    assert limiter.first("linkDown", "gw-1", 200.0) is True
    assert limiter.summary(300.0) is None
    assert limiter.first("linkDown", "gw-1", 301.0) is True
    assert limiter.first("linkDown", "gw-1", 302.0) is False
    final = limiter.summary(303.0, final=True)
    assert final is not None and final.counts == {"linkDown": 1}
