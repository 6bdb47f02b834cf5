"""gzip built from independently compressed pieces, pigz style.

Each piece is raw DEFLATE from a fresh compressor ended with a sync flush: byte aligned, not
final, and referring to nothing before it, so pieces concatenate into one valid DEFLATE
stream. Wrapping that stream in a gzip header, an empty final block and the CRC-32/length
trailer gives a single-member gzip file any reader accepts (curl and some HTTP clients stop
after the first member of a multi-member file, so one member it is). This lets the
exposition keep each chunk of text compressed once, with its CRC-32 and length, and build a
scrape's body by joining pieces: the CRC-32 of the whole is combined from the pieces' CRCs
(:func:`crc32_combine`, zlib's algorithm; Python's zlib does not expose it), never computed
over the text again.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
"""gzip member header: deflate, no flags, mtime 0, unknown OS."""
FINAL_BLOCK = b"\x03\x00"
"""An empty final fixed-Huffman block: ends the DEFLATE stream."""

DEFAULT_LEVEL = 1
"""zlib level 1 compresses exposition text about 7:1 at ~150 MB/s per core here."""

_POLY = 0xEDB88320
"""The CRC-32 polynomial, reflected."""


def _multmodp(a: int, b: int) -> int:
    """a·b modulo the CRC-32 polynomial (reflected bit order); ``a`` must not be 0."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if (a & (m - 1)) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _x2n_table() -> tuple[int, ...]:
    p = 1 << 30  # x^1
    table = [p]
    for _ in range(31):
        p = _multmodp(p, p)
        table.append(p)
    return tuple(table)


_X2N = _x2n_table()
"""x^(2^n) modulo the polynomial, n = 0..31 (a constant, as zlib's ``x2n_table``)."""


def crc32_shift(length: int) -> int:
    """The operator that moves a CRC-32 past ``length`` more bytes: x^(8·length) mod p."""
    p = 1 << 31  # x^0
    k = 3
    while length:
        if length & 1:
            p = _multmodp(_X2N[k & 31], p)
        length >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, shift2: int) -> int:
    """CRC-32 of A+B from the CRC-32s of A and B and :func:`crc32_shift` of B's length."""
    return _multmodp(shift2, crc1) ^ crc2


@dataclass(frozen=True, slots=True)
class Piece:
    """One compressed piece and what joining it needs: its text's CRC-32 and length."""

    deflated: bytes
    crc: int
    length: int
    shift: int

    @classmethod
    def of(cls, text: bytes, level: int = DEFAULT_LEVEL) -> Piece:
        return cls(deflate_piece(text, level), zlib.crc32(text), len(text),
                   crc32_shift(len(text)))


def deflate_piece(data: bytes, level: int = DEFAULT_LEVEL) -> bytes:
    """Raw DEFLATE of ``data`` that can be followed by any other piece."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def inflate_piece(deflated: bytes) -> bytes:
    """The text of a piece made by :func:`deflate_piece`."""
    return zlib.decompressobj(-15).decompress(deflated)


def joined_length(pieces: Iterable[Piece]) -> int:
    """The length of :func:`join`'s result, without joining: a response's Content-Length
    before its body is built."""
    return len(HEADER) + sum(len(piece.deflated) for piece in pieces) + len(FINAL_BLOCK) + 8


def join(pieces: Iterable[Piece]) -> bytes:
    """One gzip member of the pieces' texts, in order."""
    crc = 0
    length = 0
    out = [HEADER]
    for piece in pieces:
        crc = crc32_combine(crc, piece.crc, piece.shift)
        length += piece.length
        out.append(piece.deflated)
    out.append(FINAL_BLOCK)
    out.append(struct.pack("<II", crc & 0xFFFFFFFF, length & 0xFFFFFFFF))
    return b"".join(out)
