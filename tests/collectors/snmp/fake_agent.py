"""A scriptable SNMPv2c agent on a loopback UDP port, for what snmpd will not do: answer
garbage, loop in a walk, say tooBig, return exception varbinds.

Requests are read and responses written with pubnet's one BER codec (:mod:`pubnet.ber`,
the simulator's), so a test's hand-made answer and the simulator's real one are encoded
alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pubnet import ber

NO_SUCH_OBJECT = object()
NO_SUCH_INSTANCE = object()
END_OF_MIB_VIEW = object()
_EXCEPTIONS = {id(NO_SUCH_OBJECT): ber.NO_SUCH_OBJECT, id(NO_SUCH_INSTANCE): ber.NO_SUCH_INSTANCE,
               id(END_OF_MIB_VIEW): ber.END_OF_MIB_VIEW}

GET, GETNEXT, GETBULK = ber.PduType.GET, ber.PduType.GETNEXT, ber.PduType.GETBULK


def ber_oid(oid: str) -> bytes:
    """The OBJECT IDENTIFIER TLV of a dotted OID."""
    return ber.encode_oid(ber.parse_oid(oid))


def ber_value(value: object) -> bytes:
    if isinstance(value, bool):
        raise TypeError("no booleans in SNMP")
    if isinstance(value, int):
        return ber.encode_int(value)
    if isinstance(value, bytes | str):
        return ber.encode_octets(value)
    return _EXCEPTIONS[id(value)]


@dataclass(frozen=True, slots=True)
class Request:
    pdu: int
    request_id: int
    oids: list[str]
    max_repetitions: int
    community: bytes


_DECODER = ber.Decoder()


def parse_request(data: bytes) -> Request:
    """A v1/v2c request as the tests read it (dotted OIDs); raises ber.BerError."""
    decoded = _DECODER.decode(data)
    return Request(decoded.pdu_type, decoded.request_id,
                   [".".join(map(str, oid)) for oid in decoded.oids],
                   decoded.max_repetitions, decoded.community)


def response(request: Request, varbinds: Sequence[tuple[str, object]],
             error_status: int = 0, error_index: int = 0) -> bytes:
    vbs = b"".join(ber.varbind(ber_oid(o), ber_value(v)) for o, v in varbinds)
    return ber.encode_message(ber.Version.V2C, request.community, ber.PduType.RESPONSE,
                              request.request_id, error_status, error_index, vbs)


Handler = Callable[[Request], list[bytes]]


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, handler: Handler, seen: list[Request],
                 peers: list[tuple[str | int, ...]]) -> None:
        self.handler = handler
        self.seen = seen
        self.peers = peers
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        request = parse_request(data)
        self.seen.append(request)
        self.peers.append(addr)
        assert self.transport is not None
        for answer in self.handler(request):
            self.transport.sendto(answer, addr)


class FakeAgent:
    """``async with FakeAgent(handler) as agent:`` → ``agent.port``, ``agent.seen`` (requests),
    ``agent.peers`` (the address each came from)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.seen: list[Request] = []
        self.peers: list[tuple[str | int, ...]] = []
        self.port = 0
        self._transport: asyncio.BaseTransport | None = None

    async def __aenter__(self) -> FakeAgent:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self.handler, self.seen, self.peers), local_addr=("127.0.0.1", 0))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def send(self, datagram: bytes, peer: tuple[str | int, ...]) -> None:
        """Send an extra datagram from the agent's address (late, stale or repeated answers)."""
        transport = cast(asyncio.DatagramTransport, self._transport)  # uvloop's is no subclass
        transport.sendto(datagram, peer)

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            self._transport.close()


def table_walk(table: dict[str, object], request: Request) -> list[tuple[str, object]]:
    """GETNEXT/GETBULK semantics over a small sorted table (single varbind requests)."""
    def key(oid: str) -> tuple[int, ...]:
        return tuple(int(x) for x in oid.split("."))
    ordered = sorted(table, key=key)
    start = key(request.oids[0])
    after = [o for o in ordered if key(o) > start]
    count = request.max_repetitions if request.pdu == GETBULK else 1
    out: list[tuple[str, object]] = [(o, table[o]) for o in after[:count]]
    if len(out) < count:
        out.append((request.oids[0], END_OF_MIB_VIEW))
    return out
