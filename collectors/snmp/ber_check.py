"""Is an SNMP answer safe to hand to gufo-snmp? A BER framing check, before it decodes.

gufo-snmp 0.13's decoder indexes past the end of its buffer on some malformed answers (a
TLV header cut off by the end of its enclosing value, an empty varbind, a relative OID, a
BIT STRING value) and panics. pyo3 turns the panic into an exception, which the client
catches, but Rust's panic hook has already written the panic (and, with
``RUST_BACKTRACE=1``, a 60-line backtrace) to the process's stderr: pubnet cannot silence
that from Python, there is no Python API to gufo's hook, and redirecting file descriptor 2
around a call would swallow other threads' output. So the client peeks at each datagram and
lets gufo read only the ones that pass this check; the others are read, dropped and counted
(``decode``) without gufo ever seeing them.

The check follows the grammar of a response (RFC 3416, and RFC 3412/3414 for v3): every
header complete and inside its parent, lengths in short or long form of at most four bytes,
each varbind a non-empty SEQUENCE of an OBJECT IDENTIFIER and a value of an SMIv2 type (or
an exception). A v3 message's encrypted part is checked by gufo only after it has been
authenticated and decrypted with the device's keys, so it is out of reach here (and of an
attacker without the keys).

It runs once per answer on the poller's hot path: about 0.25 µs per varbind, 9 µs for a
30-varbind answer (``tests/collectors/snmp/test_ber_check.py`` prints the figure). Between
walks a device's GETs come back framed the same poll after poll, only the values change;
:class:`Framing` remembers where the last answer's headers were and accepts an answer with
the same length and the same bytes at each of those places (a mask over the answer,
compared as one big integer: ~1 µs) without walking it: whether gufo can panic depends
only on those bytes.

Why not :mod:`pubnet.ber` (the codec the simulator, the v3 probe and the tests' fake agents
share): that one decodes a message it then uses; this one only decides, on an untrusted
answer, whether gufo may decode it, records where it looked for :class:`Framing`, and
accepts any PDU type and v3. The tag numbers come from the codec.
"""

from __future__ import annotations

from typing import Final

from pubnet.ber import PduType, Tag

# Plain ints, not the codec's IntEnum members: they are compared on the hot path.
SEQUENCE: Final = int(Tag.SEQUENCE)
INTEGER: Final = int(Tag.INTEGER)
OCTET_STRING: Final = int(Tag.OCTET_STRING)
OBJECT_IDENTIFIER: Final = int(Tag.OBJECT_IDENTIFIER)
_PDUS: Final = frozenset(range(PduType.GET, PduType.REPORT + 1))
"""Context-specific constructed tags 0-8: GetRequest ... Report."""
_ANY: Final = 1 << 16
_MAX_SIZE: Final = {
    0x02: 8,                                  # INTEGER (gufo decodes into 64 bits)
    0x04: _ANY, 0x05: 0, 0x06: _ANY,          # OCTET STRING, NULL, OBJECT IDENTIFIER
    0x40: 4, 0x44: _ANY,                      # IpAddress (gufo wants 4), Opaque
    0x41: 5, 0x42: 5, 0x43: 5, 0x47: 5,       # Counter32, Gauge32, TimeTicks, UInteger32
    0x46: 9,                                  # Counter64
    0x80: 0, 0x81: 0, 0x82: 0,                # noSuchObject, noSuchInstance, endOfMibView
}
"""The value types a varbind may hold, and the most content bytes each can take. gufo-snmp
also decodes BOOLEAN, BIT STRING, REAL and ObjectDescriptor, which SNMP never sends (and BIT
STRING and REAL can make it panic); and it silently keeps the low bits of an unsigned value
longer than its type (a 9-byte Counter32 would be read modulo 2^32)."""
_UNSIGNED: Final = frozenset((0x41, 0x42, 0x43, 0x46, 0x47))
"""Unsigned types: at their longest the first byte is only the sign padding, so it is 0."""
_SIZES: Final = tuple(
    -1 if tag not in _MAX_SIZE else _MAX_SIZE[tag] - (tag in _UNSIGNED) for tag in range(256))
"""``_MAX_SIZE`` by tag (-1: not a value type), one byte less for unsigned types, so that
the inline check never has to look at the padding byte."""


_MARKS: Final = b"\xff" * 6
"""A TLV header's marks (tag, length, up to four more length bytes)."""


class Malformed(ValueError):
    """The datagram is not a well-formed SNMP message; the text says where."""


Seen = bytearray | None
"""Where the check marks (0xFF) the position of every byte it decided on (tags, lengths,
the version, a padding byte), for :class:`Framing`: as long as the datagram, it is the
mask itself; None when nobody asks."""


