"""Metadata extraction for JPEG, PNG, WebP, GIF and TIFF, from bytes (so embedded images work too).

Containers are walked with ghost's own parsers; nothing is decoded. A metadata payload that fails
to parse is reported as ``{"error": ...}`` in its group instead of failing the whole extraction.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import partial
from typing import Any

from services.ghost.containers.gif import APPLICATION, COMMENT, IMAGE, PLAIN_TEXT, parse_gif
from services.ghost.containers.jpeg import (
    ADOBE_PREFIX,
    APP0,
    APP1,
    APP2,
    APP13,
    APP14,
    COM,
    EXIF_PREFIX,
    EXTENDED_XMP_PREFIX,
    ICC_PREFIX,
    JFIF_PREFIX,
    PHOTOSHOP_PREFIX,
    SOF_MARKERS,
    XMP_PREFIX,
    app_identifier,
    parse_jpeg,
)
from services.ghost.containers.png import STRUCTURAL_ANCILLARY, bounded_inflate, parse_png
from services.ghost.containers.riff import parse_riff, webp_canvas
from services.ghost.containers.tiff import TIFF_LAYOUT_TAGS, open_tiff
from services.ghost.formats import FileKind
from services.ghost.jsonsafe import binary_summary, bytes_value, clean_text
from services.ghost.limits import Limits
from services.ghost.payloads.exif import ExifData, exif_data, parse_exif
from services.ghost.payloads.icc import parse_icc
from services.ghost.payloads.iptc import IPTC_RESOURCE, parse_iim, parse_photoshop
from services.ghost.payloads.xmp import locate_packet, parse_xmp

Groups = dict[str, Any]
JPEG_PROCESSES = {0xC0: "baseline", 0xC1: "extended sequential", 0xC2: "progressive", 0xC3: "lossless"}


def guarded(parser: Callable[[bytes], Any], data: bytes) -> Any:
    """Run a payload parser; hostile payloads fail in arbitrary ways, reported not raised."""
    try:
        return parser(data)
    except Exception as exc:
        return {"error": f"unparseable ({type(exc).__name__})", "size": len(data)}


def _add_exif(groups: Groups, data: bytes) -> None:
    parsed = guarded(parse_exif, data)
    if isinstance(parsed, ExifData):
        groups.update(parsed.as_groups())
    else:
        groups["EXIF"] = parsed


def _photoshop_groups(groups: Groups, data: bytes) -> None:
    resources = guarded(parse_photoshop, data)
    if not isinstance(resources, list):
        groups["Photoshop"] = resources
        return
    groups["Photoshop"] = [f"{resource.label} ({len(resource.data)} bytes)" for resource in resources]
    for resource in resources:
        if resource.id == IPTC_RESOURCE:
            groups["IPTC"] = guarded(parse_iim, resource.data)


def extract_jpeg(data: bytes, limits: Limits) -> tuple[dict[str, Any], Groups]:
    jpeg = parse_jpeg(data)
    width, height = jpeg.frame_size()
    limits.check_pixels(width, height)
    groups: Groups = {}
    properties: dict[str, Any] = {"width": width, "height": height}
    icc_chunks: list[tuple[int, bytes]] = []
    for segment in jpeg.segments:
        payload = segment.payload
        if segment.marker in SOF_MARKERS:
            properties["process"] = JPEG_PROCESSES.get(segment.marker, f"SOF{segment.marker - 0xC0}")
            properties["components"] = payload[5] if len(payload) > 5 else None
        elif segment.marker == APP1 and payload.startswith(EXIF_PREFIX) and "EXIF" not in groups:
            _add_exif(groups, payload)
        elif segment.marker == APP1 and payload.startswith(XMP_PREFIX):
            groups["XMP"] = guarded(parse_xmp, payload[len(XMP_PREFIX) :])
        elif segment.marker == APP1 and payload.startswith(EXTENDED_XMP_PREFIX):
            groups["XMP (extended)"] = binary_summary(len(payload))
        elif segment.marker == APP2 and payload.startswith(ICC_PREFIX) and len(payload) > len(ICC_PREFIX) + 2:
            icc_chunks.append((payload[len(ICC_PREFIX)], payload[len(ICC_PREFIX) + 2 :]))
        elif segment.marker == APP13 and payload.startswith(PHOTOSHOP_PREFIX):
            _photoshop_groups(groups, payload)
        elif segment.marker == APP0 and payload.startswith(JFIF_PREFIX) and len(payload) >= 14:
            units_x, units_y = struct.unpack_from(">HH", payload, 8)
            groups["JFIF"] = {
                "Version": f"{payload[5]}.{payload[6]:02d}",
                "DensityUnits": payload[7],
                "Density": [units_x, units_y],
                "Thumbnail": payload[12] * payload[13] > 0,
            }
        elif segment.marker == APP14 and payload.startswith(ADOBE_PREFIX) and len(payload) >= 12:
            groups["Adobe"] = {"DCTEncodeVersion": payload[5] << 8 | payload[6], "ColorTransform": payload[11]}
        elif segment.marker == COM:
            groups.setdefault("Comment", []).append(bytes_value(payload))
        elif segment.is_app:
            groups.setdefault("Other segments", []).append(f"{app_identifier(segment)} ({len(payload)} bytes)")
    if icc_chunks:
        groups["ICC"] = guarded(parse_icc, b"".join(chunk for _, chunk in sorted(icc_chunks)))
    if jpeg.trailer.strip(b"\x00"):
        groups["Trailer"] = binary_summary(len(jpeg.trailer))
    return properties, groups


def _raw_profile(text: str) -> bytes | None:
    """Decode ImageMagick's ``Raw profile type ...`` text chunks: a name, a length, then hex."""
    lines = text.strip().split("\n")
    if len(lines) < 3:
        return None
    try:
        return bytes.fromhex("".join(lines[2:]))
    except ValueError:
        return None


