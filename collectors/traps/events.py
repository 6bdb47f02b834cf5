"""What a notification means for the state store, as pure functions of its varbinds.

Kept apart from the pysnmp plumbing so that the interpretation (which trap, which interface,
which observations) is tested with plain tuples, without sockets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pubnet.catalog import DEVICE_UPTIME, IF_OPER_UP, LABEL_IFNAME
from pubnet.model import Observation, SeriesKey, Source

OID = tuple[int, ...]
Value = int | str | bytes | OID | None

SYS_UPTIME_0: OID = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID_0: OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
SNMP_TRAP_ADDRESS_0: OID = (1, 3, 6, 1, 6, 3, 18, 1, 3, 0)
"""Where pysnmp puts a v1 trap's agent-addr when it translates the trap to v2 form."""
IF_INDEX: OID = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1)
IF_ENTRY: OID = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IF_NAME: OID = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
IF_DESCR: OID = (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)
MAX_TICKS = 2**32 - 1
"""sysUpTime is TimeTicks: 32 bits of centiseconds."""
MAX_IF_INDEX = 2**31 - 1
"""ifIndex is an InterfaceIndex: 1 to 2^31-1 (RFC 2863)."""


class TrapKind(StrEnum):
    COLD_START = "coldStart"
    WARM_START = "warmStart"
    LINK_DOWN = "linkDown"
    LINK_UP = "linkUp"
    OTHER = "other"


TRAP_KINDS: Mapping[OID, TrapKind] = {
    (1, 3, 6, 1, 6, 3, 1, 1, 5, 1): TrapKind.COLD_START,
    (1, 3, 6, 1, 6, 3, 1, 1, 5, 2): TrapKind.WARM_START,
    (1, 3, 6, 1, 6, 3, 1, 1, 5, 3): TrapKind.LINK_DOWN,
    (1, 3, 6, 1, 6, 3, 1, 1, 5, 4): TrapKind.LINK_UP,
}


@dataclass(frozen=True, slots=True)
class TrapEvent:
    """The parts of a notification pubnet acts on."""

    kind: TrapKind
    trap_oid: OID | None
    uptime_ticks: int | None
    if_index: int | None
    if_name: str | None
    agent_address: str | None
    problem: str | None = None
    """Set when a value is outside what its object can hold (a sysUpTime.0 sent as a
    Counter64 of 2^64-1): such a notification is dropped, not believed."""


def _text(value: Value) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    return None


def interpret(varbinds: Sequence[tuple[OID, Value]]) -> TrapEvent:
    """Read snmpTrapOID.0, sysUpTime.0, the interface index/name and the agent address."""
    trap_oid: OID | None = None
    uptime: int | None = None
    if_index: int | None = None
    if_name: str | None = None
    if_descr: str | None = None
    agent: str | None = None
    for oid, value in varbinds:
        if oid == SNMP_TRAP_OID_0 and isinstance(value, tuple):
            trap_oid = value
        elif oid == SYS_UPTIME_0 and isinstance(value, int):
            uptime = value
        elif oid == SNMP_TRAP_ADDRESS_0:
            if isinstance(value, bytes) and len(value) == 4:
                agent = ".".join(str(b) for b in value)
            else:
                agent = _text(value)
        elif oid[:-1] == IF_INDEX and isinstance(value, int):
            if_index = value
        elif oid[:-1] == IF_NAME:
            if_name = _text(value) or None
            if_index = if_index if if_index is not None else oid[-1]
        elif oid[:-1] == IF_DESCR:
            if_descr = _text(value) or None
            if_index = if_index if if_index is not None else oid[-1]
        elif len(oid) == len(IF_ENTRY) + 2 and oid[: len(IF_ENTRY)] == IF_ENTRY:
            if_index = if_index if if_index is not None else oid[-1]
    kind = TRAP_KINDS.get(trap_oid, TrapKind.OTHER) if trap_oid else TrapKind.OTHER
    problem = None
    if uptime is not None and not 0 <= uptime <= MAX_TICKS:
        problem = f"sysUpTime.0 {uptime} is not a TimeTicks value"
    elif if_index is not None and not 1 <= if_index <= MAX_IF_INDEX:
        problem = f"ifIndex {if_index} is outside 1..{MAX_IF_INDEX}"
    return TrapEvent(kind, trap_oid, uptime, if_index, if_name or if_descr, agent, problem)


def interface_label(event: TrapEvent, known: Mapping[SeriesKey, Observation]) -> str | None:
    """The ``ifname`` label for the trap's interface.

    The trap's own ifName (or ifDescr) first; else a name the poller published for that
    ifIndex (any series with both ``ifindex`` and ``ifname`` labels); else ``ifIndex=N``.
    """
    if event.if_name:
        return event.if_name
    if event.if_index is None:
        return None
    wanted = str(event.if_index)
    for _metric, labels in known:
        found = dict(labels)
        if found.get("ifindex") == wanted and LABEL_IFNAME in found:
            return found[LABEL_IFNAME]
    return f"ifIndex={event.if_index}"


def observations_for(device: str, event: TrapEvent, ts: float,
                     known: Mapping[SeriesKey, Observation]) -> list[Observation]:
    """linkDown/linkUp → ``pubnet_interface_oper_up`` 0/1; cold/warm start → uptime."""
    if event.kind in (TrapKind.LINK_DOWN, TrapKind.LINK_UP):
        name = interface_label(event, known)
        if name is None:
            return []
        value = 1.0 if event.kind is TrapKind.LINK_UP else 0.0
        return [Observation(device, IF_OPER_UP, value, ts, Source.TRAP,
                            ((LABEL_IFNAME, name),))]
    if event.kind in (TrapKind.COLD_START, TrapKind.WARM_START):
        uptime = (event.uptime_ticks or 0) / 100.0
        return [Observation(device, DEVICE_UPTIME, uptime, ts, Source.TRAP)]
    return []
