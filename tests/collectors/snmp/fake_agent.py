"""A scriptable SNMPv2c agent on a loopback UDP port, for what snmpd will not do: answer
garbage, loop in a walk, say tooBig, return exception varbinds.

Just enough BER to read a request (version, community, PDU type, request id, OIDs,
max-repetitions) and to write a response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

NO_SUCH_OBJECT = object()
NO_SUCH_INSTANCE = object()
END_OF_MIB_VIEW = object()
_EXCEPTIONS = {id(NO_SUCH_OBJECT): 0x80, id(NO_SUCH_INSTANCE): 0x81, id(END_OF_MIB_VIEW): 0x82}

GET, GETNEXT, GETBULK = 0xA0, 0xA1, 0xA5


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def ber_int(value: int, tag: int = 0x02) -> bytes:
    return tlv(tag, value.to_bytes((value.bit_length() + 8) // 8 or 1, "big", signed=True))


def ber_oid(oid: str) -> bytes:
    arcs = [int(x) for x in oid.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return tlv(0x06, bytes(out))


def ber_value(value: object) -> bytes:
    if isinstance(value, bool):
        raise TypeError("no booleans in SNMP")
    if isinstance(value, int):
        return ber_int(value)
    if isinstance(value, bytes):
        return tlv(0x04, value)
    if isinstance(value, str):
        return tlv(0x04, value.encode())
    return tlv(_EXCEPTIONS[id(value)], b"")


def _read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    return tag, data[pos:pos + length], pos + length


def _oid_text(body: bytes) -> str:
    arcs = [body[0] // 40, body[0] % 40]
    value = 0
    for byte in body[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(map(str, arcs))


@dataclass(frozen=True, slots=True)
class Request:
    pdu: int
    request_id: int
    oids: list[str]
    max_repetitions: int
    community: bytes


def parse_request(data: bytes) -> Request:
    _, message, _ = _read(data, 0)
    _, _version, pos = _read(message, 0)
    _, community, pos = _read(message, pos)
    pdu_tag, pdu, _ = _read(message, pos)
    _, reqid, pos = _read(pdu, 0)
    _, _nonrep, pos = _read(pdu, pos)
    _, maxrep, pos = _read(pdu, pos)
    _, varbinds, _ = _read(pdu, pos)
    oids = []
    vpos = 0
    while vpos < len(varbinds):
        _, vb, vpos = _read(varbinds, vpos)
        _, oid, _ = _read(vb, 0)
        oids.append(_oid_text(oid))
    return Request(pdu_tag, int.from_bytes(reqid, "big", signed=True), oids,
                   int.from_bytes(maxrep, "big"), community)


def response(request: Request, varbinds: Sequence[tuple[str, object]],
             error_status: int = 0, error_index: int = 0) -> bytes:
    vbs = b"".join(tlv(0x30, ber_oid(o) + ber_value(v)) for o, v in varbinds)
    pdu = tlv(0xA2, ber_int(request.request_id) + ber_int(error_status)
              + ber_int(error_index) + tlv(0x30, vbs))
    return tlv(0x30, ber_int(1) + tlv(0x04, request.community) + pdu)


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
