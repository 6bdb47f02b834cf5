"""One simulated device: what it is, how its values move with time, and its injected faults.

Every value is a pure function of the device's seed and the wall clock, so two runs with the
same seed answer the same numbers at the same instant, and a test can compute what the poller
should have seen. Counters follow a daily curve: the integral of ``rate × (1 − A·cos(ωt + φ))``
grows strictly, so counters never go backwards except through an injected reboot or wrap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from inventory.model import Role
from simulator.usm import LocalUser, UserSpec, engine_id_for

DAY = 86_400.0
_OMEGA = 2.0 * math.pi / DAY
_AMPLITUDE = 0.5
MASK32 = (1 << 32) - 1
MASK64 = (1 << 64) - 1


def mix(*values: int) -> int:
    """A stable 64-bit hash of integers (splitmix64 steps); Python's ``hash`` is salted."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (value & MASK64)) & MASK64
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        state = z ^ (z >> 31)
    return state


def unit(*values: int) -> float:
    """A stable pseudo-random number in [0, 1) from integers."""
    return (mix(*values) >> 11) / float(1 << 53)


def text_key(text: str) -> int:
    return int.from_bytes(text.encode("utf-8")[:32].ljust(8, b"\0")[:8], "big") ^ len(text)


@dataclass(slots=True)
class Interface:
    """One interface; rates are the daily mean in bytes (errors: events) per second."""

    index: int
    name: str
    descr: str
    alias: str
    if_type: int
    speed_bps: int
    in_rate: float
    out_rate: float
    error_rate: float
    admin_up: bool = True
    oper_up: bool = True
    last_change: float = 0.0
    """Elapsed seconds since boot when the oper status last changed (ifLastChange)."""
    frozen_at: float | None = None
    """Elapsed seconds since boot when the link went down; traffic stops there."""
    lost: float = 0.0
    """Traffic-curve units that passed while the link was down (never counted)."""
    wrap_in: int = 0
    wrap_out: int = 0


@dataclass(slots=True)
class Radio:
    """One Wi-Fi radio of an access point."""

    index: int
    band: str
    channel: int
    tx_power_dbm: int
    noise_dbm: int
    capacity: int
    """Clients at the busiest hour."""


@dataclass(slots=True)
class Faults:
    """What is currently wrong with a device (all off by default)."""

    silent: bool = False
    """Drop every request: the device is dead or unreachable."""
    delay: float = 0.0
    """Answer this many seconds late."""
    malformed: bool = False
    """Answer with bytes a client must reject (truncated, wrong id, garbage...)."""
    malformed_count: int = 0


