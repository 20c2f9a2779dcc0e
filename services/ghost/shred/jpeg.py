"""JPEG cleaning by segment surgery; the compressed image data is copied byte for byte.

Kept: the frame, tables and scans; a JFIF APP0 reduced to version and pixel density (its optional
thumbnail dropped); an Adobe APP14, because its colour-transform flag decides how CMYK/YCCK data is
decoded; and, when the original was rotated, a new EXIF APP1 holding only the Orientation tag.
Dropped: every other APPn (EXIF, XMP, extended XMP, ICC, MPF, Photoshop/IPTC, vendor blocks), COM
segments and anything after EOI (MPF secondary images, vendor trailers). ICC profiles are dropped
rather than kept: they can carry device make/model, creation dates and free-text descriptions, and
the pixels themselves are unchanged, so viewers fall back to sRGB.
"""

from __future__ import annotations

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
    SOI,
    XMP_PREFIX,
    Segment,
    app_identifier,
    parse_jpeg,
)
from services.ghost.limits import Limits
from services.ghost.payloads.exif import orientation_only_exif, read_orientation
from services.ghost.payloads.labels import exif_labels, photoshop_labels, xmp_labels
from services.ghost.shred.report import Cleaned, Findings


def _minimal_jfif(payload: bytes) -> tuple[Segment, bool]:
    """JFIF APP0 with version and density only; the flag says whether a thumbnail was dropped."""
    version, units, x_density, y_density = payload[5:7], payload[7:8], payload[8:10], payload[10:12]
    thumbnail = len(payload) >= 14 and payload[12] * payload[13] > 0
    return Segment(APP0, JFIF_PREFIX + version + units + x_density + y_density + b"\x00\x00"), thumbnail


def _describe(segment: Segment) -> list[str]:
    payload = segment.payload
    if segment.marker == COM:
        return ["JPEG comment"]
    if segment.marker == APP1 and payload.startswith(EXIF_PREFIX):
        return exif_labels(payload)
    if segment.marker == APP1 and payload.startswith(XMP_PREFIX):
        return xmp_labels(payload[len(XMP_PREFIX) :])
    if segment.marker == APP1 and payload.startswith(EXTENDED_XMP_PREFIX):
        return ["XMP (extended)"]
    if segment.marker == APP2 and payload.startswith(ICC_PREFIX):
        return ["ICC profile"]
    if segment.marker == APP2 and payload.startswith(b"MPF\x00"):
        return ["MPF (multi-picture index)"]
    if segment.marker == APP13 and payload.startswith(PHOTOSHOP_PREFIX):
        return photoshop_labels(payload)
    if segment.marker == APP0 and payload.startswith(b"JFXX\x00"):
        return ["JFXX thumbnail"]
    return [app_identifier(segment)]


def shred_jpeg(data: bytes, limits: Limits, *, keep_orientation: bool = True) -> Cleaned:
    jpeg = parse_jpeg(data)
    width, height = jpeg.frame_size()
    limits.check_pixels(width, height)
    findings = Findings()
    orientation: int | None = None
    jfif: Segment | None = None
    body: list[Segment] = []
    for segment in jpeg.segments[1:]:
        payload = segment.payload
        if segment.marker == APP0 and payload.startswith(JFIF_PREFIX) and len(payload) >= 12 and jfif is None:
            jfif, had_thumbnail = _minimal_jfif(payload)
            findings.keep("JFIF")
            if had_thumbnail:
                findings.remove("JFIF thumbnail")
            continue
        if segment.marker == APP14 and payload.startswith(ADOBE_PREFIX) and len(payload) == 12:
            body.append(segment)
            findings.keep("Adobe APP14 (colour transform)")
            continue
        if segment.is_app or segment.marker == COM:
            if segment.marker == APP1 and payload.startswith(EXIF_PREFIX) and orientation is None:
                orientation = read_orientation(payload)
            findings.remove(*_describe(segment))
            continue
        body.append(segment)
    if jpeg.trailer.strip(b"\x00"):
        findings.remove(f"data after end of image ({len(jpeg.trailer)} bytes)")
    head: list[Segment] = [Segment(SOI)]
    if jfif is not None:
        head.append(jfif)
    if keep_orientation and orientation is not None and orientation != 1:
        head.append(Segment(APP1, EXIF_PREFIX + orientation_only_exif(orientation)))
        findings.keep("EXIF:Orientation")
    cleaned = b"".join(segment.encode() for segment in head + body)
    return Cleaned(cleaned, findings)
