"""JPEG marker segment walker.

A JPEG is a sequence of marker segments; after each SOS header comes entropy-coded scan data that
runs until the next marker that is neither a byte-stuffed ``FF00`` nor a restart marker. Walking the
segments lets ghost drop APPn/COM segments while copying every other byte verbatim, so the image
is never re-encoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from services.ghost.errors import CorruptFile

SOI = 0xD8
EOI = 0xD9
SOS = 0xDA
DNL = 0xDC
COM = 0xFE
APP0 = 0xE0
APP1 = 0xE1
APP2 = 0xE2
APP13 = 0xED
APP14 = 0xEE
APP15 = 0xEF
TEM = 0x01
RST_MARKERS = frozenset(range(0xD0, 0xD8))
STANDALONE_MARKERS = RST_MARKERS | {TEM}
# SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

EXIF_PREFIX = b"Exif\x00\x00"
XMP_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"
EXTENDED_XMP_PREFIX = b"http://ns.adobe.com/xmp/extension/\x00"
ICC_PREFIX = b"ICC_PROFILE\x00"
PHOTOSHOP_PREFIX = b"Photoshop 3.0\x00"
JFIF_PREFIX = b"JFIF\x00"
ADOBE_PREFIX = b"Adobe"


@dataclass(frozen=True, slots=True)
class Segment:
    """One marker segment; for SOS, ``scan`` holds the entropy-coded data that follows it."""

    marker: int
    payload: bytes = b""
    scan: bytes = b""

    @property
    def is_app(self) -> bool:
        return APP0 <= self.marker <= APP15

    def encode(self) -> bytes:
        if self.marker in (SOI, EOI) or self.marker in STANDALONE_MARKERS:
            return bytes((0xFF, self.marker))
        return bytes((0xFF, self.marker)) + struct.pack(">H", len(self.payload) + 2) + self.payload + self.scan


@dataclass(frozen=True, slots=True)
class JpegFile:
    segments: list[Segment]
    trailer: bytes

    def encode(self) -> bytes:
        return b"".join(segment.encode() for segment in self.segments)

    def frame_size(self) -> tuple[int, int]:
        for segment in self.segments:
            if segment.marker in SOF_MARKERS and len(segment.payload) >= 6:
                height, width = struct.unpack_from(">HH", segment.payload, 1)
                return width, height
        raise CorruptFile("JPEG has no frame header (SOF)")

    def scan_data(self) -> bytes:
        """Everything from the first SOS to EOI: the part that must survive byte for byte."""
        first = next((i for i, s in enumerate(self.segments) if s.marker == SOS), None)
        if first is None:
            return b""
        return b"".join(segment.encode() for segment in self.segments[first:])


def _scan_end(data: bytes, start: int) -> int:
    """Offset of the marker (including its fill bytes) that ends the scan starting at ``start``."""
    position = start
    length = len(data)
    while True:
        index = data.find(b"\xff", position)
        if index < 0 or index + 1 >= length:
            raise CorruptFile("JPEG scan data is truncated (no end of image)")
        following = index + 1
        while following < length and data[following] == 0xFF:
            following += 1
        if following >= length:
            raise CorruptFile("JPEG scan data is truncated (no end of image)")
        code = data[following]
        if code == 0x00 or code in RST_MARKERS:
            position = following + 1
            continue
        return index


def parse_jpeg(data: bytes) -> JpegFile:
    if not data.startswith(b"\xff\xd8"):
        raise CorruptFile("not a JPEG stream (missing SOI)")
    segments = [Segment(SOI)]
    position = 2
    length = len(data)
    while True:
        if position >= length:
            raise CorruptFile("JPEG is truncated (no end of image)")
        if data[position] != 0xFF:
            raise CorruptFile(f"JPEG marker expected at offset {position}")
        while position < length and data[position] == 0xFF:
            position += 1
        if position >= length:
            raise CorruptFile("JPEG is truncated (no end of image)")
        marker = data[position]
        position += 1
        if marker == EOI:
            segments.append(Segment(EOI))
            return JpegFile(segments=segments, trailer=data[position:])
        if marker in STANDALONE_MARKERS:
            segments.append(Segment(marker))
            continue
        if marker == SOI or marker == 0x00:
            raise CorruptFile(f"unexpected JPEG marker 0x{marker:02X} at offset {position - 1}")
        if position + 2 > length:
            raise CorruptFile("JPEG is truncated inside a segment header")
        (size,) = struct.unpack_from(">H", data, position)
        if size < 2 or position + size > length:
            raise CorruptFile(f"JPEG segment 0x{marker:02X} runs past the end of the file")
        payload = data[position + 2 : position + size]
        position += size
        if marker == SOS:
            end = _scan_end(data, position)
            segments.append(Segment(SOS, payload, data[position:end]))
            position = end
        else:
            segments.append(Segment(marker, payload))


def app_identifier(segment: Segment) -> str:
    """A readable name for an APPn segment, from the NUL-terminated identifier most writers use."""
    head = segment.payload[:40].split(b"\x00", 1)[0]
    name = head.decode("latin-1") if head.isascii() and head.strip() else ""
    return f"APP{segment.marker - APP0}" + (f" {name.strip()}" if name else "")
