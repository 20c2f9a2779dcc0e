"""Audio metadata via mutagen: ID3v1/v2, APE, Vorbis comments, MP4 atoms, RIFF INFO/bext.

Embedded pictures are listed by type, MIME type and size; their bytes are never returned.
"""

from __future__ import annotations

import base64
import binascii
import struct
from pathlib import Path
from typing import Any

import mutagen
import mutagen.wave
from mutagen.flac import FLAC, Picture
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm

from services.ghost.containers.mp4 import TIMESTAMPED_HEADERS, header_times, mp4_time, walk
from services.ghost.containers.riff import RiffChunk, parse_riff
from services.ghost.errors import CorruptFile
from services.ghost.extract.images import guarded
from services.ghost.formats import FileKind
from services.ghost.jsonsafe import binary_summary, bytes_value, clean_text, json_safe
from services.ghost.limits import Limits
from services.ghost.payloads.xmp import parse_xmp
from services.ghost.shred.audio import has_id3v1, id3_frame_name, open_ogg, read_ape

MP4_COVER_FORMATS = {MP4Cover.FORMAT_JPEG: "image/jpeg", MP4Cover.FORMAT_PNG: "image/png"}
ID3V1_GENRE_UNSET = 255


PICTURE_TYPES = (
    "other",
    "file icon",
    "other file icon",
    "cover (front)",
    "cover (back)",
    "leaflet page",
    "media",
    "lead artist",
    "artist",
    "conductor",
    "band",
    "composer",
    "lyricist",
    "recording location",
    "during recording",
    "during performance",
    "screen capture",
    "bright coloured fish",
    "illustration",
    "band logotype",
    "publisher logotype",
)


def picture_type_name(value: int) -> str:
    return PICTURE_TYPES[value] if 0 <= value < len(PICTURE_TYPES) else f"type {value}"


def picture_summary(kind: int, mime: str, size: int, description: str = "") -> dict[str, Any]:
    summary: dict[str, Any] = {"type": picture_type_name(kind), "mime": mime, "size": size}
    if description:
        summary["description"] = clean_text(description)
    return summary


def _id3_value(frame: Any) -> Any:
    if hasattr(frame, "text"):
        texts = [json_safe(str(item)) for item in frame.text]
        return texts[0] if len(texts) == 1 else texts
    if hasattr(frame, "url"):
        return clean_text(str(frame.url))
    if hasattr(frame, "data"):
        return binary_summary(len(frame.data))
    return clean_text(repr(frame))


def id3_groups(tags: Any, groups: dict[str, Any], pictures: list[dict[str, Any]]) -> None:
    if tags is None:
        return
    values: dict[str, Any] = {}
    for key, frame in tags.items():
        if frame.FrameID == "APIC":
            pictures.append(picture_summary(frame.type, frame.mime, len(frame.data), frame.desc))
        else:
            values[clean_text(id3_frame_name(key, frame))] = _id3_value(frame)
    if values:
        groups["ID3"] = values


