"""Metadata extraction: :func:`extract_metadata` reports every metadata group a file carries."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path, PurePath
from typing import Any

from services.ghost.errors import CorruptFile
from services.ghost.extract.audio import extract_audio
from services.ghost.extract.images import extract_image_bytes
from services.ghost.extract.office import extract_office
from services.ghost.extract.pdf import extract_pdf
from services.ghost.formats import AUDIO_KINDS, IMAGE_KINDS, OFFICE_KINDS, FileKind, detect, extension_matches
from services.ghost.jsonsafe import clean_text
from services.ghost.limits import DEFAULT_LIMITS, Limits

HASH_CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def extract_metadata(path: Path, *, filename: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Describe ``path`` and every metadata group found in it, as a JSON-safe dict.

    ``filename`` is the name the user gave the file; it is reported (and compared with the detected
    format) but never used to choose a parser. The result has three keys: ``file`` (name, size,
    sha256, libmagic MIME type, detected kind, whether the extension fits), ``properties``
    (structural facts such as dimensions, pages or duration) and ``metadata`` (group name → values).

    Raises :class:`~services.ghost.errors.UnsupportedFormat`, :class:`~services.ghost.errors.CorruptFile`
    or :class:`~services.ghost.errors.InputTooLarge`.
    """
    path = Path(path)
    size = path.stat().st_size
    limits.check_bytes(size)
    detection = detect(path)
    kind = detection.kind
    try:
        properties, groups = _extract(path, kind, limits)
    except (struct.error, EOFError, zlib.error, IndexError) as exc:
        # Low-level decoding errors deep inside a parser mean the bytes contradict their structure.
        raise CorruptFile(f"malformed {kind.value} file: {type(exc).__name__}") from exc
    return {
        "file": {
            "name": clean_text(PurePath(filename.replace("\\", "/")).name),
            "size": size,
            "sha256": _sha256(path),
            "mime": detection.mime,
            "kind": kind.value,
            "extension_matches": extension_matches(filename, kind),
        },
        "properties": properties,
        "metadata": groups,
    }


def _extract(path: Path, kind: FileKind, limits: Limits) -> tuple[dict[str, Any], dict[str, Any]]:
    if kind in IMAGE_KINDS:
        return extract_image_bytes(path.read_bytes(), kind, limits)
    if kind is FileKind.PDF:
        return extract_pdf(path, limits)
    if kind in OFFICE_KINDS:
        return extract_office(path, kind, limits)
    if kind in AUDIO_KINDS:
        return extract_audio(path, kind, limits)
    raise AssertionError(f"no extractor for {kind}")
