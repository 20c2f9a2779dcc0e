"""RIFF chunk walker shared by WebP and WAV."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from services.ghost.errors import CorruptFile

# Streaming writers that cannot seek back leave this size in place of the real one.
UNKNOWN_SIZE = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class RiffChunk:
    id: bytes
    data: bytes

    @property
    def name(self) -> str:
        return self.id.decode("latin-1").strip()

    def encode(self) -> bytes:
        padding = b"\x00" if len(self.data) % 2 else b""
        return self.id + struct.pack("<I", len(self.data)) + self.data + padding


@dataclass(frozen=True, slots=True)
class RiffFile:
    form: bytes
    chunks: list[RiffChunk]
    trailer: bytes

    def encode(self) -> bytes:
        body = self.form + b"".join(chunk.encode() for chunk in self.chunks)
        return b"RIFF" + struct.pack("<I", len(body)) + body

    def first(self, chunk_id: bytes) -> RiffChunk | None:
        return next((chunk for chunk in self.chunks if chunk.id == chunk_id), None)


def parse_riff(data: bytes, form: bytes) -> RiffFile:
    """Split a RIFF file into chunks.

    A chunk (in practice WAV ``data``) whose size is the streaming placeholder is clamped to the
    bytes present; any other size that runs past the end means the file is truncated.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != form:
        raise CorruptFile(f"not a RIFF {form.decode('latin-1')} file")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if riff_size == UNKNOWN_SIZE:
        end = len(data)
    elif 8 + riff_size > len(data):
        raise CorruptFile("RIFF file is truncated")
    else:
        end = 8 + riff_size
    chunks: list[RiffChunk] = []
    position = 12
    while position + 8 <= end:
        chunk_id, size = struct.unpack_from("<4sI", data, position)
        body_start = position + 8
        if size == UNKNOWN_SIZE:
            size = end - body_start
        elif body_start + size > end:
            raise CorruptFile(f"RIFF chunk {chunk_id!r} runs past the end of the file")
        chunks.append(RiffChunk(chunk_id, data[body_start : body_start + size]))
        position = min(end, body_start + size + (size % 2))
    if position < end and any(data[position:end]):
        raise CorruptFile("RIFF file ends inside a chunk header")
    return RiffFile(form=form, chunks=chunks, trailer=data[end:])


def webp_canvas(riff: RiffFile) -> tuple[int, int]:
    """Canvas size from VP8X, or from the VP8/VP8L bitstream header of a simple WebP."""
    extended = riff.first(b"VP8X")
    if extended is not None and len(extended.data) >= 10:
        width = int.from_bytes(extended.data[4:7], "little") + 1
        height = int.from_bytes(extended.data[7:10], "little") + 1
        return width, height
    lossy = riff.first(b"VP8 ")
    if lossy is not None and len(lossy.data) >= 10 and lossy.data[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", lossy.data, 6)
        return width & 0x3FFF, height & 0x3FFF
    lossless = riff.first(b"VP8L")
    if lossless is not None and len(lossless.data) >= 5 and lossless.data[0] == 0x2F:
        bits = int.from_bytes(lossless.data[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise CorruptFile("WebP has no image chunk")
