"""ICC colour profiles: the header fields and text tags that can identify a device or author."""

from __future__ import annotations

import struct
from typing import Any

from services.ghost.jsonsafe import clean_text

TEXT_TAGS = {b"desc": "Description", b"cprt": "Copyright", b"dmnd": "DeviceManufacturer", b"dmdd": "DeviceModel"}
MAX_TAGS = 256


def _signature(data: bytes, offset: int) -> str:
    raw = data[offset : offset + 4]
    return raw.decode("latin-1").strip("\x00 ") if raw.strip(b"\x00") else ""


def _text(data: bytes) -> str | None:
    kind = data[:4]
    if kind == b"desc" and len(data) >= 12:
        (count,) = struct.unpack_from(">I", data, 8)
        return clean_text(data[12 : 12 + count].decode("latin-1", "replace"))
    if kind == b"text":
        return clean_text(data[8:].decode("latin-1", "replace"))
    if kind == b"mluc" and len(data) >= 16:
        (records,) = struct.unpack_from(">I", data, 8)
        if records and len(data) >= 28:
            length, offset = struct.unpack_from(">II", data, 20)
            return clean_text(data[offset : offset + length].decode("utf-16-be", "replace"))
    return None


def parse_icc(data: bytes) -> dict[str, Any]:
    if len(data) < 132 or data[36:40] != b"acsp":
        raise ValueError("not an ICC profile")
    info: dict[str, Any] = {
        "Size": len(data),
        "CMM": _signature(data, 4),
        "Version": f"{data[8]}.{data[9] >> 4}.{data[9] & 0x0F}",
        "DeviceClass": _signature(data, 12),
        "ColorSpace": _signature(data, 16),
        "ConnectionSpace": _signature(data, 20),
        "Platform": _signature(data, 40),
        "DeviceManufacturerSignature": _signature(data, 48),
        "DeviceModelSignature": _signature(data, 52),
        "Creator": _signature(data, 80),
    }
    year, month, day, hour, minute, second = struct.unpack_from(">6H", data, 24)
    if year:
        info["DateTime"] = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    (count,) = struct.unpack_from(">I", data, 128)
    for index in range(min(count, MAX_TAGS)):
        entry = 132 + index * 12
        if entry + 12 > len(data):
            break
        signature, offset, size = struct.unpack_from(">4sII", data, entry)
        if signature in TEXT_TAGS and offset + size <= len(data):
            text = _text(data[offset : offset + size])
            if text:
                info[TEXT_TAGS[signature]] = text
    return {key: value for key, value in info.items() if value not in ("", None)}
