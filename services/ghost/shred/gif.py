"""GIF cleaning by block walking; frames and colour tables are copied verbatim.

Kept: graphic control extensions (timing, transparency, disposal) and the NETSCAPE2.0/ANIMEXTS1.0
application extension that says how often an animation loops. Dropped: comment extensions, plain
text extensions (which browsers never render), every other application extension (XMP, ICC,
vendor data) and bytes after the trailer.
"""

from __future__ import annotations

from services.ghost.containers.gif import APPLICATION, COMMENT, GRAPHIC_CONTROL, IMAGE, PLAIN_TEXT, Block, parse_gif
from services.ghost.limits import Limits
from services.ghost.shred.report import Cleaned, Findings

LOOP_APPLICATIONS = frozenset({b"NETSCAPE2.0", b"ANIMEXTS1.0"})


def _describe(block: Block) -> str:
    if block.label == COMMENT:
        return "GIF comment"
    if block.label == PLAIN_TEXT:
        return "GIF plain text extension"
    if block.label == APPLICATION:
        if block.application.startswith(b"XMP Data"):
            return "XMP"
        if block.application.startswith(b"ICCRGBG1"):
            return "ICC profile"
        return "GIF application extension " + block.application.decode("latin-1", "replace").strip()
    return f"GIF extension 0x{block.label:02X}"


def shred_gif(data: bytes, limits: Limits) -> Cleaned:
    gif = parse_gif(data)
    limits.check_pixels(gif.width, gif.height)
    limits.check_frames(gif.frame_count)
    findings = Findings()
    kept: list[Block] = []
    for block in gif.blocks:
        if block.introducer == IMAGE:
            limits.check_pixels(block.width, block.height, "GIF frame")
            kept.append(block)
        elif block.label == GRAPHIC_CONTROL or (block.label == APPLICATION and block.application in LOOP_APPLICATIONS):
            kept.append(block)
        else:
            findings.remove(_describe(block))
    if any(block.label == APPLICATION for block in kept):
        findings.keep("GIF animation loop count")
    if gif.trailer:
        findings.remove(f"data after GIF trailer ({len(gif.trailer)} bytes)")
    return Cleaned(gif.encode(kept), findings)