@dataclass(slots=True)
class SimDevice:
    """A simulated device. Mutable on purpose: fault injection changes it in place."""

    device_id: str
    index: int
    role: Role
    profile: str
    host: str
    port: int
    community: bytes
    sys_name: str
    sys_descr: str
    sys_object_id: tuple[int, ...]
    sys_location: str
    seed: int
    boot: float
    """Unix time of the last (simulated) boot."""
    phase: float
    interfaces: list[Interface]
    radios: list[Radio] = field(default_factory=list)
    cpus: int = 1
    ram_kb: int = 262_144
    hc: bool = True
    """Whether the device has the 64-bit ifHC* counters (False: a 32-bit-only agent)."""
    is_ap: bool = False
    has_host_resources: bool = True
    faults: Faults = field(default_factory=Faults)
    varbinds: dict[bytes, bytes] = field(default_factory=dict, repr=False)
    users: dict[bytes, UserSpec] = field(default_factory=dict, repr=False)
    """SNMPv3 users this device accepts (name → spec)."""
    local_users: dict[bytes, LocalUser] = field(default_factory=dict, repr=False)
    """Users with keys localised to this device's engine, filled on first use."""
    engine_boots: int = 1

    @property
    def engine_id(self) -> bytes:
        return engine_id_for(self.index)

    def engine_time(self, now: float) -> int:
        return int(self.elapsed(now)) & 0x7FFFFFFF
    """Encoded varbinds of values that never change, keyed by their encoded OID."""

    # -- time -----------------------------------------------------------------------------

    def elapsed(self, now: float) -> float:
        return max(0.0, now - self.boot)

    def uptime_ticks(self, now: float) -> int:
        """sysUpTime in hundredths of a second; rolls over after 497 days like a real one."""
        return int(self.elapsed(now) * 100) & MASK32

    def curve(self, elapsed: float) -> float:
        """∫ (1 − A·cos(ωt + φ)) dt from boot: seconds of 'average traffic' so far."""
        phase = self.phase
        return elapsed - (_AMPLITUDE / _OMEGA) * (
            math.sin(_OMEGA * elapsed + phase) - math.sin(phase)
        )

    def activity(self, now: float) -> float:
        """The daily curve's height now, between 1 − A and 1 + A."""
        return 1.0 - _AMPLITUDE * math.cos(_OMEGA * self.elapsed(now) + self.phase)

    # -- interfaces -----------------------------------------------------------------------

    def traffic(self, iface: Interface, now: float) -> float:
        elapsed = self.elapsed(now)
        if iface.frozen_at is not None:
            elapsed = min(elapsed, iface.frozen_at)
        return self.curve(elapsed) - iface.lost

    def in_octets(self, iface: Interface, now: float) -> int:
        return int(iface.in_rate * self.traffic(iface, now)) + iface.wrap_in

    def out_octets(self, iface: Interface, now: float) -> int:
        return int(iface.out_rate * self.traffic(iface, now)) + iface.wrap_out

    def errors(self, iface: Interface, now: float, salt: int) -> int:
        return int(iface.error_rate * (1.0 + 0.25 * salt) * self.traffic(iface, now))

    def set_link(self, iface: Interface, up: bool, now: float) -> bool:
        """Change the oper status; returns False when it already was so."""
        if iface.oper_up == up:
            return False
        elapsed = self.elapsed(now)
        if up:
            if iface.frozen_at is not None:
                iface.lost += self.curve(elapsed) - self.curve(iface.frozen_at)
            iface.frozen_at = None
        else:
            iface.frozen_at = elapsed
        iface.oper_up = up
        iface.last_change = elapsed
        return True

    def interface(self, key: int | str) -> Interface:
        """By ifIndex or ifName; raises KeyError naming the device."""
        for iface in self.interfaces:
            if iface.index == key or iface.name == key:
                return iface
        raise KeyError(f"{self.device_id}: no interface {key!r}")

    def reboot(self, now: float) -> None:
        """Restart: sysUpTime and every counter from zero, every link up."""
        self.boot = now
        self.engine_boots += 1
        for iface in self.interfaces:
            iface.oper_up = iface.admin_up
            iface.frozen_at = None
            iface.lost = 0.0
            iface.wrap_in = iface.wrap_out = 0
            iface.last_change = 0.0

    def wrap_soon(self, now: float, seconds: float) -> None:
        """Move every interface's octet counters so their 32-bit value wraps in ``seconds``."""
        for iface in self.interfaces:
            iface.wrap_in = iface.wrap_out = 0
            for attr, value, rate in (
                ("wrap_in", self.in_octets(iface, now), iface.in_rate),
                ("wrap_out", self.out_octets(iface, now), iface.out_rate),
            ):
                target = (1 << 32) - max(1, int(rate * seconds))
                setattr(iface, attr, (target - value) % (1 << 32))

    # -- host resources and radios --------------------------------------------------------

    def cpu_load(self, now: float, cpu: int) -> int:
        minute = int(now // 60)
        noise = unit(self.seed, self.index, cpu, minute)
        return min(100, int(8 + 30 * (self.activity(now) - 0.5) + 25 * noise))

    def ram_used_kb(self, now: float) -> int:
        minute = int(now // 60)
        share = 0.35 + 0.2 * (self.activity(now) - 0.5) + 0.1 * unit(self.seed, self.index, minute)
        return int(self.ram_kb * share)

    def clients(self, radio: Radio, now: float) -> int:
        """Associated clients: follows the day, busiest in the evening, some per-minute noise."""
        minute = int(now // 60)
        busy = max(0.0, self.activity(now) - 0.5)
        noise = unit(self.seed, self.index, radio.index, minute)
        return max(0, int(radio.capacity * busy + 3 * noise))


def default_interfaces(role: Role) -> list[tuple[str, int, int]]:
    """(name, ifType, speed) a device of this role has when the inventory names none."""
    if role is Role.ACCESS_POINT:
        return [("eth0", 6, 1_000_000_000), ("wlan0", 71, 144_000_000),
                ("wlan1", 71, 866_000_000)]
    if role is Role.SITE_GATEWAY:
        return [("ether1", 6, 100_000_000), ("ether2", 6, 1_000_000_000),
                ("ether3", 6, 1_000_000_000), ("ether4", 6, 1_000_000_000)]
    speed = 10_000_000_000 if role in (Role.CORE, Role.PROVINCIAL_NODE) else 1_000_000_000
    return [(f"GigabitEthernet0/0/{i}", 6, speed) for i in range(8)]
