"""The SNMP trap and inform receiver: pysnmp's notification receiver on one UDP port.

pysnmp (asyncio v3arch) does the protocol work: v1/v2c communities, v3 USM with every
auth/priv protocol, inform acknowledgements. This module turns each accepted notification
into store updates within the same event-loop turn (so a linkDown is visible immediately, not
at the next poll), and turns everything pysnmp rejects into counted drops.

Drops are published as ``pubnet_snmp_dropped_packets_total{reason="trap_..."}`` on the device
``pubnet`` (Source.INTERNAL), next to the poller's own reasons; each reason is logged once.
Reasons: ``trap_decode`` (not BER/SNMP), ``trap_bad_version``, ``trap_bad_community``,
``trap_unknown_user``, ``trap_auth`` (wrong digest), ``trap_decrypt``, ``trap_time_window``,
``trap_sec_level``, ``trap_invalid`` (other message errors), ``trap_unknown_source`` (no
inventory device at the sender's address), ``trap_bad_value`` (a sysUpTime.0 or ifIndex
outside what the object holds), ``trap_error`` (pysnmp raised).

What the kernel drops before pysnmp sees it (the socket's receive buffer full while the
event loop is busy: a trap storm of a power event) is counted in
``pubnet_socket_receive_drops_total{socket="traps"}`` (:mod:`collectors.receive_buffer`).

Accepted traps are logged at info, but not one line each: the first of each kind per
``log_summary_every`` seconds, then one summary line with counts (:mod:`.lograte`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from pyasn1.type import univ  # type: ignore[import-untyped]
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config as snmp_config
from pysnmp.entity import engine as snmp_engine
from pysnmp.entity.rfc3413 import ntfrcv
from pysnmp.proto import rfc1902

from collectors.receive_buffer import DropWatch, enlarge_receive_buffer, warn_if_small
from collectors.traps.events import TrapKind, Value, interpret, observations_for
from collectors.traps.lograte import TrapLogLimiter
from inventory.model import Inventory
from pubnet.catalog import (
    LABEL_REASON,
    LABEL_TRAP,
    PUBNET_DEVICE,
    SNMP_DROPPED_PACKETS,
    TRAPS_RECEIVED,
)
from pubnet.config import Credential, TrapsConfig
from pubnet.model import Observation, Source
from pubnet.ports import bind_udp
from pubnet.state import StateStore

log = logging.getLogger("pubnet.traps")

_PYSNMP_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("__SNMPv2-MIB", "snmpInASNParseErrs", "trap_decode"),
    ("__SNMPv2-MIB", "snmpInBadVersions", "trap_bad_version"),
    ("__SNMPv2-MIB", "snmpInBadCommunityNames", "trap_bad_community"),
    ("__SNMP-MPD-MIB", "snmpUnknownPDUHandlers", "trap_invalid"),
    ("__SNMP-MPD-MIB", "snmpInvalidMsgs", "trap_invalid"),
    ("__SNMP-MPD-MIB", "snmpUnknownSecurityModels", "trap_invalid"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownUserNames", "trap_unknown_user"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsWrongDigests", "trap_auth"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsDecryptionErrors", "trap_decrypt"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsNotInTimeWindows", "trap_time_window"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnsupportedSecLevels", "trap_sec_level"),
)
"""pysnmp's own MIB counters, read after every datagram, and the drop reason each means."""

_AUTH = {
    "md5": snmp_config.USM_AUTH_HMAC96_MD5,
    "sha": snmp_config.USM_AUTH_HMAC96_SHA,
    "sha224": snmp_config.USM_AUTH_HMAC128_SHA224,
    "sha256": snmp_config.USM_AUTH_HMAC192_SHA256,
    "sha384": snmp_config.USM_AUTH_HMAC256_SHA384,
    "sha512": snmp_config.USM_AUTH_HMAC384_SHA512,
}
_PRIV = {
    "des": snmp_config.USM_PRIV_CBC56_DES,
    "aes128": snmp_config.USM_PRIV_CFB128_AES,
    "aes192": snmp_config.USM_PRIV_CFB192_AES_BLUMENTHAL,
    "aes256": snmp_config.USM_PRIV_CFB256_AES_BLUMENTHAL,
}


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def source_index(inventory: Inventory) -> tuple[dict[tuple[str, int], str], dict[str, str]]:
    """(host, port) → device and host → device (hosts shared by several devices excluded)."""
    by_pair: dict[tuple[str, int], str] = {}
    by_host: dict[str, str] = {}
    shared: set[str] = set()
    for dev in inventory.devices.values():
        if dev.port is not None:
            by_pair[(dev.host, dev.port)] = dev.device_id
        if dev.host in by_host and by_host[dev.host] != dev.device_id:
            shared.add(dev.host)
        by_host[dev.host] = dev.device_id
    for host in shared:
        del by_host[host]
    return by_pair, by_host


