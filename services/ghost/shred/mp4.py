"""M4A cleaning: mutagen removes the iTunes ``ilst`` tags, then remaining metadata boxes are blanked.

After mutagen has dropped the tag list (which shrinks the file by the size of any cover art), every
``udta`` and ``meta`` box under the movie or a track, XMP ``uuid`` boxes and the contents of
``free``/``skip`` boxes are zero-filled in place, and the creation/modification times in
mvhd/tkhd/mdhd are zeroed. In-place blanking keeps every chunk offset valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mutagen
from mutagen.mp4 import MP4

from services.ghost.containers.mp4 import TIMESTAMPED_HEADERS, Box, header_times, neutralise, walk
from services.ghost.errors import CorruptFile
from services.ghost.shred.report import Findings

XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
METADATA_BOXES = frozenset({b"udta", b"meta"})


def _open(path: Path) -> Any:
    opener: Any = MP4
    try:
        return opener(path)
    except (mutagen.MutagenError, OSError, ValueError, EOFError) as exc:
        raise CorruptFile(f"unreadable MP4 audio: {exc}") from exc


def _mp4_tag_label(key: str) -> str:
    if key == "covr":
        return "MP4:cover art"
    return f"MP4:{key}"


def _is_metadata_box(box: Box, handle_uuid: bytes) -> bool:
    if box.type in METADATA_BOXES:
        return not any(parent in METADATA_BOXES for parent in box.path)
    return box.type == b"uuid" and handle_uuid == XMP_UUID


def shred_m4a(path: Path) -> Findings:
    findings = Findings()
    audio = _open(path)
    if audio.tags is not None and len(audio.tags):
        findings.remove(*(_mp4_tag_label(key) for key in audio.tags))
        try:
            audio.delete()
        except (mutagen.MutagenError, OSError) as exc:
            raise CorruptFile(f"MP4 tags could not be removed: {exc}") from exc
    size = path.stat().st_size
    with path.open("r+b") as handle:
        for box in walk(handle, size):
            if any(parent in METADATA_BOXES for parent in box.path):
                if box.type not in (b"hdlr", b"ilst", b"free"):
                    findings.remove(f"MP4:{b'/'.join((*box.path, box.type)).decode('latin-1')}")
                continue
            handle.seek(box.payload_offset)
            extended = handle.read(16) if box.type == b"uuid" else b""
            if _is_metadata_box(box, extended):
                neutralise(handle, box)
                if box.type == b"uuid":
                    findings.remove("XMP")
            elif box.type in (b"free", b"skip"):
                neutralise(handle, box)
            elif box.type in TIMESTAMPED_HEADERS:
                offset, width, created, modified = header_times(handle, box)
                if created or modified:
                    handle.seek(offset)
                    handle.write(bytes(width))
                    findings.remove(f"MP4:{box.name} creation/modification time")
    _open(path)
    return findings