def check(data: bytes | bytearray | memoryview, seen: Seen = None) -> None:
    """Raise :class:`Malformed` unless ``data`` is a well-framed SNMP message.

    Accepts v1, v2c and v3 (plaintext and encrypted) messages of any PDU type.
    """
    pos, stop = _expect(data, 0, len(data), seen, SEQUENCE, "not a SEQUENCE filling the datagram",
                        whole=True)
    tag, start, pos = _tlv(data, pos, stop, seen)
    if tag != INTEGER or pos - start != 1:
        raise Malformed("no version number")
    version = data[start]
    if seen is not None:
        seen[start] = 0xFF
    if version in (0, 1):
        pos = _expect(data, pos, stop, seen, OCTET_STRING, "no community")[1]
        _pdu(data, pos, stop, seen)
    elif version == 3:
        _v3(data, pos, stop, seen)
    else:
        raise Malformed(f"unknown version {version}")


Shape = tuple[int, int, int]
"""``(length, mask, framing)`` of an answer, as :class:`Framing` remembers it."""
Shapes = dict[Shape, Shape]
"""Answer shapes already held, shared by the conversations of one poller."""
MAX_SHARED_SHAPES = 2_000
"""Distinct shapes kept for sharing; beyond it a conversation keeps its own (a fleet whose
answers all differ in length, by their names, gains nothing from sharing)."""
MAX_HELD = 4
"""Shapes a conversation remembers (one per answer length): its GETs a poll, with room."""


class Framing:
    """:func:`check` for one conversation's GET answers, remembering the framing of the last
    few (one per answer length).

    An answer as long as a remembered one and with the same byte at every position that
    one's check decided on walks exactly the same way, so it is accepted without walking it.

    Several are remembered because a device whose GET does not fit in one PDU
    (``MAX_GET_VARBINDS``) sends two or three GETs a poll, each answered in its own shape:
    with only the last one remembered each answer found the other's and was walked in full
    (every GET answer of the fleet simulator's access points and routers, 1.8 a poll), and
    its mask was built again. One shape is kept per answer length (a new one replaces the
    one of its length: most often the same GET, its values grown), at most ``MAX_HELD``.

    The positions are kept as a mask over the whole answer (0xFF where the check decided),
    one big integer, and the framing bytes as the answer masked with it: about twice the
    answer's length per device, compared in C. (An ``itemgetter`` of the positions and a
    tuple of the bytes there took ~7.6 kB per device for a 30-varbind answer, the
    positions beyond 256 each an int object: 760 MB at 100,000 devices.)

    The three are kept as one tuple shared with the other conversations of a poller whose
    answers have the same shape (``shapes``): devices of one model with names of one
    length answer alike, and each shape took ~1.4 kB a device for a 30-varbind answer
    (tracemalloc, 20,000 devices of ``bench/snmp_poll.py``), ~3 kB for a router's.
    """

    __slots__ = ("_earlier", "_shape", "_shapes")

    def __init__(self, shapes: Shapes | None = None) -> None:
        self._shape: Shape = (-1, 0, -1)
        """The shape built last."""
        self._earlier: tuple[Shape, ...] = ()
        """Shapes built before it, of other lengths (most recent first)."""
        self._shapes = shapes

    def check(self, data: bytes) -> None:
        """Raise :class:`Malformed` unless ``data`` is well framed (see :func:`check`)."""
        size = len(data)
        length, mask, framing = self._shape
        if size == length and int.from_bytes(data, "big") & mask == framing:
            return
        for length, mask, framing in self._earlier:
            if size == length and int.from_bytes(data, "big") & mask == framing:
                return
        positions = bytearray(size)
        check(data, positions)  # always at least the message and version headers marked
        mask = int.from_bytes(positions, "big")
        shape = (size, mask, int.from_bytes(data, "big") & mask)
        shapes = self._shapes
        if shapes is not None:
            held = shapes.get(shape)
            if held is not None:
                shape = held
            elif len(shapes) < MAX_SHARED_SHAPES:
                shapes[shape] = shape
        last = self._shape
        if last[0] >= 0:
            kept = [held for held in (last, *self._earlier) if held[0] != size]
            self._earlier = tuple(kept[:MAX_HELD - 1])
        self._shape = shape


def _tlv(data: bytes | bytearray | memoryview, pos: int, end: int,
         seen: Seen = None) -> tuple[int, int, int]:
    """``(tag, content start, content stop)`` of the TLV at ``pos``, inside ``end``."""
    if pos + 2 > end:
        raise Malformed(f"header cut off at byte {pos}")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise Malformed(f"multi-byte tag at byte {pos}")
    length = data[pos + 1]
    start = pos
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or pos + count > end:
            raise Malformed(f"bad length at byte {pos - 1}")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    stop = pos + length
    if stop > end:
        raise Malformed(f"value at byte {pos} runs past its container")
    if seen is not None:
        seen[start:pos] = _MARKS[:pos - start]
    return tag, pos, stop


