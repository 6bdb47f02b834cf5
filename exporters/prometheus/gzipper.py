"""gzip built from independently compressed pieces, pigz style.

Each piece is raw DEFLATE from a fresh compressor ended with a sync flush: byte aligned, not
final, and referring to nothing before it, so pieces concatenate into one valid DEFLATE
stream. Wrapping that stream in a gzip header, an empty final block and the CRC-32/length
trailer gives a single-member gzip file any reader accepts (curl and some HTTP clients stop
after the first member of a multi-member file, so one member it is). This lets the
exposition keep each chunk of text compressed once, with its CRC-32 and length, and build a
scrape's body by joining pieces: the CRC-32 of the whole is combined from the pieces' CRCs
(``crc32_combine``), never computed over the text again.

The DEFLATE, CRC-32 and its combination are ISA-L's (:mod:`isal.isal_zlib`, zlib's API):
on exposition text its level 1 compresses ~5× faster than zlib's level 1, and smaller
(bench/exposition.py). At 100,000 devices compression was 12 % of pubnet's busy time with
zlib (py-spy), on a machine whose two cores the fleet shares. Levels 4–9, which ISA-L
does not have, stay zlib's.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from isal import isal_zlib

HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
"""gzip member header: deflate, no flags, mtime 0, unknown OS."""
FINAL_BLOCK = b"\x03\x00"
"""An empty final fixed-Huffman block: ends the DEFLATE stream."""

DEFAULT_LEVEL = 1
ISAL_LEVELS = range(1, 4)
"""``gzip_level`` values ISA-L compresses (its levels 1–3); higher ones are zlib's."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One compressed piece and what joining it needs: its text's CRC-32 and length."""

    deflated: bytes
    crc: int
    length: int

    @classmethod
    def of(cls, text: bytes, level: int = DEFAULT_LEVEL) -> Piece:
        return cls(deflate_piece(text, level), isal_zlib.crc32(text), len(text))


def deflate_piece(data: bytes, level: int = DEFAULT_LEVEL) -> bytes:
    """Raw DEFLATE of ``data`` that can be followed by any other piece."""
    if level in ISAL_LEVELS:
        compressor = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15, 9)
        return compressor.compress(data) + compressor.flush(isal_zlib.Z_SYNC_FLUSH)
    deflater = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    return deflater.compress(data) + deflater.flush(zlib.Z_SYNC_FLUSH)


def inflate_piece(deflated: bytes) -> bytes:
    """The text of a piece made by :func:`deflate_piece`."""
    return isal_zlib.decompressobj(-15).decompress(deflated)


def parts(pieces: Iterable[Piece]) -> list[bytes]:
    """One gzip member of the pieces' texts, in order, not joined: the header, each
    piece's DEFLATE, the end. A socket takes them as they are (``sendmsg``), which spares
    copying the whole body (~40 MB at 100,000 devices) into one more buffer; combining
    the CRCs costs about a millisecond per 5,000 pieces."""
    crc = 0
    length = 0
    out = [HEADER]
    combine = isal_zlib.crc32_combine
    for piece in pieces:
        crc = combine(crc, piece.crc, piece.length)
        length += piece.length
        out.append(piece.deflated)
    out.append(FINAL_BLOCK)
    out.append(struct.pack("<II", crc & 0xFFFFFFFF, length & 0xFFFFFFFF))
    return out


def join(pieces: Iterable[Piece]) -> bytes:
    """One gzip member of the pieces' texts, in order, in one buffer."""
    return b"".join(parts(pieces))
