"""IPTC-IIM records and the Photoshop image resource blocks (APP13) that usually carry them."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from services.ghost.jsonsafe import bytes_value, clean_text

PHOTOSHOP_SIGNATURES = (b"8BIM", b"MeSa", b"PHUT", b"AgHg", b"DCSR")
IPTC_RESOURCE = 0x0404
MAX_RECORDS = 2_000

RESOURCE_NAMES = {
    0x03ED: "ResolutionInfo",
    0x0404: "IPTC-NAA",
    0x0406: "JPEGQuality",
    0x0409: "Thumbnail",
    0x040C: "Thumbnail",
    0x040F: "ICCProfile",
    0x0422: "EXIF",
    0x0424: "XMP",
    0x0425: "IPTCDigest",
}

DATASET_NAMES = {
    (1, 90): "CodedCharacterSet",
    (2, 0): "ApplicationRecordVersion",
    (2, 5): "ObjectName",
    (2, 15): "Category",
    (2, 20): "SupplementalCategories",
    (2, 25): "Keywords",
    (2, 40): "SpecialInstructions",
    (2, 55): "DateCreated",
    (2, 60): "TimeCreated",
    (2, 62): "DigitalCreationDate",
    (2, 63): "DigitalCreationTime",
    (2, 65): "OriginatingProgram",
    (2, 70): "ProgramVersion",
    (2, 80): "By-line",
    (2, 85): "By-lineTitle",
    (2, 90): "City",
    (2, 92): "Sub-location",
    (2, 95): "Province-State",
    (2, 100): "Country-PrimaryLocationCode",
    (2, 101): "Country-PrimaryLocationName",
    (2, 103): "OriginalTransmissionReference",
    (2, 105): "Headline",
    (2, 110): "Credit",
    (2, 115): "Source",
    (2, 116): "CopyrightNotice",
    (2, 118): "Contact",
    (2, 120): "Caption-Abstract",
    (2, 122): "Writer-Editor",
}


@dataclass(frozen=True, slots=True)
class Resource:
    id: int
    name: str
    data: bytes

    @property
    def label(self) -> str:
        return RESOURCE_NAMES.get(self.id, f"0x{self.id:04X}")


def parse_photoshop(data: bytes) -> list[Resource]:
    """Image resource blocks, with or without the ``Photoshop 3.0\\0`` prefix."""
    if data.startswith(b"Photoshop 3.0\x00"):
        data = data[14:]
    resources: list[Resource] = []
    position = 0
    while position + 12 <= len(data) and data[position : position + 4] in PHOTOSHOP_SIGNATURES:
        (resource_id,) = struct.unpack_from(">H", data, position + 4)
        name_length = data[position + 6]
        name_field = 1 + name_length + ((1 + name_length) % 2)
        name = data[position + 7 : position + 7 + name_length].decode("latin-1")
        size_at = position + 6 + name_field
        if size_at + 4 > len(data):
            raise ValueError("truncated Photoshop resource")
        (size,) = struct.unpack_from(">I", data, size_at)
        body_start = size_at + 4
        if body_start + size > len(data):
            raise ValueError("truncated Photoshop resource")
        resources.append(Resource(resource_id, name, data[body_start : body_start + size]))
        position = body_start + size + (size % 2)
    return resources


def parse_iim(data: bytes) -> dict[str, Any]:
    """IPTC-IIM datasets by name; repeated datasets (keywords, bylines) become lists."""
    values: dict[str, Any] = {}
    utf8 = False
    position = 0
    count = 0
    while position + 5 <= len(data) and data[position] == 0x1C and count < MAX_RECORDS:
        record, dataset = data[position + 1], data[position + 2]
        (size,) = struct.unpack_from(">H", data, position + 3)
        position += 5
        if size & 0x8000:
            width = size & 0x7FFF
            if width > 4 or position + width > len(data):
                raise ValueError("bad extended IPTC dataset length")
            size = int.from_bytes(data[position : position + width], "big")
            position += width
        raw = data[position : position + size]
        if len(raw) < size:
            raise ValueError("truncated IPTC dataset")
        position += size
        count += 1
        if (record, dataset) == (1, 90):
            utf8 = raw == b"\x1b%G"
        name = DATASET_NAMES.get((record, dataset), f"{record}:{dataset:03d}")
        if record == 2 and dataset != 0:
            text = raw.decode("utf-8" if utf8 else "latin-1", "replace")
            value: Any = clean_text(text)
        else:
            value = bytes_value(raw)
        if name in values:
            existing = values[name]
            values[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            values[name] = value
    return values