def _expect(data: bytes | bytearray | memoryview, pos: int, end: int, seen: Seen, tag: int,
            problem: str, *, whole: bool = False) -> tuple[int, int]:
    """``(content start, content stop)`` of the TLV at ``pos``, which must be a ``tag`` (and
    fill up to ``end`` when ``whole``); otherwise :class:`Malformed` says ``problem``."""
    found, start, stop = _tlv(data, pos, end, seen)
    if found != tag or (whole and stop != end):
        raise Malformed(problem)
    return start, stop


def _expect_each(data: bytes | bytearray | memoryview, pos: int, end: int, seen: Seen,
                 tags: tuple[int, ...], problem: str) -> int:
    """Where the TLVs at ``pos``, of the types ``tags`` in that order, end."""
    for tag in tags:
        found, _, pos = _tlv(data, pos, end, seen)
        if found != tag:
            raise Malformed(problem)
    return pos


def _pdu(data: bytes | bytearray | memoryview, pos: int, end: int, seen: Seen) -> None:
    """A PDU (request id, error status, error index, varbinds) and nothing after it."""
    tag, pos, stop = _tlv(data, pos, end, seen)
    if tag not in _PDUS or stop != end:
        raise Malformed("no PDU")
    pos = _expect_each(data, pos, stop, seen, (INTEGER,) * 3,
                       "bad request id, error status or index")
    pos, end = _expect(data, pos, stop, seen, SEQUENCE, "no varbind list", whole=True)
    sizes = _SIZES
    while pos < end:
        # The hot loop: a varbind whose three headers are in short form (every varbind of
        # a usual answer) is checked inline; anything else goes through _varbind.
        # Short form: the SEQUENCE's length byte < 0x80, so its content (OID and value
        # headers included) is under 128 bytes and neither inner length can be long form.
        oid = pos + 2
        if oid + 1 < end and data[pos] == SEQUENCE and data[pos + 1] < 0x80:
            stop = oid + data[pos + 1]
            value = oid + 2 + data[oid + 1]
            if (stop <= end and value + 2 <= stop and data[oid] == OBJECT_IDENTIFIER
                    and value - oid > 2):
                length = data[value + 1]
                if value + 2 + length == stop and length <= sizes[data[value]]:
                    if seen is not None:
                        seen[pos] = seen[pos + 1] = seen[oid] = seen[oid + 1] = 0xFF
                        seen[value] = seen[value + 1] = 0xFF
                    pos = stop
                    continue
        pos = _varbind(data, pos, end, seen)


def _varbind(data: bytes | bytearray | memoryview, pos: int, end: int, seen: Seen) -> int:
    """Check the varbind at ``pos`` the long way; returns where the next one starts."""
    tag, start, pos = _tlv(data, pos, end, seen)
    if tag != SEQUENCE:
        raise Malformed(f"varbind at byte {start} is not a SEQUENCE")
    tag, oid, value = _tlv(data, start, pos, seen)
    if tag != OBJECT_IDENTIFIER or oid == value:
        raise Malformed(f"varbind at byte {start} has no OBJECT IDENTIFIER")
    tag, value, stop = _tlv(data, value, pos, seen)
    size = _MAX_SIZE.get(tag)
    if size is None:
        raise Malformed(f"varbind at byte {start} has a value of type 0x{tag:02x}")
    length = stop - value
    if length == size and tag in _UNSIGNED:
        if seen is not None:
            seen[value] = 0xFF
        if data[value]:
            size -= 1
    if length > size:
        raise Malformed(f"varbind at byte {start}: a type 0x{tag:02x} value of "
                        f"{length} bytes is more than the type holds")
    if stop != pos:
        raise Malformed(f"varbind at byte {start} has more than an OID and a value")
    return pos


def _v3(data: bytes | bytearray | memoryview, pos: int, end: int, seen: Seen) -> None:
    """msgGlobalData, the USM parameters inside their OCTET STRING, then the scoped PDU
    (plaintext) or an OCTET STRING (encrypted)."""
    start, pos = _expect(data, pos, end, seen, SEQUENCE, "no v3 header")
    _expect_each(data, start, pos, seen, (INTEGER, INTEGER, OCTET_STRING, INTEGER),
                 "bad v3 header")
    start, pos = _expect(data, pos, end, seen, OCTET_STRING, "no v3 security parameters")
    start, stop = _expect(data, start, pos, seen, SEQUENCE, "bad v3 security parameters",
                          whole=True)
    _expect_each(data, start, stop, seen,
                 (OCTET_STRING, INTEGER, INTEGER, OCTET_STRING, OCTET_STRING, OCTET_STRING),
                 "bad v3 security parameters")
    if pos >= end:
        raise Malformed("no v3 data")
    if data[pos] == OCTET_STRING:
        _tlv(data, pos, end, seen)  # encrypted: gufo checks it after authenticating it
        return
    start, stop = _expect(data, pos, end, seen, SEQUENCE, "no scoped PDU", whole=True)
    start = _expect_each(data, start, stop, seen, (OCTET_STRING,) * 2,  # engine id, name
                         "bad scoped PDU")
    _pdu(data, start, stop, seen)
