"""The OID tree a simulated device answers, built once per device *shape* and shared.

A shape is everything that decides which OIDs exist (profile kind, interface and radio
indexes, CPUs, whether 64-bit counters exist); thousands of devices share a handful of
shapes. A shape holds the sorted OID tuples for ``bisect`` (GETNEXT/GETBULK), a dict for GET,
each OID's pre-encoded TLV, and a getter ``(device, now, arg) -> value TLV`` per OID, so a
request costs a lookup and one small encode per varbind.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from pubnet.ber import (
    OID,
    Tag,
    encode_int,
    encode_octets,
    encode_oid,
    encode_unsigned,
)
from simulator.device import MASK32, MASK64, Interface, SimDevice

Getter = Callable[[SimDevice, float, int], bytes]

# -- well-known OIDs ----------------------------------------------------------------------

SYSTEM = (1, 3, 6, 1, 2, 1, 1)
SYS_DESCR = (*SYSTEM, 1, 0)
SYS_OBJECT_ID = (*SYSTEM, 2, 0)
SYS_UPTIME = (*SYSTEM, 3, 0)
SYS_CONTACT = (*SYSTEM, 4, 0)
SYS_NAME = (*SYSTEM, 5, 0)
SYS_LOCATION = (*SYSTEM, 6, 0)
SYS_SERVICES = (*SYSTEM, 7, 0)
IF_NUMBER = (1, 3, 6, 1, 2, 1, 2, 1, 0)
IF_ENTRY = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX_ENTRY = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
HR_SYSTEM_UPTIME = (1, 3, 6, 1, 2, 1, 25, 1, 1, 0)
HR_MEMORY_SIZE = (1, 3, 6, 1, 2, 1, 25, 2, 2, 0)
HR_STORAGE_ENTRY = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1)
HR_STORAGE_RAM = (1, 3, 6, 1, 2, 1, 25, 2, 1, 2)
HR_PROCESSOR_ENTRY = (1, 3, 6, 1, 2, 1, 25, 3, 3, 1)
HR_PROCESSOR_BASE_INDEX = 196608

IF_INDEX = (*IF_ENTRY, 1)
IF_DESCR = (*IF_ENTRY, 2)
IF_ADMIN_STATUS = (*IF_ENTRY, 7)
IF_OPER_STATUS = (*IF_ENTRY, 8)
IF_IN_OCTETS = (*IF_ENTRY, 10)
IF_OUT_OCTETS = (*IF_ENTRY, 16)
IF_NAME = (*IFX_ENTRY, 1)
IF_HC_IN_OCTETS = (*IFX_ENTRY, 6)
IF_HC_OUT_OCTETS = (*IFX_ENTRY, 10)
IF_HIGH_SPEED = (*IFX_ENTRY, 15)
IF_ALIAS = (*IFX_ENTRY, 18)

SNMP_ENGINE = (1, 3, 6, 1, 6, 3, 10, 2, 1)
SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
TRAP_COLD_START = (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)
TRAP_WARM_START = (1, 3, 6, 1, 6, 3, 1, 1, 5, 2)
TRAP_LINK_DOWN = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
TRAP_LINK_UP = (1, 3, 6, 1, 6, 3, 1, 1, 5, 4)

# Ubiquiti UniFi access points (UBNT-UniFi-MIB, enterprise 41112), the AP MIB the poller's
# access-point profile walks: unifiVapTable, one row per radio's VAP.
UNIFI_VAP_ENTRY = (1, 3, 6, 1, 4, 1, 41112, 1, 6, 1, 2, 1)


@dataclass(frozen=True, slots=True)
class ShapeKey:
    """What decides which OIDs a device has."""

    if_indexes: tuple[int, ...]
    radios: tuple[int, ...]
    cpus: int
    hc: bool
    host_resources: bool
    ap: bool


@dataclass(slots=True)
class Shape:
    """Sorted OIDs with their encoded names and getters; shared by same-shaped devices."""

    oids: list[OID]
    oid_tlvs: list[bytes]
    getters: list[Getter]
    args: list[int]
    static: list[bool]
    """Whether the value never changes for a device (its varbind is cached per device)."""
    positions: dict[OID, int]
    objects: frozenset[OID]
    """Every OID minus its last arc: a GET for an unknown instance of one of these is
    noSuchInstance, anything else noSuchObject."""
    v1: Shape | None = field(default=None, repr=False)

    def next_position(self, oid: OID) -> int:
        """Index of the first OID strictly after ``oid`` (== len when past the end)."""
        return bisect_right(self.oids, oid)

    def without_counter64(self) -> Shape:
        """The same tree minus Counter64 objects, which SNMPv1 cannot carry."""
        if self.v1 is None:
            keep = [i for i, oid in enumerate(self.oids)
                    if oid[:-1] not in (IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS)]
            self.v1 = _make_shape(
                [(self.oids[i], self.getters[i], self.args[i]) for i in keep]
            )
            self.v1.v1 = self.v1
        return self.v1


def _make_shape(entries: list[tuple[OID, Getter, int]]) -> Shape:
    entries.sort(key=lambda entry: entry[0])
    oids = [e[0] for e in entries]
    return Shape(
        oids=oids,
        oid_tlvs=[encode_oid(oid) for oid in oids],
        getters=[e[1] for e in entries],
        args=[e[2] for e in entries],
        static=[e[1] in STATIC_GETTERS for e in entries],
        positions={oid: i for i, oid in enumerate(oids)},
        objects=frozenset(oid[:-1] for oid in oids),
    )


# -- getters ------------------------------------------------------------------------------
# Each takes (device, now, arg); ``arg`` is an interface/radio/CPU position.


def _descr(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets(d.sys_descr)


def _object_id(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_oid(d.sys_object_id)


def _uptime(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.TIMETICKS, d.uptime_ticks(now))


def _contact(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets("noc@pubnet.example")


def _name(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets(d.sys_name)


def _location(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets(d.sys_location)


def _services(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(6 if d.is_ap else 78)


def _if_number(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(len(d.interfaces))


def _iface(d: SimDevice, arg: int) -> Interface:
    return d.interfaces[arg]


def _if_index(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(d.interfaces[arg].index)


def _if_descr(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets(d.interfaces[arg].descr)


def _if_type(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(d.interfaces[arg].if_type)


def _if_mtu(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(1500)


def _if_speed(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.GAUGE32, min(d.interfaces[arg].speed_bps, MASK32))


def _if_phys(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets(bytes((0x02, 0x50, *d.index.to_bytes(3, "big"), arg & 0xFF)))


def _if_admin(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(1 if d.interfaces[arg].admin_up else 2)


def _if_oper(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(1 if d.interfaces[arg].oper_up else 2)


def _if_last_change(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.TIMETICKS, int(d.interfaces[arg].last_change * 100) & MASK32)


def _in_octets32(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.COUNTER32, d.in_octets(d.interfaces[arg], now) & MASK32)


def _out_octets32(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.COUNTER32, d.out_octets(d.interfaces[arg], now) & MASK32)


def _in_octets64(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.COUNTER64, d.in_octets(d.interfaces[arg], now) & MASK64)


def _out_octets64(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.COUNTER64, d.out_octets(d.interfaces[arg], now) & MASK64)


def _in_ucast(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.COUNTER32, (d.in_octets(d.interfaces[arg], now) // 800) & MASK32)


def _out_ucast(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.COUNTER32, (d.out_octets(d.interfaces[arg], now) // 800) & MASK32)


def _counter(salt: int) -> Getter:
    def getter(d: SimDevice, now: float, arg: int) -> bytes:
        return encode_unsigned(Tag.COUNTER32, d.errors(d.interfaces[arg], now, salt) & MASK32)
    return getter


def _if_name(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets(d.interfaces[arg].name)


def _if_high_speed(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.GAUGE32, d.interfaces[arg].speed_bps // 1_000_000)


def _if_alias(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets(d.interfaces[arg].alias)


def _hr_uptime(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.TIMETICKS, d.uptime_ticks(now))


def _hr_memory(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(d.ram_kb)


def _storage_index(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(1)


def _storage_type(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_oid(HR_STORAGE_RAM)


def _storage_descr(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets("Physical memory")


def _storage_units(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(1024)


def _storage_size(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(d.ram_kb)


def _storage_used(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(d.ram_used_kb(now))


def _cpu_frw(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_oid((0, 0))


def _cpu_load(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(d.cpu_load(now, arg))


def _engine_id(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets(d.engine_id)


def _engine_boots(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(d.engine_boots)


def _engine_time(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(d.engine_time(now))


def _engine_max_size(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(65507)


def _radio_clients(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_unsigned(Tag.GAUGE32, d.clients(d.radios[arg], now))


def _vap_channel(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(d.radios[arg].channel)


def _vap_essid(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets("PUBNET-FREE-WIFI")


def _vap_name(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets(f"ath{arg}")


def _vap_radio(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_octets(d.radios[arg].band)


def _vap_tx_power(d: SimDevice, now: float, arg: int) -> bytes:
    return encode_int(d.radios[arg].tx_power_dbm)


STATIC_GETTERS: frozenset[Getter] = frozenset({
    _descr, _object_id, _contact, _name, _location, _services, _if_number, _if_index,
    _if_descr, _if_type, _if_mtu, _if_speed, _if_phys, _if_name, _if_high_speed, _if_alias,
    _hr_memory, _storage_index, _storage_type, _storage_descr, _storage_units, _storage_size,
    _cpu_frw, _engine_id, _engine_max_size, _vap_channel, _vap_essid, _vap_name, _vap_radio,
    _vap_tx_power,
})
"""Getters whose value depends only on the device (never on time or faults)."""

# -- building -----------------------------------------------------------------------------


def shape_key(device: SimDevice) -> ShapeKey:
    return ShapeKey(
        if_indexes=tuple(i.index for i in device.interfaces),
        radios=tuple(r.index for r in device.radios),
        cpus=device.cpus,
        hc=device.hc,
        host_resources=device.has_host_resources,
        ap=device.is_ap,
    )


def build_shape(key: ShapeKey) -> Shape:
    """Every OID a device of this shape answers."""
    entries: list[tuple[OID, Getter, int]] = [
        (SYS_DESCR, _descr, 0), (SYS_OBJECT_ID, _object_id, 0), (SYS_UPTIME, _uptime, 0),
        (SYS_CONTACT, _contact, 0), (SYS_NAME, _name, 0), (SYS_LOCATION, _location, 0),
        (SYS_SERVICES, _services, 0), (IF_NUMBER, _if_number, 0),
        ((*SNMP_ENGINE, 1, 0), _engine_id, 0), ((*SNMP_ENGINE, 2, 0), _engine_boots, 0),
        ((*SNMP_ENGINE, 3, 0), _engine_time, 0), ((*SNMP_ENGINE, 4, 0), _engine_max_size, 0),
    ]
    if_columns: list[tuple[int, Getter]] = [
        (1, _if_index), (2, _if_descr), (3, _if_type), (4, _if_mtu), (5, _if_speed),
        (6, _if_phys), (7, _if_admin), (8, _if_oper), (9, _if_last_change),
        (10, _in_octets32), (11, _in_ucast), (13, _counter(1)), (14, _counter(0)),
        (16, _out_octets32), (17, _out_ucast), (19, _counter(3)), (20, _counter(2)),
    ]
    ifx_columns: list[tuple[int, Getter]] = [(1, _if_name), (15, _if_high_speed), (18, _if_alias)]
    if key.hc:
        ifx_columns += [(6, _in_octets64), (10, _out_octets64)]
    for pos, if_index in enumerate(key.if_indexes):
        for column, getter in if_columns:
            entries.append(((*IF_ENTRY, column, if_index), getter, pos))
        for column, getter in ifx_columns:
            entries.append(((*IFX_ENTRY, column, if_index), getter, pos))
    if key.host_resources:
        entries += [
            (HR_SYSTEM_UPTIME, _hr_uptime, 0), (HR_MEMORY_SIZE, _hr_memory, 0),
            ((*HR_STORAGE_ENTRY, 1, 1), _storage_index, 0),
            ((*HR_STORAGE_ENTRY, 2, 1), _storage_type, 0),
            ((*HR_STORAGE_ENTRY, 3, 1), _storage_descr, 0),
            ((*HR_STORAGE_ENTRY, 4, 1), _storage_units, 0),
            ((*HR_STORAGE_ENTRY, 5, 1), _storage_size, 0),
            ((*HR_STORAGE_ENTRY, 6, 1), _storage_used, 0),
        ]
        for cpu in range(key.cpus):
            index = HR_PROCESSOR_BASE_INDEX + cpu
            entries.append(((*HR_PROCESSOR_ENTRY, 1, index), _cpu_frw, cpu))
            entries.append(((*HR_PROCESSOR_ENTRY, 2, index), _cpu_load, cpu))
    if key.ap:
        vap_columns: list[tuple[int, Getter]] = [
            (4, _vap_channel), (6, _vap_essid), (7, _vap_name), (8, _radio_clients),
            (9, _vap_radio), (21, _vap_tx_power),
        ]
        for pos, radio in enumerate(key.radios):
            for column, getter in vap_columns:
                entries.append(((*UNIFI_VAP_ENTRY, column, radio), getter, pos))
    return _make_shape(entries)


class ShapeCache:
    """One :class:`Shape` per :class:`ShapeKey`, built on first use."""

    def __init__(self) -> None:
        self._shapes: dict[ShapeKey, Shape] = {}

    def get(self, device: SimDevice) -> Shape:
        key = shape_key(device)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shapes[key] = build_shape(key)
        return shape

    def __len__(self) -> int:
        return len(self._shapes)
