"""WAV cleaning by RIFF chunk walking: only ``fmt``, ``fact`` and ``data`` survive.

Dropped: LIST (INFO tags and adtl cue labels), ``id3``/``ID3`` chunks, Broadcast Wave ``bext``,
iXML, axml, XMP (``_PMX``), cue/sampler chunks and padding/junk chunks.
"""

from __future__ import annotations

from services.ghost.containers.riff import RiffChunk, RiffFile, parse_riff
from services.ghost.errors import CorruptFile
from services.ghost.shred.report import Cleaned, Findings

KEPT_CHUNKS = frozenset({b"fmt ", b"fact", b"data"})


def info_labels(chunk: RiffChunk) -> list[str]:
    """``RIFF:INFO:IART``-style labels for the sub-chunks of a LIST/INFO chunk."""
    data = chunk.data
    if data[:4] != b"INFO":
        return [f"RIFF:LIST:{data[:4].decode('latin-1', 'replace').strip()}"]
    labels: list[str] = []
    position = 4
    while position + 8 <= len(data):
        sub_id = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        labels.append(f"RIFF:INFO:{sub_id.decode('latin-1', 'replace').strip()}")
        position += 8 + size + (size % 2)
    return labels or ["RIFF:INFO"]


def _describe(chunk: RiffChunk) -> list[str]:
    if chunk.id == b"LIST":
        return info_labels(chunk)
    if chunk.id in (b"id3 ", b"ID3 ", b"ID32"):
        return ["ID3"]
    if chunk.id == b"bext":
        return ["BWF:bext"]
    if chunk.id == b"_PMX":
        return ["XMP"]
    return [f"RIFF:{chunk.name}"]


def shred_wav(data: bytes) -> Cleaned:
    riff = parse_riff(data, b"WAVE")
    if riff.first(b"fmt ") is None or riff.first(b"data") is None:
        raise CorruptFile("WAV has no fmt or data chunk")
    findings = Findings()
    kept: list[RiffChunk] = []
    for chunk in riff.chunks:
        if chunk.id in KEPT_CHUNKS:
            kept.append(chunk)
        elif chunk.id not in (b"JUNK", b"PAD ", b"junk"):
            findings.remove(*_describe(chunk))
    if riff.trailer:
        findings.remove(f"data after RIFF ({len(riff.trailer)} bytes)")
    return Cleaned(RiffFile(b"WAVE", kept, b"").encode(), findings)
