"""Rendering a transcript as txt, SRT, WebVTT and JSON, and packaging everything as a zip."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import msgspec

from services.sonic.transcript import Segment, Transcript

__all__ = [
    "TRANSCRIPT_FORMATS",
    "FileEntry",
    "OutputFormat",
    "PackageManifest",
    "build_package_zip",
    "render",
    "render_json",
    "render_srt",
    "render_txt",
    "render_vtt",
    "write_package_zip",
]


class OutputFormat(StrEnum):
    TXT = "txt"
    SRT = "srt"
    VTT = "vtt"
    JSON = "json"
    ZIP = "zip"

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]

    @property
    def extension(self) -> str:
        """File name extension, with its dot."""
        return f".{self.value}"


_MEDIA_TYPES: dict[OutputFormat, str] = {
    OutputFormat.TXT: "text/plain; charset=utf-8",
    # SubRip has no registered media type; this is the one players and browsers recognise.
    OutputFormat.SRT: "application/x-subrip",
    OutputFormat.VTT: "text/vtt; charset=utf-8",
    OutputFormat.JSON: "application/json",
    OutputFormat.ZIP: "application/zip",
}

TRANSCRIPT_FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat.TXT,
    OutputFormat.SRT,
    OutputFormat.VTT,
    OutputFormat.JSON,
)
"""The formats that render to text; zip is the package holding all of them."""

PACKAGE_VERSION = 1
_COPY_CHUNK = 1 << 20
_WHITESPACE = re.compile(r"\s+")


def render_txt(transcript: Transcript) -> str:
    """One line per segment."""
    lines = [segment.text for segment in transcript.segments if segment.text]
    return "\n".join(lines) + "\n" if lines else ""


def render_srt(transcript: Transcript) -> str:
    """SubRip: cues numbered from 1, `HH:MM:SS,mmm` times, a blank line after each cue."""
    cues = [
        f"{number}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{text}\n"
        for number, (start, end, text) in enumerate(_cues(transcript), start=1)
    ]
    return "\n".join(cues)


def render_vtt(transcript: Transcript) -> str:
    """WebVTT: the `WEBVTT` header, then cues with `HH:MM:SS.mmm` times."""
    cues = [
        f"{number}\n{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{_vtt_escape(text)}\n"
        for number, (start, end, text) in enumerate(_cues(transcript), start=1)
    ]
    return "\n".join(["WEBVTT\n", *cues])


def render_json(transcript: Transcript) -> str:
    """The whole transcript: language, duration, text, and segments with words when present."""
    return msgspec.json.format(msgspec.json.encode(transcript), indent=2).decode() + "\n"


_RENDERERS: dict[OutputFormat, Callable[[Transcript], str]] = {
    OutputFormat.TXT: render_txt,
    OutputFormat.SRT: render_srt,
    OutputFormat.VTT: render_vtt,
    OutputFormat.JSON: render_json,
}


def render(transcript: Transcript, output_format: OutputFormat) -> bytes:
    """The UTF-8 bytes of one transcript format (not zip, which needs the original media)."""
    if output_format not in _RENDERERS:
        raise ValueError(f"{output_format} is not a text format; use build_package_zip")
    return _RENDERERS[output_format](transcript).encode()


class FileEntry(msgspec.Struct, frozen=True):
    name: str
    size: int
    sha256: str
    media_type: str


class PackageManifest(msgspec.Struct, frozen=True):
    version: int
    created_at: datetime
    job: dict[str, Any]
    original_name: str
    language: str
    duration: float
    files: tuple[FileEntry, ...]
    """Every file in the package except manifest.json itself."""


def build_package_zip(
    transcript: Transcript,
    original: Path,
    original_name: str,
    job_meta: Mapping[str, Any],
) -> bytes:
    """The package in memory; see write_package_zip, better for large originals."""
    buffer = io.BytesIO()
    write_package_zip(buffer, transcript, original, original_name, job_meta)
    return buffer.getvalue()


def write_package_zip(
    destination: Path | IO[bytes],
    transcript: Transcript,
    original: Path,
    original_name: str,
    job_meta: Mapping[str, Any],
) -> PackageManifest:
    """Write a zip with the original media, every transcript format and `manifest.json`.

    The original is streamed in, not loaded whole, and stored uncompressed since audio rarely
    compresses. `job_meta` must be JSON-encodable by msgspec; it lands in the manifest under
    "job". `original_name` is reduced to a safe base name, so a hostile name cannot escape the
    archive's `original/` folder.
    """
    safe_name = _safe_filename(original_name)
    entries: list[FileEntry] = []
    created_at = datetime.now(UTC).replace(microsecond=0)
    with zipfile.ZipFile(destination, "w") as archive:
        original_entry = _zip_info(f"original/{safe_name}", created_at, zipfile.ZIP_STORED)
        digest = hashlib.sha256()
        size = 0
        with original.open("rb") as source, archive.open(original_entry, "w", force_zip64=True) as target:
            while chunk := source.read(_COPY_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                target.write(chunk)
        entries.append(FileEntry(original_entry.filename, size, digest.hexdigest(), "application/octet-stream"))
        for output_format in TRANSCRIPT_FORMATS:
            data = render(transcript, output_format)
            name = f"transcript{output_format.extension}"
            archive.writestr(_zip_info(name, created_at, zipfile.ZIP_DEFLATED), data)
            entries.append(FileEntry(name, len(data), hashlib.sha256(data).hexdigest(), output_format.media_type))
        manifest = PackageManifest(
            version=PACKAGE_VERSION,
            created_at=created_at,
            job=dict(job_meta),
            original_name=original_name,
            language=transcript.language,
            duration=transcript.duration,
            files=tuple(entries),
        )
        manifest_bytes = msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n"
        archive.writestr(_zip_info("manifest.json", created_at, zipfile.ZIP_DEFLATED), manifest_bytes)
    return manifest


def _cues(transcript: Transcript) -> list[tuple[float, float, str]]:
    """(start, end, text) per non-empty segment, as subtitle cues need them."""
    cues = []
    for segment in transcript.segments:
        text = _WHITESPACE.sub(" ", segment.text).strip()
        if text:
            start, end = _cue_times(segment)
            cues.append((start, end, text))
    return cues


def _cue_times(segment: Segment) -> tuple[float, float]:
    # Parsers reject cues that end before they start; keep such cues visible for a millisecond.
    start = max(0.0, segment.start)
    return start, max(segment.end, start + 0.001)


def _timestamp(seconds: float, millisecond_separator: str) -> str:
    total_ms = round(seconds * 1000)
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{millisecond_separator}{millis:03d}"


def _vtt_escape(text: str) -> str:
    # Cue text is markup in WebVTT; escaping ">" also rules out a "-->" inside the text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe_filename(name: str) -> str:
    base = re.split(r"[\\/]", name)[-1]
    cleaned = "".join(
        char for char in unicodedata.normalize("NFC", base) if unicodedata.category(char)[0] != "C"
    ).strip(" .")
    return cleaned[:200] or "original"


def _zip_info(name: str, when: datetime, compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(when.year, when.month, when.day, when.hour, when.minute, when.second))
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    return info
