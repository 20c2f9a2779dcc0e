"""PNG chunk walker with CRC verification."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from services.ghost.errors import CorruptFile

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Ancillary chunks that affect how pixels are shown (colour, transparency, density, animation)
# and hold no free text.
STRUCTURAL_ANCILLARY = frozenset(
    {
        b"tRNS",
        b"gAMA",
        b"cHRM",
        b"sRGB",
        b"sBIT",
        b"bKGD",
        b"pHYs",
        b"hIST",
        b"cICP",
        b"mDCV",
        b"mDCv",
        b"cLLI",
        b"cLLi",
        b"acTL",
        b"fcTL",
        b"fdAT",
    }
)


@dataclass(frozen=True, slots=True)
class Chunk:
    type: bytes
    data: bytes

    @property
    def name(self) -> str:
        return self.type.decode("ascii")

    @property
    def is_critical(self) -> bool:
        return self.type[0:1].isupper()

    def encode(self) -> bytes:
        crc = zlib.crc32(self.type + self.data) & 0xFFFFFFFF
        return struct.pack(">I", len(self.data)) + self.type + self.data + struct.pack(">I", crc)


@dataclass(frozen=True, slots=True)
class PngFile:
    chunks: list[Chunk]
    trailer: bytes

    @property
    def size(self) -> tuple[int, int]:
        header = self.chunks[0].data
        width, height = struct.unpack_from(">II", header, 0)
        return width, height

    def encode(self) -> bytes:
        return SIGNATURE + b"".join(chunk.encode() for chunk in self.chunks)


def parse_png(data: bytes) -> PngFile:
    if not data.startswith(SIGNATURE):
        raise CorruptFile("not a PNG stream (bad signature)")
    chunks: list[Chunk] = []
    position = len(SIGNATURE)
    length = len(data)
    while True:
        if position + 8 > length:
            raise CorruptFile("PNG is truncated (no IEND chunk)")
        size, chunk_type = struct.unpack_from(">I4s", data, position)
        if not chunk_type.isalpha() or not chunk_type.isascii():
            raise CorruptFile(f"invalid PNG chunk type at offset {position}")
        end = position + 8 + size
        if size > 0x7FFFFFFF or end + 4 > length:
            raise CorruptFile(f"PNG chunk {chunk_type!r} runs past the end of the file")
        body = data[position + 8 : end]
        (crc,) = struct.unpack_from(">I", data, end)
        if zlib.crc32(chunk_type + body) & 0xFFFFFFFF != crc:
            raise CorruptFile(f"PNG chunk {chunk_type.decode('ascii')} has a bad CRC")
        chunks.append(Chunk(chunk_type, body))
        position = end + 4
        if chunk_type == b"IEND":
            break
    if not chunks or chunks[0].type != b"IHDR" or len(chunks[0].data) != 13:
        raise CorruptFile("PNG does not start with a valid IHDR chunk")
    if not any(chunk.type == b"IDAT" for chunk in chunks):
        raise CorruptFile("PNG has no image data")
    return PngFile(chunks=chunks, trailer=data[position:])


def bounded_inflate(data: bytes, limit: int) -> tuple[bytes, bool]:
    """Inflate zlib data to at most ``limit`` bytes; the flag says whether output was cut short."""
    inflater = zlib.decompressobj()
    try:
        output = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise ValueError(f"bad compressed data: {exc}") from exc
    return output, bool(inflater.unconsumed_tail)