class _CountingUdpTransport(udp.UdpAsyncioTransport):  # type: ignore[misc]
    """pysnmp's UDP transport, but a datagram is processed at once and inside a guard.

    pysnmp schedules each datagram with ``call_soon`` and lets exceptions reach the loop's
    handler; here an exception becomes a counted drop and the receiver learns, right after
    pysnmp is done, that its counters may have moved.
    """

    def __init__(self, on_error: Callable[[BaseException], None],
                 after: Callable[[], None]) -> None:
        super().__init__()
        self._on_error = on_error
        self._after = after

    def datagram_received(self, datagram: bytes, transportAddress: Any) -> None:
        callback = self._callback_function
        try:
            if callback is not None:
                callback(self, transportAddress, datagram)
        except Exception as exc:
            self._on_error(exc)
        finally:
            self._after()


class TrapReceiver:
    """A component: receive notifications on ``traps.listen`` until cancelled."""

    name = "trap-receiver"

    def __init__(
        self,
        config: TrapsConfig,
        credentials: Mapping[str, Credential],
        inventory: Inventory,
        store: StateStore,
        *,
        clock: Callable[[], float] = time.time,
        log_summary_every: float = 60.0,
    ) -> None:
        self.config = config
        self.credentials = {name: credentials[name] for name in config.credentials}
        self.store = store
        self.clock = clock
        self._by_pair, self._by_host = source_index(inventory)
        self.drops: dict[str, int] = {}
        self.received: dict[str, int] = {}
        self._published: dict[str, int] = {}
        self._pysnmp_seen: dict[tuple[str, str], int] = {}
        self._log_limit = TrapLogLimiter(log_summary_every)
        self._engine: Any = None
        self.address: tuple[str, int] | None = None
        """The bound address once running (useful when ``listen`` asks for port 0)."""
        self.ready = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        host, port = parse_listen(self.config.listen)
        sock = bind_udp(host, port, f"traps.listen {self.config.listen}")
        self.address = sock.getsockname()
        warn_if_small(log, "traps", enlarge_receive_buffer(sock))
        kernel_drops = DropWatch("traps", log)
        engine = await asyncio.to_thread(self._make_engine)
        transport = _CountingUdpTransport(self._on_error, self._after_datagram)
        snmp_config.add_transport(engine, udp.DOMAIN_NAME, transport.open_server_mode(sock=sock))
        ntfrcv.NotificationReceiver(engine, self._on_notification)
        self._engine = engine
        log.info("trap receiver listening",
                 extra={"address": "{}:{}".format(*self.address)})
        self.ready.set()
        try:
            while True:
                kernel_drops.publish(self.store, sock, self.clock())
                await asyncio.sleep(self._log_limit.period / 4)
                self._log_summary()
        finally:
            engine.close_dispatcher()
            sock.close()
            self._publish_counters()
            self._log_summary(final=True)

    def _make_engine(self) -> Any:
        """Build the engine and its users off the loop: v3 key localisation hashes 1 MB."""
        engine = snmp_engine.SnmpEngine()
        communities = [
            c.community.get_secret_value() for c in self.credentials.values()
            if c.version in ("1", "2c") and c.community is not None
        ] or ([] if self.credentials else ["public"])
        for number, community in enumerate(communities):
            snmp_config.add_v1_system(engine, f"pubnet-trap-{number}", community)
        engine_ids = [None] + [
            rfc1902.OctetString(hexValue=e.removeprefix("0x").removeprefix("0X"))
            for e in self.config.engine_ids
        ]
        for credential in self.credentials.values():
            if credential.version != "3" or not credential.user:
                continue
            auth = _AUTH[credential.auth_protocol] if credential.auth_protocol else \
                snmp_config.USM_AUTH_NONE
            priv = _PRIV.get(credential.priv_protocol, snmp_config.USM_PRIV_NONE)
            for engine_id in engine_ids:
                snmp_config.add_v3_user(
                    engine, credential.user, auth,
                    credential.auth_key.get_secret_value() if credential.auth_key else None,
                    priv,
                    credential.priv_key.get_secret_value() if credential.priv_key else None,
                    securityEngineId=engine_id,
                )
        return engine

    # -- notifications --------------------------------------------------------------------

    def _source(self, state_reference: Any) -> tuple[str, int] | None:
        try:
            _domain, address = self._engine.message_dispatcher.get_transport_info(
                state_reference)
        except Exception:
            return None
        return str(address[0]), int(address[1])

    def device_for(self, source: tuple[str, int] | None, agent: str | None) -> str | None:
        """The inventory device that sent a notification: by source address and port, by
        source address, then by the v1 agent-addr / snmpTrapAddress."""
        if source is not None:
            found = self._by_pair.get(source) or self._by_host.get(source[0])
            if found:
                return found
        if agent:
            return self._by_host.get(agent)
        return None

    def _on_notification(self, engine: Any, state_reference: Any, context_engine_id: Any,
                         context_name: Any, varbinds: Any, cb_ctx: Any) -> None:
        now = self.clock()
        decoded = [(tuple(oid), _value(value)) for oid, value in varbinds]
        event = interpret(decoded)
        source = self._source(state_reference)
        device = self.device_for(source, event.agent_address)
        self.received[event.kind.value] = self.received.get(event.kind.value, 0) + 1
        if device is None:
            self._drop("trap_unknown_source")
            where = source[0] if source else "?"
            if self._log_limit.first("unknown_source", where, now):
                log.warning("trap from an address not in the inventory",
                            extra={"source": where, "trap": str(event.kind)})
            return
        if event.problem is not None:
            self._drop("trap_bad_value")
            if self._log_limit.first("bad_value", device, now):
                log.warning("trap dropped", extra={"device": device, "trap": str(event.kind),
                                                   "problem": event.problem})
            return
        observations = observations_for(device, event, now, self.store.device_series(device))
        self.store.touch(device, now)
        if observations:
            self.store.publish(observations)
        if event.kind is TrapKind.OTHER or not self._log_limit.first(event.kind, device, now):
            return
        if event.kind in (TrapKind.COLD_START, TrapKind.WARM_START):
            log.info("device restarted", extra={"device": device, "trap": str(event.kind),
                                                "uptime_s": (event.uptime_ticks or 0) // 100})
        else:
            label = observations[0].labels if observations else ()
            log.info("interface down" if event.kind is TrapKind.LINK_DOWN
                     else "interface up", extra={"device": device, **dict(label)})

    def _log_summary(self, final: bool = False) -> None:
        summary = self._log_limit.summary(self.clock(), final=final)
        if summary is not None:
            log.info("traps not logged one by one", extra=summary.fields())

    # -- drops ----------------------------------------------------------------------------

    def _drop(self, reason: str, count: int = 1) -> None:
        if reason not in self.drops:
            log.warning("dropping trap packets", extra={"reason": reason})
        self.drops[reason] = self.drops.get(reason, 0) + count

    def _on_error(self, exc: BaseException) -> None:
        self._drop("trap_error")
        log.debug("pysnmp raised on a datagram",
                  extra={"error": str(exc) or type(exc).__name__})

    def _after_datagram(self) -> None:
        engine = self._engine
        if engine is not None:
            builder = engine.get_mib_builder()
            for module, symbol, reason in _PYSNMP_COUNTERS:
                try:
                    (counter,) = builder.import_symbols(module, symbol)
                    value = int(counter.syntax)
                except Exception:
                    continue
                seen = self._pysnmp_seen.get((module, symbol), 0)
                if value > seen:
                    self._pysnmp_seen[(module, symbol)] = value
                    self._drop(reason, value - seen)
        self._publish_counters()

    def _publish_counters(self) -> None:
        now = self.clock()
        observations = []
        for reason, value in self.drops.items():
            if self._published.get(reason) != value:
                self._published[reason] = value
                observations.append(Observation(
                    PUBNET_DEVICE, SNMP_DROPPED_PACKETS, float(value), now, Source.INTERNAL,
                    ((LABEL_REASON, reason),)))
        for kind, value in self.received.items():
            key = f"received:{kind}"
            if self._published.get(key) != value:
                self._published[key] = value
                observations.append(Observation(
                    PUBNET_DEVICE, TRAPS_RECEIVED, float(value), now, Source.INTERNAL,
                    ((LABEL_TRAP, kind),)))
        if observations:
            self.store.publish(observations)


def _value(value: Any) -> Value:
    """A pysnmp/pyasn1 value as a plain Python value: ints, bytes, OID tuples."""
    if isinstance(value, univ.ObjectIdentifier):
        return tuple(value)
    if isinstance(value, univ.OctetString):  # also IpAddress and Opaque
        return bytes(value.asOctets())
    if isinstance(value, univ.Integer):  # also Counter32/64, Gauge32, TimeTicks
        return int(value)
    return None
