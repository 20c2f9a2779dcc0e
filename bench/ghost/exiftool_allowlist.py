"""The exiftool allow-list: tags a cleaned file may still show, and a residue counter.

``exiftool -j -a -G1`` reports everything it can read, including facts about the file itself that
are not metadata in the privacy sense. A tag is *structural*, and allowed after cleaning, when it
describes how to decode or display the content and cannot identify a person, a device, a place or
a time:

- ``System:*`` (file system name, size, permissions, dates: not stored in the file) and
  ``ExifTool:ExifToolVersion``. ``ExifTool:Warning`` is *not* allowed: a cleaned file should parse
  cleanly.
- File type, MIME type, dimensions, sampling and encoding process (``File``, ``PNG``, ``GIF``,
  ``RIFF``, ``JFIF``, ``Adobe``, TIFF layout tags in ``IFD0``/``IFD1``…), PNG ``pHYs`` density, and
  ``Orientation``, which ghost keeps on purpose so photos do not appear rotated.
- Codec parameters of audio streams (``MPEG``, ``FLAC``, ``Vorbis``, ``QuickTime``/``Track1``
  headers), including the Vorbis ``Vendor`` string, which the Ogg Vorbis format requires.
- The first zip entry header of Office files (``ZIP``), whose modification date must be the fixed
  ``1980:01:01 00:00:00``; MP4 header dates are allowed only when zeroed.
- PDF version, page count, encryption settings and a PDF/A conformance claim (``XMP-pdfaid``),
  which ghost re-writes alone so archival validators still recognise the file.
- Derived ``Composite`` values for size, megapixels, duration and bitrate (never ``GPSPosition``).

Everything else counts as residual metadata.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ANY = frozenset({"*"})
TIFF_LAYOUT = frozenset(
    {
        "SubfileType",
        "ImageWidth",
        "ImageHeight",
        "BitsPerSample",
        "Compression",
        "PhotometricInterpretation",
        "FillOrder",
        "StripOffsets",
        "Orientation",
        "SamplesPerPixel",
        "RowsPerStrip",
        "StripByteCounts",
        "XResolution",
        "YResolution",
        "PlanarConfiguration",
        "ResolutionUnit",
        "Predictor",
        "ColorMap",
        "TileWidth",
        "TileLength",
        "TileOffsets",
        "TileByteCounts",
        "ExtraSamples",
        "SampleFormat",
        "YCbCrSubSampling",
        "YCbCrPositioning",
        "ReferenceBlackWhite",
    }
)

STRUCTURAL_TAGS: Mapping[str, frozenset[str]] = {
    "System": ANY,
    "ExifTool": frozenset({"ExifToolVersion"}),
    "File": frozenset(
        {
            "FileType",
            "FileTypeExtension",
            "MIMEType",
            "ImageWidth",
            "ImageHeight",
            "EncodingProcess",
            "BitsPerSample",
            "ColorComponents",
            "YCbCrSubSampling",
            "ExifByteOrder",
        }
    ),
    "Composite": frozenset({"ImageSize", "Megapixels", "Duration", "AvgBitrate"}),
    "JFIF": frozenset({"JFIFVersion", "ResolutionUnit", "XResolution", "YResolution"}),
    "Adobe": frozenset({"DCTEncodeVersion", "APP14Flags0", "APP14Flags1", "ColorTransform"}),
    "IFD#": TIFF_LAYOUT,
    "PNG": frozenset(
        {
            "ImageWidth",
            "ImageHeight",
            "BitDepth",
            "ColorType",
            "Compression",
            "Filter",
            "Interlace",
            "Gamma",
            "SRGBRendering",
            "WhitePointX",
            "WhitePointY",
            "RedX",
            "RedY",
            "GreenX",
            "GreenY",
            "BlueX",
            "BlueY",
            "BackgroundColor",
            "Palette",
            "Transparency",
            "SignificantBits",
            "AnimationFrames",
            "AnimationPlays",
        }
    ),
    "PNG-pHYs": frozenset({"PixelsPerUnitX", "PixelsPerUnitY", "PixelUnits"}),
    "GIF": frozenset(
        {
            "GIFVersion",
            "ImageWidth",
            "ImageHeight",
            "HasColorMap",
            "ColorResolutionDepth",
            "BitsPerPixel",
            "BackgroundColor",
            "PixelAspectRatio",
            "AnimationIterations",
            "TransparentColor",
            "FrameCount",
            "Duration",
        }
    ),
    "RIFF": frozenset(
        {
            "WebP_Flags",
            "ImageWidth",
            "ImageHeight",
            "VP8Version",
            "HorizontalScale",
            "VerticalScale",
            "AlphaPreprocessing",
            "AlphaFiltering",
            "AlphaCompression",
            "BackgroundColor",
            "AnimationLoopCount",
            "Encoding",
            "NumChannels",
            "SampleRate",
            "AvgBytesPerSec",
            "BitsPerSample",
        }
    ),
    "ZIP": frozenset(
        {
            "ZipRequiredVersion",
            "ZipBitFlag",
            "ZipCompression",
            "ZipModifyDate",
            "ZipCRC",
            "ZipCompressedSize",
            "ZipUncompressedSize",
            "ZipFileName",
        }
    ),
    "PDF": frozenset({"PDFVersion", "Linearized", "PageCount", "Encryption", "UserAccess"}),
    "XMP-pdfaid": frozenset({"Part", "Conformance"}),
    "MPEG": frozenset(
        {
            "MPEGAudioVersion",
            "AudioLayer",
            "AudioBitrate",
            "SampleRate",
            "ChannelMode",
            "MSStereo",
            "IntensityStereo",
            "ModeExtension",
            "CopyrightFlag",
            "OriginalMedia",
            "Emphasis",
            "VBRFrames",
            "VBRBytes",
            "VBRScale",
        }
    ),
    "LAME": frozenset(
        {"Encoder", "LameVBRQuality", "LameQuality", "LameMethod", "LameLowPassFilter", "LameBitrate", "LameStereoMode"}
    ),
    "FLAC": frozenset(
        {
            "BlockSizeMin",
            "BlockSizeMax",
            "FrameSizeMin",
            "FrameSizeMax",
            "SampleRate",
            "Channels",
            "BitsPerSample",
            "TotalSamples",
            "MD5Signature",
        }
    ),
    "Vorbis": frozenset(
        {"VorbisVersion", "AudioChannels", "SampleRate", "NominalBitrate", "MaximumBitrate", "MinimumBitrate", "Vendor"}
    ),
    "Opus": frozenset({"OpusVersion", "AudioChannels", "SampleRate", "OutputGain", "Vendor"}),
    "QuickTime": frozenset(
        {
            "MajorBrand",
            "MinorVersion",
            "CompatibleBrands",
            "MediaDataSize",
            "MediaDataOffset",
            "MovieHeaderVersion",
            "CreateDate",
            "ModifyDate",
            "TimeScale",
            "Duration",
            "PreferredRate",
            "PreferredVolume",
            "MatrixStructure",
            "PreviewTime",
            "PreviewDuration",
            "PosterTime",
            "SelectionTime",
            "SelectionDuration",
            "CurrentTime",
            "NextTrackID",
        }
    ),
    "Track#": frozenset(
        {
            "TrackHeaderVersion",
            "TrackCreateDate",
            "TrackModifyDate",
            "TrackID",
            "TrackDuration",
            "TrackLayer",
            "TrackVolume",
            "MatrixStructure",
            "MediaHeaderVersion",
            "MediaCreateDate",
            "MediaModifyDate",
            "MediaTimeScale",
            "MediaDuration",
            "MediaLanguageCode",
            "HandlerType",
            "HandlerDescription",
            "Balance",
            "AudioFormat",
            "AudioChannels",
            "AudioBitsPerSample",
            "AudioSampleRate",
        }
    ),
}

# Timestamps that are part of a structure are allowed only with these neutral values.
NEUTRAL_DATES = frozenset({"0000:00:00 00:00:00", "1980:01:01 00:00:00", "1904:01:01 00:00:00"})
DATE_TAG = re.compile(r"(Create|Modify)Date$")
NUMBERED_GROUP = re.compile(r"\d+$")


def is_structural(key: str, value: Any) -> bool:
    """Whether an exiftool ``Group:Tag`` entry is on the allow-list."""
    group, _, tag = key.partition(":")
    allowed = STRUCTURAL_TAGS.get(group) or STRUCTURAL_TAGS.get(NUMBERED_GROUP.sub("#", group), frozenset())
    if allowed is not ANY and tag not in allowed:
        return False
    if group != "System" and DATE_TAG.search(tag):
        return str(value) in NEUTRAL_DATES
    return True


def residual_tags(record: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of one ``exiftool -j -a -G1`` record that are not on the allow-list."""
    return {key: value for key, value in record.items() if key != "SourceFile" and not is_structural(key, value)}


def exiftool_available() -> bool:
    return shutil.which("exiftool") is not None


def run_exiftool(paths: Sequence[Path]) -> dict[Path, dict[str, Any]]:
    """One batch ``exiftool -j -a -G1`` run; records keyed by the path they describe."""
    if not paths:
        return {}
    completed = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", "-charset", "filename=utf8", *map(str, paths)],
        capture_output=True,
        check=False,
    )
    if not completed.stdout.strip():
        raise RuntimeError(f"exiftool failed: {completed.stderr.decode(errors='replace')}")
    records: list[dict[str, Any]] = json.loads(completed.stdout)
    return {Path(record["SourceFile"]): record for record in records}
