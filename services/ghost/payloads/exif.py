"""EXIF (TIFF-structured) metadata: parsing into named values, and the minimal Orientation-only EXIF.

Parsing is delegated to Pillow's ``Image.Exif``, which understands the IFD0, Exif, GPS, Interop and
thumbnail (IFD1) directories. Maker notes are vendor-private binary blobs and are only summarised.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from PIL import ExifTags, Image

from services.ghost.jsonsafe import binary_summary, clean_text, json_safe

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
INTEROP_IFD = 0xA005
ORIENTATION = 0x0112
MAKER_NOTE = 0x927C
USER_COMMENT = 0x9286
THUMBNAIL_LENGTH = 0x0202
# Windows Explorer's XPTitle/XPComment/XPAuthor/XPKeywords/XPSubject, stored as UTF-16LE bytes.
XP_TAGS = frozenset(range(0x9C9B, 0x9CA0))
# Pointers and strip/tile layout: structure, not metadata. XMP, IPTC, Photoshop and ICC payloads
# that TIFF stores as tags are parsed into their own groups instead.
LAYOUT_TAGS = frozenset(
    {EXIF_IFD, GPS_IFD, INTEROP_IFD, 0x0111, 0x0117, 0x0144, 0x0145, 0x0201, 0x0202} | {700, 33723, 34377, 34675}
)


@dataclass(slots=True)
class ExifData:
    tags: dict[str, Any] = field(default_factory=dict)
    gps: dict[str, Any] = field(default_factory=dict)
    orientation: int | None = None
    thumbnail_bytes: int | None = None

    def labels(self) -> list[str]:
        """Human-readable names of what this EXIF block holds, for shred reports."""
        names = [f"EXIF:{name}" for name in self.tags]
        names += [f"EXIF:{name}" for name in self.gps if name.startswith("GPS")]
        if self.thumbnail_bytes:
            names.append("EXIF:thumbnail")
        return names or ["EXIF"]

    def as_groups(self) -> dict[str, Any]:
        groups: dict[str, Any] = {}
        tags = dict(self.tags)
        if self.thumbnail_bytes:
            tags["Thumbnail"] = binary_summary(self.thumbnail_bytes)
        if tags:
            groups["EXIF"] = tags
        if self.gps:
            groups["GPS"] = dict(self.gps)
        return groups


def _decode_user_comment(value: bytes) -> str:
    charset, text = value[:8], value[8:]
    if charset.startswith(b"UNICODE"):
        encoding = "utf-16-be" if text[:1] == b"\x00" else "utf-16-le"
        return clean_text(text.decode(encoding, "replace"))
    return clean_text(text.decode("utf-8", "replace").strip())


def _value(tag: int, value: Any) -> Any:
    if tag == MAKER_NOTE and isinstance(value, bytes):
        return binary_summary(len(value))
    if tag == USER_COMMENT and isinstance(value, bytes) and len(value) >= 8:
        return _decode_user_comment(value)
    if isinstance(value, bytes) and len(value) == 1:
        return value[0]
    if tag in XP_TAGS:
        raw = bytes(value) if isinstance(value, bytes | tuple | list) else b""
        return clean_text(raw.decode("utf-16-le", "replace"))
    return json_safe(value)


def _rational(value: Any) -> float | None:
    converted = json_safe(value)
    return float(converted) if isinstance(converted, int | float) else None


def _dms_to_decimal(dms: Any, reference: Any, negative: str) -> float | None:
    if not isinstance(dms, tuple | list) or not dms:
        return None
    parts = [_rational(part) for part in dms[:3]]
    if any(part is None for part in parts):
        return None
    degrees, minutes, seconds = ([p for p in parts if p is not None] + [0.0, 0.0])[:3]
    decimal = degrees + minutes / 60 + seconds / 3600
    if isinstance(reference, bytes):
        reference = reference.decode("latin-1", "replace")
    if isinstance(reference, str) and reference.strip().upper().startswith(negative):
        decimal = -decimal
    return round(decimal, 7)


def gps_decimal(gps: dict[int, Any]) -> dict[str, Any]:
    """Decimal latitude/longitude/altitude from a raw GPS IFD."""
    result: dict[str, Any] = {}
    latitude = _dms_to_decimal(gps.get(2), gps.get(1), "S")
    longitude = _dms_to_decimal(gps.get(4), gps.get(3), "W")
    if latitude is not None and longitude is not None:
        result["latitude"] = latitude
        result["longitude"] = longitude
    altitude = _rational(gps.get(6)) if 6 in gps else None
    if altitude is not None:
        below = gps.get(5) in (1, b"\x01")
        result["altitude"] = -altitude if below else altitude
    return result


def parse_exif(data: bytes) -> ExifData:
    """Parse a TIFF-structured EXIF block (with or without the ``Exif\\0\\0`` prefix)."""
    exif = Image.Exif()
    exif.load(data)
    return exif_data(exif)


def exif_data(exif: Image.Exif, skip: frozenset[int] = frozenset()) -> ExifData:
    """Named values from a loaded :class:`PIL.Image.Exif` (from an EXIF block or a TIFF's IFD0).

    ``skip`` names further tags to leave out, such as a TIFF's own image layout tags.
    """
    result = ExifData()
    ifds: list[dict[int, Any]] = [dict(exif.items()), exif.get_ifd(EXIF_IFD), exif.get_ifd(INTEROP_IFD)]
    for ifd in ifds:
        for tag, value in ifd.items():
            if tag in LAYOUT_TAGS or tag in skip:
                continue
            name = ExifTags.TAGS.get(tag, f"Tag0x{tag:04X}")
            result.tags[name] = _value(tag, value)
    orientation = exif.get(ORIENTATION)
    if isinstance(orientation, int):
        result.orientation = orientation
    gps = exif.get_ifd(GPS_IFD)
    if gps:
        result.gps.update(gps_decimal(gps))
        for tag, value in gps.items():
            result.gps[ExifTags.GPSTAGS.get(tag, f"Tag0x{tag:04X}")] = json_safe(value)
    thumbnail = exif.get_ifd(ExifTags.IFD.IFD1)
    length = thumbnail.get(THUMBNAIL_LENGTH)
    if isinstance(length, int) and length > 0:
        result.thumbnail_bytes = length
    return result


def read_orientation(data: bytes) -> int | None:
    """The Orientation tag, or ``None`` when absent or unreadable."""
    exif = Image.Exif()
    try:
        exif.load(data)
        value = exif.get(ORIENTATION)
    except Exception:
        # Unreadable EXIF is dropped anyway; without it the image simply shows unrotated.
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def orientation_only_exif(orientation: int) -> bytes:
    """A big-endian TIFF structure whose single IFD holds just the Orientation tag."""
    entry = struct.pack(">HHIHH", ORIENTATION, 3, 1, orientation, 0)
    return b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1) + entry + struct.pack(">I", 0)