def _png_text(chunk_type: bytes, data: bytes, *, limits: Limits) -> tuple[str, str]:
    keyword, _, rest = data.partition(b"\x00")
    name = keyword.decode("latin-1", "replace")
    if chunk_type == b"tEXt":
        return name, rest.decode("latin-1", "replace")
    if chunk_type == b"zTXt":
        text, cut = bounded_inflate(rest[1:], limits.max_text_bytes)
        return name, text.decode("latin-1", "replace") + (" <truncated>" if cut else "")
    compressed, body = rest[:1] == b"\x01", rest[2:]
    _language, _, body = body.partition(b"\x00")
    _translated, _, body = body.partition(b"\x00")
    cut = False
    if compressed:
        body, cut = bounded_inflate(body, limits.max_text_bytes)
    return name, body.decode("utf-8", "replace") + (" <truncated>" if cut else "")


def extract_png(data: bytes, limits: Limits) -> tuple[dict[str, Any], Groups]:
    png = parse_png(data)
    width, height = png.size
    limits.check_pixels(width, height)
    header = png.chunks[0].data
    properties: dict[str, Any] = {
        "width": width,
        "height": height,
        "bit_depth": header[8],
        "color_type": header[9],
        "interlaced": bool(header[12]),
        "animated": any(chunk.type == b"acTL" for chunk in png.chunks),
    }
    groups: Groups = {}
    texts: dict[str, str] = {}
    other: dict[str, Any] = {}
    for chunk in png.chunks:
        if chunk.type in (b"tEXt", b"zTXt", b"iTXt"):
            parsed = guarded(partial(_png_text, chunk.type, limits=limits), chunk.data)
            if not isinstance(parsed, tuple):
                texts[chunk.name] = str(parsed)
                continue
            keyword, text = parsed
            if keyword == "XML:com.adobe.xmp":
                groups["XMP"] = guarded(parse_xmp, text.encode("utf-8"))
            elif keyword.startswith("Raw profile type ") and (profile := _raw_profile(text)) is not None:
                _add_raw_profile(groups, keyword.removeprefix("Raw profile type ").lower(), profile)
            else:
                texts[keyword] = clean_text(text)
        elif chunk.type == b"eXIf":
            _add_exif(groups, chunk.data)
        elif chunk.type == b"iCCP":
            name, _, rest = chunk.data.partition(b"\x00")
            profile = guarded(lambda raw: bounded_inflate(raw[1:], limits.max_text_bytes)[0], rest)
            icc = guarded(parse_icc, profile) if isinstance(profile, bytes) else profile
            if isinstance(icc, dict):
                icc["ProfileName"] = name.decode("latin-1", "replace")
            groups["ICC"] = icc
        elif chunk.type == b"tIME" and len(chunk.data) == 7:
            year, month, day, hour, minute, second = struct.unpack(">HBBBBB", chunk.data)
            other["ModifyTime"] = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
        elif not chunk.is_critical and chunk.type not in STRUCTURAL_ANCILLARY:
            other.setdefault("OtherChunks", []).append(f"{chunk.name} ({len(chunk.data)} bytes)")
    if texts:
        groups["PNG Text"] = texts
    if other:
        groups["PNG"] = other
    if png.trailer:
        groups["Trailer"] = binary_summary(len(png.trailer))
    return properties, groups


