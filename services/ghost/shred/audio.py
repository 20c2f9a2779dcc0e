"""MP3, FLAC and Ogg cleaning with mutagen, in place on the output copy.

MP3: ID3v2, ID3v1 and APEv2 tags are deleted (with them every APIC picture); the MPEG frames,
including the Xing/LAME info frame that carries duration and gapless data, are untouched.
FLAC: only STREAMINFO and SEEKTABLE metadata blocks remain; Vorbis comments, PICTURE, APPLICATION,
CUESHEET and padding blocks and any ID3 wrapper are dropped.
Ogg (Vorbis/Opus/Speex/FLAC): the comment header is mandatory, so it is emptied to just the encoder
vendor string; METADATA_BLOCK_PICTURE pictures live in it and go with the comments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mutagen
import mutagen.apev2
import mutagen.id3
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis

from services.ghost.errors import CorruptFile
from services.ghost.shred.report import Findings

FLAC_STREAMINFO, FLAC_PADDING, FLAC_SEEKTABLE, FLAC_VORBIS_COMMENT = 0, 1, 3, 4
FLAC_KEPT_BLOCKS = frozenset({FLAC_STREAMINFO, FLAC_SEEKTABLE})
FLAC_BLOCK_NAMES = {1: "padding", 2: "application block", 4: "Vorbis comments", 5: "cue sheet", 6: "picture"}
OGG_TYPES: list[type[Any]] = [OggVorbis, OggOpus, OggSpeex, OggFLAC]


def _open(path: Path, kind: type[Any]) -> Any:
    try:
        return kind(path)
    except (mutagen.MutagenError, OSError, ValueError, EOFError) as exc:
        raise CorruptFile(f"unreadable audio file: {exc}") from exc


def id3_frame_name(key: str, frame: Any) -> str:
    """A frame's name for reports; PRIV/UFID hash keys embed binary data, so those use the owner."""
    if hasattr(frame, "owner"):
        return f"{frame.FrameID}:{frame.owner}"
    return key.rstrip(":")


def id3_labels(tags: Any) -> list[str]:
    return [f"ID3:{id3_frame_name(key, frame)}" for key, frame in tags.items()] if tags is not None else []


def vorbis_labels(tags: Any) -> list[str]:
    # Vorbis comment containers are lists of (key, value) pairs, so keys() is needed here.
    names: list[str] = tags.keys() if tags is not None else []
    return [f"Vorbis:{name.upper()}" for name in names]


def has_id3v1(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        if handle.tell() < 128:
            return False
        handle.seek(-128, 2)
        return handle.read(3) == b"TAG"


def read_ape(path: Path) -> Any:
    opener: Any = mutagen.apev2.APEv2
    try:
        return opener(path)
    except mutagen.apev2.APENoHeaderError:
        return None
    except (mutagen.MutagenError, OSError, ValueError) as exc:
        raise CorruptFile(f"broken APE tag: {exc}") from exc


def shred_mp3(path: Path) -> Findings:
    findings = Findings()
    audio = _open(path, MP3)
    findings.remove(*id3_labels(audio.tags))
    if has_id3v1(path):
        findings.remove("ID3v1")
    ape = read_ape(path)
    if ape is not None:
        findings.remove(*(f"APE:{key}" for key in ape))
        mutagen.apev2.delete(path)
    try:
        mutagen.id3.delete(path, delete_v1=True, delete_v2=True)
    except (mutagen.MutagenError, OSError) as exc:
        raise CorruptFile(f"ID3 tags could not be removed: {exc}") from exc
    _open(path, MP3)
    return findings


def shred_flac(path: Path) -> Findings:
    findings = Findings()
    audio = _open(path, FLAC)
    with path.open("rb") as handle:
        if handle.read(3) == b"ID3":
            findings.remove("ID3")
    findings.remove(*vorbis_labels(audio.tags))
    for block in audio.metadata_blocks:
        # Vorbis comments are itemised above and padding holds nothing, so neither is listed.
        if block.code not in FLAC_KEPT_BLOCKS | {FLAC_PADDING, FLAC_VORBIS_COMMENT}:
            findings.remove(f"FLAC:{FLAC_BLOCK_NAMES.get(block.code, f'block type {block.code}')}")
    audio.metadata_blocks = [block for block in audio.metadata_blocks if block.code in FLAC_KEPT_BLOCKS]
    audio.tags = None
    audio.cuesheet = None
    try:
        audio.save(deleteid3=True, padding=lambda _info: 0)
    except (mutagen.MutagenError, OSError) as exc:
        raise CorruptFile(f"FLAC metadata could not be rewritten: {exc}") from exc
    _open(path, FLAC)
    return findings


def open_ogg(path: Path) -> Any:
    try:
        audio = mutagen.File(path, options=OGG_TYPES)
    except (mutagen.MutagenError, OSError, ValueError, EOFError) as exc:
        raise CorruptFile(f"unreadable Ogg file: {exc}") from exc
    if audio is None:
        raise CorruptFile("Ogg stream is not Vorbis, Opus, Speex or FLAC")
    return audio


def shred_ogg(path: Path) -> Findings:
    findings = Findings()
    audio = open_ogg(path)
    labels = vorbis_labels(audio.tags)
    if labels:
        findings.remove(*labels)
        audio.tags.clear()
        try:
            audio.save()
        except (mutagen.MutagenError, OSError) as exc:
            raise CorruptFile(f"Ogg comments could not be rewritten: {exc}") from exc
    findings.keep("Vorbis:vendor (encoder identification, required)")
    open_ogg(path)
    return findings
