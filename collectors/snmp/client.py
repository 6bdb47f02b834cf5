"""The one small SNMP client interface pubnet codes against.

The poller's hot path uses the gufo-snmp implementation (:mod:`collectors.snmp.gufo_client`);
tests and the simulator may plug in another (pysnmp) through :data:`ClientFactory`. Every
implementation raises only the types in :mod:`collectors.snmp.errors` and counts what it
drops in a shared :class:`PacketStats`.

OIDs are numeric strings without a leading dot (``1.3.6.1.2.1.1.3.0``): that is the form the
wire libraries take and return, so the hot path never converts them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from collectors.snmp.errors import SnmpNoSuchName
from pubnet.config import Credential

Value = None | str | bytes | int | float
"""A varbind value: integers for INTEGER/Counter/Gauge/TimeTicks, bytes for OCTET STRING,
str for OBJECT IDENTIFIER and IpAddress."""

DEFAULT_MAX_REPETITIONS = 25


@dataclass(frozen=True, slots=True)
class SnmpTarget:
    """Where and how to ask: an agent address, its credential, and the request policy.

    Each request costs at most ``timeout`` per attempt and ``retries + 1`` attempts.
    """

    host: str
    port: int
    credential: Credential
    timeout: float = 2.0
    retries: int = 1


def text(value: Value) -> str:
    """OCTET STRINGs as UTF-8 (Thai names survive), NULs and spaces trimmed."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip("\x00 \t\r\n")
    if value is None:
        return ""
    return str(value)


LABEL_MAX_CHARS = 256
"""The longest label value taken from a device. A sysDescr or ifAlias is free text the
device's owner writes; one of 60 kB would be repeated on every scrape and in every
Influx point. Longer values are cut and end in ``…`` so the cut is visible."""


def label_text(value: Value) -> str:
    """:func:`text`, bounded to :data:`LABEL_MAX_CHARS` for use as a label value."""
    out = text(value)
    if len(out) > LABEL_MAX_CHARS:
        return out[:LABEL_MAX_CHARS - 1] + "…"
    return out


@dataclass(slots=True)
class PacketStats:
    """Counters shared by every client of one poller (one event loop, no locking).

    ``dropped`` is keyed by reason: ``decode`` (a datagram that did not parse, or that
    failed pubnet's BER check before gufo-snmp read it), ``flushed`` (a datagram queued
    ahead of a malformed one, dropped with it), ``request_id`` (an answer whose request id is
    not the one awaited), ``late_response`` (arrived after its request was answered or given
    up). Datagrams from unexpected
    addresses never reach gufo-snmp's connected sockets (the kernel drops them); see
    docs/metrics.md.
    """

    requests: int = 0
    retries: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


class SnmpClient(ABC):
    """A conversation with one agent. Use ``async with``; leaving the block frees the
    socket unless :attr:`keep_open` is set, and :meth:`close` frees it in any case.

    Every implementation (gufo-snmp, pysnmp, the tests' scripted agents) subclasses this:
    how a block ends and what a walk takes are the same for all of them, so they are written
    here once; each implementation opens its socket (``__aenter__``), asks (:meth:`get`,
    :meth:`_walk`) and frees it (:meth:`close`) its own way.
    """

    __slots__ = ("keep_open",)

    def __init__(self) -> None:
        self.keep_open = False
        """Keep the socket (and, for v3, the learned engine id, boots and time) between
        ``async with`` blocks until :meth:`close`; the poller sets it when file descriptors
        allow. An implementation that cannot keep a socket open reopens it at each block."""

    @abstractmethod
    def close(self) -> None:
        """Free the socket now; the next ``async with`` opens a new one. Never raises: it is
        called on error paths (a failed ``__aenter__`` never reaches ``__aexit__``)."""

    def _keeps_socket(self) -> bool:
        """Whether the socket outlives the ``async with`` block that ends without an error."""
        return self.keep_open

    @abstractmethod
    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None or not self._keeps_socket():
            self.close()

    @abstractmethod
    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        """GET several OIDs in one PDU.

        noSuchObject / noSuchInstance / endOfMibView varbinds are left out of the result.
        Raises :class:`~collectors.snmp.errors.SnmpTimeout`, ``SnmpAuthError``,
        ``SnmpUnknownUser``, ``SnmpUnreachable``, ``SnmpNoSuchName`` or ``SnmpError``.
        """

    async def bulk_walk(
        self,
        oid: str,
        max_repetitions: int = DEFAULT_MAX_REPETITIONS,
        *,
        stop_after: str | None = None,
    ) -> list[tuple[str, Value]]:
        """Walk the subtree under ``oid`` with GETBULK (GETNEXT on v1).

        Stops when an OID leaves the subtree or does not increase, and (when ``stop_after``
        is an OID inside the subtree) once an OID is past everything under ``stop_after`` —
        a varbind beyond it may still be in the result. Exception varbinds are skipped.
        A response without varbinds (an agent's tooBig) is retried with fewer repetitions.
        Raises like :meth:`get`.
        """
        return await self._walk(oid, max_repetitions, stop_index(oid, stop_after))

    @abstractmethod
    async def _walk(self, oid: str, max_repetitions: int, limit: tuple[int, ...] | None
                    ) -> list[tuple[str, Value]]:
        """:meth:`bulk_walk`, with ``stop_after`` as :func:`stop_index` turned it."""


ClientFactory = Callable[[SnmpTarget, PacketStats], SnmpClient]
"""Builds a client for one target; the poller calls it once per device."""


def stop_index(oid: str, stop_after: str | None) -> tuple[int, ...] | None:
    """``stop_after`` as sub-identifiers relative to ``oid``, or None when it is not inside
    ``oid``'s subtree (then the walk runs to the end of the subtree)."""
    prefix = oid + "."
    if stop_after is None or not stop_after.startswith(prefix):
        return None
    return tuple(int(part) for part in stop_after[len(prefix):].split("."))



def walk_index(name: str, prefix: str, last: tuple[int, ...], stats: PacketStats
               ) -> tuple[int, ...] | None:
    """The index of ``name`` in the walked subtree (``prefix`` is the subtree's OID and a
    dot), or None where the walk must end: ``name`` left the subtree, or it does not come
    after ``last`` (an agent that would make the walk loop, counted as
    ``non_increasing_oid``). Every client's GETNEXT-style walk takes this one step."""
    if not name.startswith(prefix):
        return None
    index = tuple(map(int, name[len(prefix):].split(".")))
    if index <= last:
        stats.drop("non_increasing_oid")
        return None
    return index


def past_stop(index: tuple[int, ...], limit: tuple[int, ...] | None) -> bool:
    """Whether a walk at ``index`` is past everything under ``limit`` (:func:`stop_index`)."""
    return limit is not None and index[:len(limit)] > limit


async def get_each_alone(oids: Sequence[str],
                         get_one: Callable[[str], Awaitable[dict[str, Value]]]
                         ) -> dict[str, Value]:
    """A v1 agent answers a GET naming one OID it lacks with noSuchName for the whole PDU:
    ask each OID in a PDU of its own and keep the answers of those it has."""
    out: dict[str, Value] = {}
    for oid in oids:
        try:
            out.update(await get_one(oid))
        except SnmpNoSuchName:
            continue
    return out
