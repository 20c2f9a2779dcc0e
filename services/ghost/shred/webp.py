"""WebP cleaning by RIFF chunk walking; the VP8/VP8L/ALPH/ANMF image chunks are copied verbatim.

EXIF, XMP and ICCP chunks (and any unknown chunk) are dropped and the VP8X feature flags are
updated to match. A rotated image gets a new EXIF chunk holding only the Orientation tag.
"""

from __future__ import annotations

from services.ghost.containers.riff import RiffChunk, RiffFile, parse_riff, webp_canvas
from services.ghost.limits import Limits
from services.ghost.payloads.exif import orientation_only_exif, read_orientation
from services.ghost.payloads.labels import exif_labels, xmp_labels
from services.ghost.shred.report import Cleaned, Findings

IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"})
ICC_FLAG = 0x20
EXIF_FLAG = 0x08
XMP_FLAG = 0x04
EXIF_PREFIX = b"Exif\x00\x00"


def _describe(chunk: RiffChunk) -> list[str]:
    if chunk.id == b"EXIF":
        return exif_labels(chunk.data)
    if chunk.id == b"XMP ":
        return xmp_labels(chunk.data)
    if chunk.id == b"ICCP":
        return ["ICC profile"]
    return [f"WebP:{chunk.name}"]


def shred_webp(data: bytes, limits: Limits, *, keep_orientation: bool = True) -> Cleaned:
    riff = parse_riff(data, b"WEBP")
    width, height = webp_canvas(riff)
    limits.check_pixels(width, height)
    findings = Findings()
    orientation: int | None = None
    kept: list[RiffChunk] = []
    for chunk in riff.chunks:
        if chunk.id in IMAGE_CHUNKS:
            kept.append(chunk)
            continue
        if chunk.id == b"EXIF" and orientation is None:
            payload = chunk.data[len(EXIF_PREFIX) :] if chunk.data.startswith(EXIF_PREFIX) else chunk.data
            orientation = read_orientation(payload)
        findings.remove(*_describe(chunk))
    rotated = keep_orientation and orientation is not None and orientation != 1
    if kept and kept[0].id == b"VP8X":
        flags = kept[0].data[0] & ~(ICC_FLAG | EXIF_FLAG | XMP_FLAG)
        if rotated:
            flags |= EXIF_FLAG
        kept[0] = RiffChunk(b"VP8X", bytes((flags,)) + kept[0].data[1:])
        if rotated and orientation is not None:
            kept.append(RiffChunk(b"EXIF", orientation_only_exif(orientation)))
            findings.keep("EXIF:Orientation")
    if riff.trailer:
        findings.remove(f"data after RIFF ({len(riff.trailer)} bytes)")
    return Cleaned(RiffFile(b"WEBP", kept, b"").encode(), findings)
