"""Content-based format detection.

The format is decided from the bytes (signatures, container structure and libmagic), never from the
file name. The name only matters for the download: Office and some players choose a parser by
extension, so :func:`cleaned_filename` gives the output the extension its content deserves.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePath

import magic
from defusedxml import ElementTree

from services.ghost.errors import CorruptFile, UnsupportedFormat


class FileKind(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    TIFF = "tiff"
    GIF = "gif"
    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    PPTX = "pptx"
    MP3 = "mp3"
    FLAC = "flac"
    OGG = "ogg"
    M4A = "m4a"
    WAV = "wav"


SUPPORTED_FORMATS: tuple[str, ...] = tuple(kind.value for kind in FileKind)

IMAGE_KINDS = frozenset({FileKind.JPEG, FileKind.PNG, FileKind.WEBP, FileKind.TIFF, FileKind.GIF})
OFFICE_KINDS = frozenset({FileKind.DOCX, FileKind.XLSX, FileKind.PPTX})
AUDIO_KINDS = frozenset({FileKind.MP3, FileKind.FLAC, FileKind.OGG, FileKind.M4A, FileKind.WAV})

EXTENSIONS: dict[FileKind, tuple[str, ...]] = {
    FileKind.JPEG: (".jpg", ".jpeg", ".jpe", ".jfif"),
    FileKind.PNG: (".png",),
    FileKind.WEBP: (".webp",),
    FileKind.TIFF: (".tif", ".tiff"),
    FileKind.GIF: (".gif",),
    FileKind.PDF: (".pdf",),
    FileKind.DOCX: (".docx",),
    FileKind.XLSX: (".xlsx",),
    FileKind.PPTX: (".pptx",),
    FileKind.MP3: (".mp3",),
    FileKind.FLAC: (".flac",),
    FileKind.OGG: (".ogg", ".oga", ".opus", ".spx"),
    FileKind.M4A: (".m4a", ".m4b", ".mp4"),
    FileKind.WAV: (".wav", ".wave"),
}

MIME_TYPES: dict[FileKind, str] = {
    FileKind.JPEG: "image/jpeg",
    FileKind.PNG: "image/png",
    FileKind.WEBP: "image/webp",
    FileKind.TIFF: "image/tiff",
    FileKind.GIF: "image/gif",
    FileKind.PDF: "application/pdf",
    FileKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    FileKind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    FileKind.PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    FileKind.MP3: "audio/mpeg",
    FileKind.FLAC: "audio/flac",
    FileKind.OGG: "audio/ogg",
    FileKind.M4A: "audio/mp4",
    FileKind.WAV: "audio/wav",
}

OFFICE_MAIN_CONTENT_TYPES: dict[str, FileKind] = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": FileKind.DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": FileKind.XLSX,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": FileKind.PPTX,
}

HEAD_BYTES = 64 * 1024
MAX_CONTENT_TYPES_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Detection:
    kind: FileKind
    mime: str


def libmagic_mime(path: Path) -> str:
    return str(magic.from_file(str(path), mime=True))


def libmagic_mime_of(data: bytes) -> str:
    return str(magic.from_buffer(data[:HEAD_BYTES], mime=True))


def detect(path: Path) -> Detection:
    """Identify a file's format from its content; raise :class:`UnsupportedFormat` otherwise."""
    mime = libmagic_mime(path)
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    kind = sniff(head, mime)
    if kind is None and head.startswith(b"ID3"):
        kind = _sniff_after_id3(path, head, mime)
    if kind is None and head.startswith(b"PK\x03\x04"):
        kind = _office_kind(path, mime)
    if kind is None:
        raise UnsupportedFormat(mime, SUPPORTED_FORMATS)
    return Detection(kind=kind, mime=mime)


def detect_kind(path: Path) -> FileKind:
    return detect(path).kind


def sniff(head: bytes, mime: str = "") -> FileKind | None:
    """Signature check on the first bytes of a file; ``mime`` (libmagic) settles the weak cases."""
    if head.startswith(b"\xff\xd8\xff"):
        return FileKind.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind.PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FileKind.GIF
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        # Camera raw formats are TIFF underneath; re-saving them through Pillow would keep only
        # the preview, so anything libmagic recognises as more specific than TIFF is refused.
        return FileKind.TIFF if mime in ("image/tiff", "") else None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileKind.WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return FileKind.WAV
    if b"%PDF-" in head[:1024]:
        return FileKind.PDF
    if head.startswith(b"fLaC"):
        return FileKind.FLAC
    if head.startswith(b"OggS"):
        return _ogg_kind(head)
    if head[4:8] == b"ftyp":
        return _mp4_kind(head, mime)
    if _is_mpeg_audio_frame(head, 0) and mime == "audio/mpeg":
        return FileKind.MP3
    return None


