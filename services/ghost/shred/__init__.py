"""Metadata removal: :func:`shred_file` writes a cleaned copy in the same format."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

from services.ghost.errors import CorruptFile
from services.ghost.formats import IMAGE_KINDS, OFFICE_KINDS, FileKind, detect
from services.ghost.limits import DEFAULT_LIMITS, Limits
from services.ghost.shred.audio import shred_flac, shred_mp3, shred_ogg
from services.ghost.shred.images import shred_image_bytes
from services.ghost.shred.mp4 import shred_m4a
from services.ghost.shred.office import shred_office
from services.ghost.shred.pdf import shred_pdf
from services.ghost.shred.report import Findings, ShredReport
from services.ghost.shred.wav import shred_wav

IN_PLACE_AUDIO = {FileKind.MP3: shred_mp3, FileKind.FLAC: shred_flac, FileKind.OGG: shred_ogg, FileKind.M4A: shred_m4a}


def shred_file(src: Path, dst: Path, *, limits: Limits = DEFAULT_LIMITS) -> ShredReport:
    """Write a metadata-free copy of ``src`` to ``dst`` and report what was removed.

    The format is detected from content. ``dst`` is created or overwritten; on any failure it is
    removed again, so no partial output is left behind. ``src`` is never modified.

    Raises :class:`~services.ghost.errors.UnsupportedFormat`, :class:`~services.ghost.errors.CorruptFile`
    or :class:`~services.ghost.errors.InputTooLarge`; ``ValueError`` if ``src`` and ``dst`` are the same.
    """
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError("shred_file needs distinct source and destination paths")
    size = src.stat().st_size
    limits.check_bytes(size)
    kind = detect(src).kind
    try:
        findings = _shred(src, dst, kind, limits)
    except (struct.error, EOFError, zlib.error, IndexError) as exc:
        dst.unlink(missing_ok=True)
        # Low-level decoding errors deep inside a parser mean the bytes contradict their structure.
        raise CorruptFile(f"malformed {kind.value} file: {type(exc).__name__}") from exc
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    return ShredReport(
        kind=kind.value,
        removed=findings.removed,
        kept=findings.kept,
        bytes_before=size,
        bytes_after=dst.stat().st_size,
    )


def _shred(src: Path, dst: Path, kind: FileKind, limits: Limits) -> Findings:
    if kind in IMAGE_KINDS:
        cleaned = shred_image_bytes(src.read_bytes(), kind, limits)
        dst.write_bytes(cleaned.data)
        return cleaned.findings
    if kind is FileKind.PDF:
        return shred_pdf(src, dst, limits)
    if kind in OFFICE_KINDS:
        return shred_office(src, dst, kind, limits)
    if kind is FileKind.WAV:
        cleaned = shred_wav(src.read_bytes())
        dst.write_bytes(cleaned.data)
        return cleaned.findings
    shutil.copyfile(src, dst)
    return IN_PLACE_AUDIO[kind](dst)
