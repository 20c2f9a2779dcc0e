"""ISO base media (MP4/M4A) box walker.

Ghost never moves boxes around in an MP4: removing a box would shift ``mdat`` and invalidate every
chunk offset. Instead metadata boxes are renamed to ``free`` and zero-filled in place, and the
creation/modification times in the movie, track and media headers are zeroed, so the sample tables
stay valid without being rewritten.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from services.ghost.errors import CorruptFile

# Boxes whose payload is a plain list of child boxes and that can lead to metadata.
CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"udta", b"edts", b"moof", b"traf", b"mvex"})
# Movie, track and media headers: version, flags, then creation and modification times.
TIMESTAMPED_HEADERS = frozenset({b"mvhd", b"tkhd", b"mdhd"})
MP4_EPOCH = dt.datetime(1904, 1, 1, tzinfo=dt.UTC)
MAX_BOXES = 100_000


@dataclass(frozen=True, slots=True)
class Box:
    type: bytes
    offset: int
    size: int
    header_size: int
    path: tuple[bytes, ...]

    @property
    def name(self) -> str:
        return self.type.decode("latin-1")

    @property
    def payload_offset(self) -> int:
        return self.offset + self.header_size

    @property
    def payload_size(self) -> int:
        return self.size - self.header_size

    @property
    def end(self) -> int:
        return self.offset + self.size


def _children(handle: BinaryIO, start: int, end: int, path: tuple[bytes, ...]) -> Iterator[Box]:
    position = start
    while position + 8 <= end:
        handle.seek(position)
        header = handle.read(8)
        if len(header) < 8:
            raise CorruptFile("MP4 is truncated inside a box header")
        size, box_type = struct.unpack(">I4s", header)
        header_size = 8
        if size == 1:
            large = handle.read(8)
            if len(large) < 8:
                raise CorruptFile("MP4 is truncated inside a box header")
            (size,) = struct.unpack(">Q", large)
            header_size = 16
        elif size == 0:
            size = end - position
        if size < header_size or position + size > end:
            raise CorruptFile(f"MP4 box {box_type!r} runs past its parent")
        yield Box(box_type, position, size, header_size, path)
        position += size


def walk(handle: BinaryIO, file_size: int) -> list[Box]:
    """Every box reachable through :data:`CONTAINERS`, depth first."""
    found: list[Box] = []

    def visit(start: int, end: int, path: tuple[bytes, ...]) -> None:
        for box in _children(handle, start, end, path):
            found.append(box)
            if len(found) > MAX_BOXES:
                raise CorruptFile("MP4 has an implausible number of boxes")
            if box.type in CONTAINERS:
                visit(box.payload_offset, box.end, (*path, box.type))

    visit(0, file_size, ())
    if not found or found[0].type != b"ftyp":
        raise CorruptFile("MP4 does not start with an ftyp box")
    if not any(box.type == b"moov" for box in found):
        raise CorruptFile("MP4 has no movie (moov) box")
    return found


def header_times(handle: BinaryIO, box: Box) -> tuple[int, int, int, int]:
    """(offset, width, creation, modification) of the times in an mvhd/tkhd/mdhd box."""
    handle.seek(box.payload_offset)
    head = handle.read(20)
    if len(head) < 12:
        raise CorruptFile(f"MP4 {box.name} box is truncated")
    if head[0] == 1:
        if len(head) < 20:
            raise CorruptFile(f"MP4 {box.name} box is truncated")
        created, modified = struct.unpack_from(">QQ", head, 4)
        return box.payload_offset + 4, 16, created, modified
    created, modified = struct.unpack_from(">II", head, 4)
    return box.payload_offset + 4, 8, created, modified


def mp4_time(seconds: int) -> str | None:
    if seconds == 0:
        return None
    try:
        return (MP4_EPOCH + dt.timedelta(seconds=seconds)).isoformat()
    except OverflowError:
        return None


def neutralise(handle: BinaryIO, box: Box) -> None:
    """Turn ``box`` into a zero-filled ``free`` box of the same size."""
    handle.seek(box.offset + 4)
    handle.write(b"free")
    handle.seek(box.payload_offset)
    remaining = box.payload_size
    zeros = bytes(min(remaining, 1 << 20))
    while remaining > 0:
        step = min(remaining, len(zeros))
        handle.write(zeros[:step])
        remaining -= step