def _ogg_kind(head: bytes) -> FileKind | None:
    # The first page carries exactly the codec identification header packet.
    if len(head) < 28:
        return None
    segments = head[26]
    packet = head[27 + segments : 27 + segments + 16]
    if packet.startswith((b"\x01vorbis", b"OpusHead", b"\x7fFLAC", b"Speex   ")):
        return FileKind.OGG
    return None


def _mp4_kind(head: bytes, mime: str) -> FileKind | None:
    brand = head[8:12]
    if brand in (b"M4A ", b"M4B ", b"M4P ") or mime in ("audio/x-m4a", "audio/mp4"):
        return FileKind.M4A
    return None


def _is_mpeg_audio_frame(data: bytes, offset: int) -> bool:
    if len(data) < offset + 4:
        return False
    b1, b2 = data[offset + 1], data[offset + 2]
    # Frame sync, a real layer (ADTS AAC uses layer 0) and a usable bitrate / sample-rate index.
    return (
        data[offset] == 0xFF
        and (b1 & 0xE0) == 0xE0
        and (b1 & 0x06) != 0
        and (b1 & 0x18) != 0x08
        and (b2 & 0xF0) != 0xF0
        and (b2 & 0x0C) != 0x0C
    )


def _sniff_after_id3(path: Path, head: bytes, mime: str) -> FileKind | None:
    if len(head) < 10:
        return None
    size = 0
    for byte in head[6:10]:
        size = (size << 7) | (byte & 0x7F)
    offset = 10 + size + (10 if head[5] & 0x10 else 0)
    with path.open("rb") as handle:
        handle.seek(offset)
        after = handle.read(16)
    if after.startswith(b"fLaC"):
        return FileKind.FLAC
    if _is_mpeg_audio_frame(after, 0) or (mime == "audio/mpeg" and not after.startswith(b"\xff\xf1")):
        return FileKind.MP3
    return None


def _office_kind(path: Path, mime: str) -> FileKind | None:
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("[Content_Types].xml")
            except KeyError:
                return None
            if info.file_size > MAX_CONTENT_TYPES_BYTES:
                raise CorruptFile("[Content_Types].xml is implausibly large")
            content_types = archive.read(info)
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, ValueError) as exc:
        raise CorruptFile(f"broken zip container: {exc}") from exc
    try:
        root = ElementTree.fromstring(content_types, forbid_dtd=True)
    except Exception as exc:
        raise CorruptFile("[Content_Types].xml is not well-formed XML") from exc
    seen: list[str] = []
    for element in root:
        content_type = element.get("ContentType", "")
        if element.tag.endswith("}Override") and content_type in OFFICE_MAIN_CONTENT_TYPES:
            return OFFICE_MAIN_CONTENT_TYPES[content_type]
        if content_type.endswith(".main+xml"):
            seen.append(content_type)
    if seen:
        raise UnsupportedFormat(seen[0], SUPPORTED_FORMATS, "macro-enabled or template Office files")
    return None


def extension_matches(filename: str, kind: FileKind) -> bool | None:
    """Whether the name's extension fits the content; ``None`` when the name has no extension."""
    suffix = PurePath(filename).suffix.lower()
    if not suffix:
        return None
    return suffix in EXTENSIONS[kind]


_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def cleaned_filename(filename: str, kind: FileKind) -> str:
    """`<stem>_cleaned<ext>`: a safe download name whose extension matches the content."""
    base = PurePath(filename.replace("\\", "/")).name
    base = _UNSAFE_NAME_CHARS.sub("_", base).strip(" .") or "file"
    matches = extension_matches(base, kind)
    if matches is False:
        base = PurePath(base).stem or "file"
    if matches is not True:
        base = f"{base}{EXTENSIONS[kind][0]}"
    stem, ext = PurePath(base).stem, PurePath(base).suffix
    return f"{stem[:180]}_cleaned{ext}"
