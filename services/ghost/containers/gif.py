"""GIF block walker.

A GIF is a header, a logical screen descriptor (plus optional global colour table), then a series
of extension and image blocks made of length-prefixed sub-blocks, and a trailer byte. Walking the
blocks lets ghost drop comment and application extensions while copying frames byte for byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from services.ghost.errors import CorruptFile

EXTENSION = 0x21
IMAGE = 0x2C
TRAILER = 0x3B
GRAPHIC_CONTROL = 0xF9
COMMENT = 0xFE
APPLICATION = 0xFF
PLAIN_TEXT = 0x01


@dataclass(frozen=True, slots=True)
class Block:
    """One block, ``raw`` being its exact bytes; ``label`` is 0 for image blocks."""

    introducer: int
    label: int
    raw: bytes
    application: bytes = b""
    body: bytes = b""
    width: int = 0
    height: int = 0


@dataclass(frozen=True, slots=True)
class GifFile:
    header: bytes
    width: int
    height: int
    blocks: list[Block]
    trailer: bytes

    def encode(self, blocks: list[Block] | None = None) -> bytes:
        chosen = self.blocks if blocks is None else blocks
        return self.header + b"".join(block.raw for block in chosen) + bytes((TRAILER,))

    @property
    def frame_count(self) -> int:
        return sum(1 for block in self.blocks if block.introducer == IMAGE)


def _sub_blocks(data: bytes, position: int) -> tuple[bytes, int]:
    """Concatenate sub-blocks starting at ``position``; return the payload and the end offset."""
    parts: list[bytes] = []
    length = len(data)
    while True:
        if position >= length:
            raise CorruptFile("GIF is truncated inside a block")
        size = data[position]
        position += 1
        if size == 0:
            return b"".join(parts), position
        if position + size > length:
            raise CorruptFile("GIF is truncated inside a block")
        parts.append(data[position : position + size])
        position += size


def parse_gif(data: bytes) -> GifFile:
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise CorruptFile("not a GIF stream")
    width, height, packed = struct.unpack_from("<HHB", data, 6)
    position = 13
    if packed & 0x80:
        position += 3 * (2 ** ((packed & 0x07) + 1))
    if position > len(data):
        raise CorruptFile("GIF is truncated inside the colour table")
    header = data[:position]
    blocks: list[Block] = []
    while True:
        if position >= len(data):
            raise CorruptFile("GIF is truncated (no trailer)")
        introducer = data[position]
        start = position
        if introducer == TRAILER:
            return GifFile(header, width, height, blocks, data[position + 1 :])
        if introducer == EXTENSION:
            if position + 2 > len(data):
                raise CorruptFile("GIF is truncated inside an extension")
            label = data[position + 1]
            body, position = _sub_blocks(data, position + 2)
            application = body[:11] if label == APPLICATION else b""
            blocks.append(Block(introducer, label, data[start:position], application, body))
        elif introducer == IMAGE:
            if position + 10 > len(data):
                raise CorruptFile("GIF is truncated inside an image descriptor")
            frame_width, frame_height, local = struct.unpack_from("<HHB", data, position + 5)
            position += 10
            if local & 0x80:
                position += 3 * (2 ** ((local & 0x07) + 1))
            position += 1
            _, position = _sub_blocks(data, position)
            blocks.append(Block(introducer, 0, data[start:position], width=frame_width, height=frame_height))
        else:
            raise CorruptFile(f"unknown GIF block 0x{introducer:02X} at offset {position}")
