"""pubnet's one BER codec for SNMP messages: TLVs, integers, OIDs, v1/v2c requests.

In the ground layer because three parts write or read SNMP by hand and must agree: the
fleet simulator (:mod:`simulator`, its whole agent), the poller's SNMPv3 probe
(:mod:`collectors.snmp.v3probe`, one hand-built request) and the tests' fake agents. The
poller's framing check (:mod:`collectors.snmp.ber_check`) has another job and only takes its
tag numbers from here.

Why not pysnmp's agent (for the simulator): it spends about a millisecond of CPU per request
in pyasn1, and a demo fleet of thousands of devices polled every 30 s needs several thousand
requests per second on one core. Here a request is decoded with a handful of slice
operations, request OIDs are memoised by their raw bytes, and responses are assembled from
pre-encoded OID TLVs.

Only definite-length encodings are accepted (SNMP forbids the indefinite form); anything that
does not decode raises :class:`BerError`, never another exception type.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

OID = tuple[int, ...]


class BerError(ValueError):
    """The bytes are not a well-formed SNMP v1/v2c message."""


class Tag(IntEnum):
    INTEGER = 0x02
    OCTET_STRING = 0x04
    NULL = 0x05
    OBJECT_IDENTIFIER = 0x06
    SEQUENCE = 0x30
    IP_ADDRESS = 0x40
    COUNTER32 = 0x41
    GAUGE32 = 0x42
    TIMETICKS = 0x43
    COUNTER64 = 0x46
    NO_SUCH_OBJECT = 0x80
    NO_SUCH_INSTANCE = 0x81
    END_OF_MIB_VIEW = 0x82


class PduType(IntEnum):
    GET = 0xA0
    GETNEXT = 0xA1
    RESPONSE = 0xA2
    SET = 0xA3
    TRAP_V1 = 0xA4
    GETBULK = 0xA5
    INFORM = 0xA6
    TRAP_V2 = 0xA7
    REPORT = 0xA8


class Version(IntEnum):
    V1 = 0
    V2C = 1
    V3 = 3


class ErrorStatus(IntEnum):
    NO_ERROR = 0
    TOO_BIG = 1
    NO_SUCH_NAME = 2
    GEN_ERR = 5


NULL = b"\x05\x00"
NO_SUCH_OBJECT = b"\x80\x00"
NO_SUCH_INSTANCE = b"\x81\x00"
END_OF_MIB_VIEW = b"\x82\x00"


# -- encoding -----------------------------------------------------------------------------


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    return bytes((tag,)) + encode_length(n) + content


_SMALL_INTS = tuple(bytes((0x02, 0x01, n)) for n in range(128))


def encode_int(value: int) -> bytes:
    """INTEGER in minimal two's complement."""
    if 0 <= value < 128:
        return _SMALL_INTS[value]
    body = value.to_bytes((value + (value < 0)).bit_length() // 8 + 1, "big", signed=True)
    return tlv(Tag.INTEGER, body)


def encode_unsigned(tag: int, value: int) -> bytes:
    """Counter32, Gauge32, TimeTicks, Counter64: unsigned, with a leading zero octet when the
    high bit would otherwise make it look negative."""
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return tlv(tag, body)


def encode_octets(value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return tlv(Tag.OCTET_STRING, value)


def encode_oid_body(oid: OID) -> bytes:
    if len(oid) < 2:
        raise BerError(f"an OID needs at least two arcs: {oid}")
    out = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        if arc < 0x80:
            out.append(arc)
            continue
        chunk = bytearray()
        while arc:
            chunk.append((arc & 0x7F) | 0x80)
            arc >>= 7
        chunk[0] &= 0x7F
        chunk.reverse()
        out += chunk
    return bytes(out)


def encode_oid(oid: OID) -> bytes:
    return tlv(Tag.OBJECT_IDENTIFIER, encode_oid_body(oid))


def parse_oid(text: str) -> OID:
    """``1.3.6.1.2.1.1.3.0`` (a leading dot allowed) → a tuple of ints."""
    return tuple(int(part) for part in text.strip().lstrip(".").split("."))


def encode_message(version: int, community: bytes, pdu_type: int, request_id: int,
                   error_status: int, error_index: int, varbinds: bytes) -> bytes:
    """A whole message from already-encoded varbinds (the concatenated ``30 ..`` pairs)."""
    pdu = tlv(
        pdu_type,
        encode_int(request_id) + encode_int(error_status) + encode_int(error_index)
        + tlv(Tag.SEQUENCE, varbinds),
    )
    return tlv(Tag.SEQUENCE, encode_int(version) + tlv(Tag.OCTET_STRING, community) + pdu)


def varbind(oid_tlv: bytes, value_tlv: bytes) -> bytes:
    return tlv(Tag.SEQUENCE, oid_tlv + value_tlv)


# -- decoding -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded v1/v2c request PDU. For GETBULK ``non_repeaters``/``max_repetitions`` are
    the second and third integers; for other PDUs they carry error status and index."""

    version: int
    community: bytes
    pdu_type: int
    request_id: int
    non_repeaters: int
    max_repetitions: int
    oids: tuple[OID, ...]
    values: tuple[bytes, ...]
    """Each varbind's value TLV, raw (requests carry NULL; traps carry values)."""


def read_header(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Read one tag and length at ``pos``; return (tag, content start, content end)."""
    if pos + 2 > end:
        raise BerError("truncated TLV header")
    tag = buf[pos]
    n = buf[pos + 1]
    pos += 2
    if n >= 0x80:
        k = n & 0x7F
        if k == 0 or k > 4:
            raise BerError("indefinite or oversized length")
        if pos + k > end:
            raise BerError("truncated length")
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    stop = pos + n
    if stop > end:
        raise BerError("length runs past the end of its container")
    return tag, pos, stop


def read_integer(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    tag, start, stop = read_header(buf, pos, end)
    if tag != Tag.INTEGER or start == stop or stop - start > 8:
        raise BerError("expected an INTEGER")
    return int.from_bytes(buf[start:stop], "big", signed=True), stop


def decode_oid_body(body: bytes) -> OID:
    if not body or body[-1] & 0x80:
        raise BerError("bad OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for octet in body:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    if first < 80:
        head = (first // 40, first % 40)
    else:
        head = (2, first - 80)
    return head + tuple(arcs[1:])


class Decoder:
    """Decodes request messages; keeps a bounded memo of OID bytes → tuple.

    The memo pays off because a poller asks for the same few dozen OIDs over and over.
    """

    def __init__(self, memo_size: int = 50_000) -> None:
        self._oids: dict[bytes, OID] = {}
        self._memo_size = memo_size

    def oid(self, body: bytes) -> OID:
        found = self._oids.get(body)
        if found is None:
            found = decode_oid_body(body)
            if len(self._oids) >= self._memo_size:
                self._oids.clear()
            self._oids[body] = found
        return found

    def decode(self, buf: bytes) -> Request:
        """Decode a v1/v2c message; raises :class:`BerError` on anything malformed."""
        try:
            return self._decode(buf)
        except BerError:
            raise
        except (IndexError, ValueError, OverflowError) as exc:
            raise BerError(str(exc)) from None

    def decode_pdu(self, buf: bytes, version: int = Version.V3) -> Request:
        """Decode a bare PDU (the inside of an SNMPv3 ScopedPDU), community empty."""
        try:
            return self._pdu(buf, 0, len(buf), version, b"")
        except BerError:
            raise
        except (IndexError, ValueError, OverflowError) as exc:
            raise BerError(str(exc)) from None

    def _decode(self, buf: bytes) -> Request:
        end = len(buf)
        tag, pos, stop = read_header(buf, 0, end)
        if tag != Tag.SEQUENCE:
            raise BerError("message is not a SEQUENCE")
        version, pos = read_integer(buf, pos, stop)
        if version not in (Version.V1, Version.V2C):
            raise BerError(f"unsupported SNMP version {version}")
        tag, start, pos = read_header(buf, pos, stop)
        if tag != Tag.OCTET_STRING:
            raise BerError("community is not an OCTET STRING")
        return self._pdu(buf, pos, stop, version, buf[start:pos])

    def _pdu(self, buf: bytes, pos: int, stop: int, version: int, community: bytes) -> Request:
        pdu_type, pos, pdu_end = read_header(buf, pos, stop)
        if pdu_type < 0xA0 or pdu_type > 0xA8:
            raise BerError(f"unknown PDU type 0x{pdu_type:02x}")
        if pdu_type == PduType.TRAP_V1:
            raise BerError("SNMPv1 Trap-PDU is not a request")
        request_id, pos = read_integer(buf, pos, pdu_end)
        second, pos = read_integer(buf, pos, pdu_end)
        third, pos = read_integer(buf, pos, pdu_end)
        tag, pos, vb_end = read_header(buf, pos, pdu_end)
        if tag != Tag.SEQUENCE:
            raise BerError("varbind list is not a SEQUENCE")
        oids: list[OID] = []
        values: list[bytes] = []
        while pos < vb_end:
            tag, vpos, vstop = read_header(buf, pos, vb_end)
            if tag != Tag.SEQUENCE:
                raise BerError("varbind is not a SEQUENCE")
            tag, ostart, ostop = read_header(buf, vpos, vstop)
            if tag != Tag.OBJECT_IDENTIFIER:
                raise BerError("varbind name is not an OBJECT IDENTIFIER")
            oids.append(self.oid(buf[ostart:ostop]))
            _tag, _vstart, vend = read_header(buf, ostop, vstop)
            values.append(buf[ostop:vend])
            pos = vstop
        return Request(version, community, pdu_type, request_id, second, third,
                       tuple(oids), tuple(values))


def message_version(buf: bytes) -> int:
    """The version field of a message (0, 1 or 3); raises :class:`BerError`."""
    try:
        tag, pos, stop = read_header(buf, 0, len(buf))
        if tag != Tag.SEQUENCE:
            raise BerError("message is not a SEQUENCE")
        return read_integer(buf, pos, stop)[0]
    except IndexError as exc:
        raise BerError(str(exc)) from None


def decode_value(raw: bytes) -> int | bytes | OID | None:
    """Decode one value TLV as returned in :attr:`Request.values` (for tests and traps)."""
    tag, start, stop = read_header(raw, 0, len(raw))
    body = raw[start:stop]
    if tag == Tag.INTEGER:
        return int.from_bytes(body, "big", signed=True)
    if tag in (Tag.COUNTER32, Tag.GAUGE32, Tag.TIMETICKS, Tag.COUNTER64):
        return int.from_bytes(body, "big")
    if tag in (Tag.OCTET_STRING, Tag.IP_ADDRESS):
        return bytes(body)
    if tag == Tag.OBJECT_IDENTIFIER:
        return decode_oid_body(body)
    return None