def _id3v1(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        handle.seek(-128, 2)
        tag = handle.read(128)
    fields = {"Title": tag[3:33], "Artist": tag[33:63], "Album": tag[63:93], "Year": tag[93:97], "Comment": tag[97:127]}
    values: dict[str, Any] = {
        name: clean_text(raw.rstrip(b"\x00 ").decode("latin-1")) for name, raw in fields.items() if raw.strip(b"\x00 ")
    }
    if tag[125] == 0 and tag[126]:
        values["Track"] = tag[126]
    if tag[127] != ID3V1_GENRE_UNSET:
        values["Genre"] = tag[127]
    return values


def _vorbis_groups(tags: Any, groups: dict[str, Any], pictures: list[dict[str, Any]]) -> None:
    if tags is None:
        return
    values: dict[str, Any] = {}
    for key, value in tags.items():
        if key.lower() == "metadata_block_picture":
            for encoded in value:
                parsed = guarded(_vorbis_picture, encoded.encode("ascii", "replace"))
                pictures.append(parsed)
            continue
        values[clean_text(key.upper())] = json_safe(value[0] if len(value) == 1 else value)
    if values:
        groups["Vorbis"] = values


def _open_picture(data: bytes) -> Any:
    picture: Any = Picture
    return picture(data)


def _vorbis_picture(encoded: bytes) -> dict[str, Any]:
    try:
        picture = _open_picture(base64.b64decode(encoded))
    except (binascii.Error, mutagen.MutagenError, struct.error) as exc:
        raise ValueError("bad METADATA_BLOCK_PICTURE") from exc
    return picture_summary(picture.type, picture.mime, len(picture.data), picture.desc)


def _stream_info(info: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name in ("length", "bitrate", "sample_rate", "channels", "bits_per_sample"):
        value = getattr(info, name, None)
        if isinstance(value, int | float):
            properties["duration" if name == "length" else name] = round(value, 3) if name == "length" else value
    return properties


def _open(path: Path, kind: type[Any]) -> Any:
    try:
        return kind(path)
    except (mutagen.MutagenError, OSError, ValueError, EOFError) as exc:
        raise CorruptFile(f"unreadable audio file: {exc}") from exc


def _mp3(path: Path, groups: dict[str, Any], pictures: list[dict[str, Any]]) -> dict[str, Any]:
    audio = _open(path, MP3)
    id3_groups(audio.tags, groups, pictures)
    if has_id3v1(path):
        groups["ID3v1"] = _id3v1(path)
    ape = read_ape(path)
    if ape is not None:
        groups["APE"] = {clean_text(key): json_safe(str(ape[key])) for key in ape}
    return _stream_info(audio.info)


def _flac(path: Path, groups: dict[str, Any], pictures: list[dict[str, Any]]) -> dict[str, Any]:
    audio = _open(path, FLAC)
    _vorbis_groups(audio.tags, groups, pictures)
    for picture in audio.pictures:
        pictures.append(picture_summary(picture.type, picture.mime, len(picture.data), picture.desc))
    if audio.tags is not None:
        groups.setdefault("Vorbis", {})["vendor"] = clean_text(audio.tags.vendor)
    other = [type(block).__name__ for block in audio.metadata_blocks if block.code in (2, 5)]
    if other:
        groups["FLAC"] = {"OtherBlocks": other}
    return _stream_info(audio.info)


def _ogg(path: Path, groups: dict[str, Any], pictures: list[dict[str, Any]]) -> dict[str, Any]:
    audio = open_ogg(path)
    _vorbis_groups(audio.tags, groups, pictures)
    properties = _stream_info(audio.info)
    properties["codec"] = type(audio).__name__.removeprefix("Ogg").lower()
    if audio.tags is not None:
        properties["vendor"] = clean_text(audio.tags.vendor)
    return properties


def _m4a(path: Path, groups: dict[str, Any], pictures: list[dict[str, Any]]) -> dict[str, Any]:
    audio = _open(path, MP4)
    values: dict[str, Any] = {}
    for key, value in (audio.tags or {}).items():
        if key == "covr":
            for cover in value:
                pictures.append(
                    {"type": "cover", "mime": MP4_COVER_FORMATS.get(cover.imageformat, "?"), "size": len(cover)}
                )
        elif isinstance(value, list) and value and isinstance(value[0], MP4FreeForm):
            values[clean_text(key)] = [bytes_value(bytes(item)) for item in value]
        else:
            values[clean_text(key)] = json_safe(value[0] if isinstance(value, list) and len(value) == 1 else value)
    if values:
        groups["MP4"] = values
    quicktime: dict[str, Any] = {}
    size = path.stat().st_size
    with path.open("rb") as handle:
        for box in walk(handle, size):
            if box.path[-1:] == (b"udta",) and box.type not in (b"meta", b"free"):
                handle.seek(box.payload_offset)
                raw = handle.read(min(box.payload_size, 4096))
                # QuickTime text atoms: 16-bit length, 16-bit language code, then the text.
                text = raw[4:] if len(raw) >= 4 and raw[0] << 8 | raw[1] == len(raw) - 4 else raw
                if box.type == b"loci":
                    quicktime["loci"] = guarded(_loci, raw)
                else:
                    quicktime[clean_text(box.name)] = bytes_value(text)
            elif box.type in TIMESTAMPED_HEADERS and box.type == b"mvhd":
                _offset, _width, created, modified = header_times(handle, box)
                for label, seconds in (("CreateDate", created), ("ModifyDate", modified)):
                    if (stamp := mp4_time(seconds)) is not None:
                        quicktime[label] = stamp
            elif box.type == b"uuid":
                quicktime.setdefault("UUIDBoxes", []).append(f"{box.size} bytes")
    if quicktime:
        groups["QuickTime"] = quicktime
    return _stream_info(audio.info)


def _loci(data: bytes) -> dict[str, Any]:
    """3GPP location box: version/flags, language, place name, role, then 16.16 fixed coordinates."""
    name_end = data.index(b"\x00", 6)
    longitude, latitude, altitude = struct.unpack_from(">iii", data, name_end + 2)
    return {
        "name": bytes_value(data[6:name_end]),
        "latitude": round(latitude / 65536, 6),
        "longitude": round(longitude / 65536, 6),
        "altitude": round(altitude / 65536, 3),
    }


def _info_values(chunk: RiffChunk) -> dict[str, Any]:
    values: dict[str, Any] = {}
    data = chunk.data
    position = 4
    while position + 8 <= len(data):
        sub_id = data[position : position + 4].decode("latin-1", "replace").strip()
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        values[sub_id] = bytes_value(data[position + 8 : position + 8 + size])
        position += 8 + size + (size % 2)
    return values


def _bext(data: bytes) -> dict[str, Any]:
    fields = {"Description": data[0:256], "Originator": data[256:288], "OriginatorReference": data[288:320]}
    values = {name: bytes_value(raw) for name, raw in fields.items() if raw.strip(b"\x00")}
    date, time = data[320:330].decode("latin-1", "replace"), data[330:338].decode("latin-1", "replace")
    if date.strip("\x00"):
        values["OriginationDateTime"] = clean_text(f"{date} {time}")
    return values


def _wav(path: Path, groups: dict[str, Any], pictures: list[dict[str, Any]]) -> dict[str, Any]:
    riff = parse_riff(path.read_bytes(), b"WAVE")
    fmt = riff.first(b"fmt ")
    data = riff.first(b"data")
    if fmt is None or data is None or len(fmt.data) < 16:
        raise CorruptFile("WAV has no usable fmt or data chunk")
    audio_format, channels, sample_rate, byte_rate, _align, bits = struct.unpack_from("<HHIIHH", fmt.data)
    properties: dict[str, Any] = {
        "format_tag": audio_format,
        "channels": channels,
        "sample_rate": sample_rate,
        "bits_per_sample": bits,
        "duration": round(len(data.data) / byte_rate, 3) if byte_rate else None,
    }
    other: list[str] = []
    for chunk in riff.chunks:
        if chunk.id == b"LIST" and chunk.data[:4] == b"INFO":
            groups["RIFF INFO"] = _info_values(chunk)
        elif chunk.id == b"bext":
            groups["BWF"] = _bext(chunk.data)
        elif chunk.id == b"_PMX":
            groups["XMP"] = guarded(parse_xmp, chunk.data)
        elif chunk.id == b"iXML":
            groups["iXML"] = bytes_value(chunk.data)
        elif chunk.id not in (b"fmt ", b"data", b"fact", b"id3 ", b"ID3 "):
            other.append(f"{chunk.name} ({len(chunk.data)} bytes)")
    if other:
        groups["RIFF"] = {"OtherChunks": other}
    if any(chunk.id in (b"id3 ", b"ID3 ") for chunk in riff.chunks):
        wave = _open(path, mutagen.wave.WAVE)
        id3_groups(wave.tags, groups, pictures)
    return properties


READERS = {FileKind.MP3: _mp3, FileKind.FLAC: _flac, FileKind.OGG: _ogg, FileKind.M4A: _m4a, FileKind.WAV: _wav}


def extract_audio(path: Path, kind: FileKind, limits: Limits) -> tuple[dict[str, Any], dict[str, Any]]:
    groups: dict[str, Any] = {}
    pictures: list[dict[str, Any]] = []
    properties = READERS[kind](path, groups, pictures)
    if pictures:
        groups["Pictures"] = pictures
    return properties, groups
