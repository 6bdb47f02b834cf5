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