def _add_raw_profile(groups: Groups, kind: str, profile: bytes) -> None:
    if kind in ("exif", "app1"):
        _add_exif(groups, profile)
    elif kind == "xmp":
        groups["XMP"] = guarded(parse_xmp, profile)
    elif kind in ("iptc", "8bim"):
        _photoshop_groups(groups, profile)
    elif kind == "icc":
        groups["ICC"] = guarded(parse_icc, profile)
    else:
        groups.setdefault("PNG Text", {})[f"Raw profile type {kind}"] = binary_summary(len(profile))


def extract_webp(data: bytes, limits: Limits) -> tuple[dict[str, Any], Groups]:
    riff = parse_riff(data, b"WEBP")
    width, height = webp_canvas(riff)
    limits.check_pixels(width, height)
    properties: dict[str, Any] = {
        "width": width,
        "height": height,
        "lossless": riff.first(b"VP8L") is not None,
        "animated": riff.first(b"ANIM") is not None,
    }
    groups: Groups = {}
    for chunk in riff.chunks:
        if chunk.id == b"EXIF":
            _add_exif(groups, chunk.data)
        elif chunk.id == b"XMP ":
            groups["XMP"] = guarded(parse_xmp, chunk.data)
        elif chunk.id == b"ICCP":
            groups["ICC"] = guarded(parse_icc, chunk.data)
        elif chunk.id not in (b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"):
            groups.setdefault("Other chunks", []).append(f"{chunk.name} ({len(chunk.data)} bytes)")
    return properties, groups


def extract_gif(data: bytes, limits: Limits) -> tuple[dict[str, Any], Groups]:
    gif = parse_gif(data)
    limits.check_pixels(gif.width, gif.height)
    limits.check_frames(gif.frame_count)
    properties: dict[str, Any] = {
        "width": gif.width,
        "height": gif.height,
        "frames": gif.frame_count,
        "version": gif.header[:6].decode("ascii"),
    }
    groups: Groups = {}
    for block in gif.blocks:
        if block.introducer == IMAGE:
            continue
        if block.label == COMMENT:
            groups.setdefault("Comment", []).append(bytes_value(block.body))
        elif block.label == PLAIN_TEXT:
            groups.setdefault("GIF", {}).setdefault("PlainText", []).append(bytes_value(block.body[12:]))
        elif block.label == APPLICATION:
            identifier = block.application.decode("latin-1", "replace").strip()
            if block.application.startswith(b"XMP Data"):
                packet = locate_packet(block.raw)
                groups["XMP"] = guarded(parse_xmp, packet) if packet else binary_summary(len(block.raw))
            elif block.application.startswith(b"ICCRGBG1"):
                groups["ICC"] = guarded(parse_icc, block.body[11:])
            elif block.application in (b"NETSCAPE2.0", b"ANIMEXTS1.0") and len(block.body) >= 14:
                properties["loop_count"] = int.from_bytes(block.body[12:14], "little")
            else:
                groups.setdefault("GIF", {}).setdefault("Applications", []).append(identifier)
    if gif.trailer:
        groups["Trailer"] = binary_summary(len(gif.trailer))
    return properties, groups


def extract_tiff(data: bytes, limits: Limits) -> tuple[dict[str, Any], Groups]:
    image = open_tiff(data, limits)
    with image:
        tags = image.tag_v2
        properties: dict[str, Any] = {
            "width": image.width,
            "height": image.height,
            "mode": image.mode,
            "pages": getattr(image, "n_frames", 1),
            "compression": image.info.get("compression"),
        }
        groups: Groups = {}
        parsed = guarded(lambda _raw: exif_data(image.getexif(), TIFF_LAYOUT_TAGS), b"")
        if isinstance(parsed, ExifData):
            groups.update(parsed.as_groups())
        else:
            groups["EXIF"] = parsed
        payloads: list[tuple[int, str, Callable[[bytes], Any]]] = [
            (700, "XMP", parse_xmp),
            (33723, "IPTC", parse_iim),
            (34675, "ICC", parse_icc),
        ]
        for tag, group, parser in payloads:
            if tag in tags:
                groups[group] = guarded(parser, _tag_bytes(tags[tag]))
        if 34377 in tags:
            _photoshop_groups(groups, _tag_bytes(tags[34377]))
    return properties, groups


def _tag_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, tuple | list) and all(isinstance(item, int) for item in value):
        return bytes(item & 0xFF for item in value)
    return str(value).encode("utf-8")


EXTRACTORS: dict[FileKind, Callable[[bytes, Limits], tuple[dict[str, Any], Groups]]] = {
    FileKind.JPEG: extract_jpeg,
    FileKind.PNG: extract_png,
    FileKind.WEBP: extract_webp,
    FileKind.GIF: extract_gif,
    FileKind.TIFF: extract_tiff,
}


def extract_image_bytes(data: bytes, kind: FileKind, limits: Limits) -> tuple[dict[str, Any], Groups]:
    return EXTRACTORS[kind](data, limits)
