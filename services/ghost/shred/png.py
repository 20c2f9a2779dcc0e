"""PNG cleaning by chunk walking; IHDR/PLTE/IDAT are copied verbatim so pixels are unchanged.

Kept ancillary chunks are those that change how pixels are shown and hold no free text: tRNS, gAMA,
cHRM, sRGB, sBIT, bKGD, pHYs, hIST, cICP, mDCV/cLLI (HDR), and the APNG animation chunks. Unknown
critical chunks are kept because a decoder needs them. Every other ancillary chunk is dropped:
tEXt/zTXt/iTXt (including XMP), eXIf, tIME, iCCP (see the JPEG module for why ICC goes), sPLT, oFFs,
pCAL, sCAL and private chunks such as Apple's iDOT or C2PA's caBX.
"""

from __future__ import annotations

from services.ghost.containers.png import STRUCTURAL_ANCILLARY, Chunk, PngFile, parse_png
from services.ghost.limits import Limits
from services.ghost.payloads.exif import orientation_only_exif, read_orientation
from services.ghost.payloads.labels import exif_labels, xmp_labels
from services.ghost.shred.report import Cleaned, Findings

XMP_KEYWORD = b"XML:com.adobe.xmp"


def _describe(chunk: Chunk) -> list[str]:
    keyword = chunk.data.split(b"\x00", 1)[0][:79].decode("latin-1", "replace")
    if chunk.type == b"iTXt" and chunk.data.startswith(XMP_KEYWORD + b"\x00"):
        parts = chunk.data.split(b"\x00", 5)
        compressed = len(parts) > 1 and parts[1][:1] == b"\x01"
        return ["XMP"] if compressed or len(parts) < 6 else xmp_labels(parts[5])
    if chunk.type in (b"tEXt", b"zTXt", b"iTXt"):
        return [f"PNG:{chunk.name}:{keyword}"]
    if chunk.type == b"eXIf":
        return exif_labels(chunk.data)
    if chunk.type == b"iCCP":
        return ["ICC profile"]
    return [f"PNG:{chunk.name}"]


def shred_png(data: bytes, limits: Limits, *, keep_orientation: bool = True) -> Cleaned:
    png = parse_png(data)
    width, height = png.size
    limits.check_pixels(width, height)
    findings = Findings()
    orientation: int | None = None
    kept: list[Chunk] = []
    for chunk in png.chunks:
        if chunk.is_critical or chunk.type in STRUCTURAL_ANCILLARY:
            kept.append(chunk)
            continue
        if chunk.type == b"eXIf" and orientation is None:
            orientation = read_orientation(chunk.data)
        findings.remove(*_describe(chunk))
    if keep_orientation and orientation is not None and orientation != 1:
        kept.insert(1, Chunk(b"eXIf", orientation_only_exif(orientation)))
        findings.keep("EXIF:Orientation")
    if png.trailer:
        findings.remove(f"data after IEND ({len(png.trailer)} bytes)")
    return Cleaned(PngFile(kept, b"").encode(), findings)
