"""extract_metadata finds the metadata planted in every corpus format, as JSON-safe values."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.ghost import corpus as planted
from services.ghost.core import extract_metadata
from tests.ghost.conftest import Corpus

Metadata = dict[str, Any]


def _jpeg(meta: Metadata) -> None:
    groups = meta["metadata"]
    assert groups["EXIF"]["Make"] == planted.CAMERA_MAKE
    assert groups["EXIF"]["Model"] == planted.CAMERA_MODEL
    assert groups["EXIF"]["DateTimeOriginal"] == planted.TAKEN
    assert groups["EXIF"]["Orientation"] == planted.ORIENTATION
    assert groups["EXIF"]["MakerNote"].startswith("<binary ")
    assert groups["GPS"]["latitude"] == pytest.approx(planted.LATITUDE, abs=1e-6)
    assert groups["GPS"]["longitude"] == pytest.approx(planted.LONGITUDE, abs=1e-6)
    assert groups["GPS"]["altitude"] == pytest.approx(planted.ALTITUDE)
    assert groups["XMP"]["dc:creator"] == [planted.AUTHOR]
    assert groups["IPTC"]["By-line"] == planted.AUTHOR
    assert groups["IPTC"]["Keywords"] == ["ghost", "secret"]
    assert groups["ICC"]["Description"] == "sRGB built-in"
    assert groups["Comment"] == [planted.COMMENT]
    assert "Trailer" in groups
    assert (meta["properties"]["width"], meta["properties"]["height"]) == planted.IMAGE_SIZE


def _png(meta: Metadata) -> None:
    groups = meta["metadata"]
    assert groups["PNG Text"]["Author"] == planted.AUTHOR
    assert groups["PNG Text"]["Comment"] == planted.COMMENT
    assert planted.CITY in groups["PNG Text"]["Description"]
    assert groups["PNG"]["ModifyTime"] == "2023-04-05T06:07:08"
    assert any(chunk.startswith("prVt") for chunk in groups["PNG"]["OtherChunks"])
    assert groups["XMP"]["photoshop:City"] == planted.CITY
    assert groups["EXIF"]["Make"] == planted.CAMERA_MAKE
    assert groups["GPS"]["latitude"] == pytest.approx(planted.LATITUDE, abs=1e-6)
    assert "Description" in groups["ICC"]


def _webp(meta: Metadata) -> None:
    groups = meta["metadata"]
    assert groups["EXIF"]["Model"] == planted.CAMERA_MODEL
    assert groups["GPS"]["longitude"] == pytest.approx(planted.LONGITUDE, abs=1e-6)
    assert groups["XMP"]["dc:creator"] == [planted.AUTHOR]
    assert "ICC" in groups


def _tiff(meta: Metadata) -> None:
    groups = meta["metadata"]
    assert groups["EXIF"]["Artist"] == planted.AUTHOR
    assert groups["EXIF"]["ImageDescription"] == planted.COMMENT
    assert groups["EXIF"]["BodySerialNumber"] == planted.SERIAL
    assert "StripOffsets" not in groups["EXIF"]
    assert groups["GPS"]["latitude"] == pytest.approx(planted.LATITUDE, abs=1e-6)
    assert groups["XMP"]["photoshop:City"] == planted.CITY
    assert "ICC" in groups
    assert meta["properties"]["pages"] == 2


def _gif(meta: Metadata) -> None:
    groups = meta["metadata"]
    assert groups["Comment"] == [planted.COMMENT]
    assert groups["XMP"]["dc:creator"] == [planted.AUTHOR]
    assert meta["properties"]["frames"] == 2
    assert meta["properties"]["loop_count"] == 0


def _pdf(meta: Metadata) -> None:
    groups = meta["metadata"]
    # The incremental update's Info dictionary is the one in force.
    assert groups["PDF"]["/Author"] == planted.EDITOR
    assert groups["XMP"]["dc:creator"] == [planted.AUTHOR]
    structure = groups["PDF structure"]
    assert structure["IncrementalRevisions"] == 1
    assert structure["PieceInfo"] == ["/GhostApp"]
    assert structure["AnnotationAuthors"] == [planted.COMMENTER]
    assert structure["ObjectMetadataStreams"] == 1
    assert groups["Images"][0]["EXIF"]["Make"] == planted.CAMERA_MAKE
    assert meta["properties"]["pages"] == 1


def _office_common(meta: Metadata) -> dict[str, Any]:
    groups = meta["metadata"]
    assert groups["Office core"]["dc:creator"] == planted.AUTHOR
    assert groups["Office core"]["cp:lastModifiedBy"] == planted.EDITOR
    assert groups["Office app"]["Company"] == planted.COMPANY
    assert groups["Office custom"]["ClientName"] == planted.CUSTOM_VALUE
    structure: dict[str, Any] = groups[f"{meta['file']['kind'].upper()} structure"]
    assert structure["Thumbnails"]
    return structure


def _docx(meta: Metadata) -> None:
    structure = _office_common(meta)
    assert planted.COMMENTER in structure["author names"]["values"]
    assert structure["Word revision session IDs (rsid)"]["count"] >= 3
    assert meta["metadata"]["Media"][0]["EXIF"]["Make"] == planted.CAMERA_MAKE


def _xlsx(meta: Metadata) -> None:
    structure = _office_common(meta)
    assert structure["file system path"]["count"] == 1
    assert planted.AUTHOR in structure["author names"]["values"]


def _pptx(meta: Metadata) -> None:
    structure = _office_common(meta)
    assert planted.COMMENTER in structure["author names"]["values"]
    assert structure["comment/revision dates"]["count"] == 1


def _cover(meta: Metadata) -> None:
    pictures = meta["metadata"]["Pictures"]
    assert len(pictures) == 1
    assert pictures[0]["mime"] == "image/jpeg"
    assert isinstance(pictures[0]["size"], int)
    assert pictures[0]["size"] > 100


def _mp3(meta: Metadata) -> None:
    groups = meta["metadata"]
    assert groups["ID3"]["TPE1"] == planted.AUTHOR
    assert groups["ID3"]["TXXX:Serial"] == planted.SERIAL
    assert groups["ID3v1"]["Artist"] == planted.AUTHOR
    assert groups["APE"]["Artist"] == planted.EDITOR
    assert meta["metadata"]["Pictures"][0]["type"] == "cover (front)"
    _cover(meta)


def _flac(meta: Metadata) -> None:
    assert meta["metadata"]["Vorbis"]["ARTIST"] == planted.AUTHOR
    assert meta["metadata"]["Vorbis"]["LOCATION"] == planted.CITY
    _cover(meta)


def _ogg(meta: Metadata) -> None:
    assert meta["metadata"]["Vorbis"]["ARTIST"] == planted.AUTHOR
    assert meta["properties"]["codec"] == "vorbis"
    _cover(meta)


def _m4a(meta: Metadata) -> None:
    groups = meta["metadata"]
    assert groups["MP4"]["\xa9ART"] == planted.AUTHOR
    assert groups["MP4"]["----:com.apple.iTunes:Serial"] == [planted.SERIAL]
    assert groups["QuickTime"]["CreateDate"].startswith("2023-04-05T06:07:08")
    assert groups["QuickTime"]["loci"]["latitude"] == pytest.approx(48.8582, abs=1e-4)
    _cover(meta)


def _wav(meta: Metadata) -> None:
    groups = meta["metadata"]
    assert groups["RIFF INFO"]["IART"] == planted.AUTHOR
    assert groups["BWF"]["Originator"] == planted.AUTHOR
    assert groups["ID3"]["TPE1"] == planted.EDITOR
    assert meta["properties"]["duration"] == pytest.approx(planted.AUDIO_SECONDS)


EXPECTATIONS: dict[str, Callable[[Metadata], None]] = {
    "jpeg": _jpeg,
    "png": _png,
    "webp": _webp,
    "tiff": _tiff,
    "gif": _gif,
    "pdf": _pdf,
    "docx": _docx,
    "xlsx": _xlsx,
    "pptx": _pptx,
    "mp3": _mp3,
    "flac": _flac,
    "ogg": _ogg,
    "m4a": _m4a,
    "wav": _wav,
}


def _no_bytes(value: Any) -> None:
    assert not isinstance(value, bytes | bytearray)
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            _no_bytes(item)
    elif isinstance(value, list):
        for item in value:
            _no_bytes(item)


@pytest.mark.parametrize("kind", list(EXPECTATIONS))
def test_extract_finds_planted_metadata(corpus: Corpus, kind: str) -> None:
    path = corpus[kind]
    meta = extract_metadata(path, filename=path.name)
    EXPECTATIONS[kind](meta)
    assert meta["file"]["kind"] == kind
    assert meta["file"]["size"] == path.stat().st_size
    assert meta["file"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert meta["file"]["extension_matches"] is True
    assert meta["file"]["mime"]
    _no_bytes(meta)
    assert json.loads(json.dumps(meta, allow_nan=False)) == meta


def test_extract_ignores_the_file_name(corpus: Corpus, tmp_path: Path) -> None:
    disguised = tmp_path / "holiday.png"
    disguised.write_bytes(corpus["jpeg"].read_bytes())
    meta = extract_metadata(disguised, filename="../../etc/holiday.png")
    assert meta["file"]["kind"] == "jpeg"
    assert meta["file"]["mime"] == "image/jpeg"
    assert meta["file"]["extension_matches"] is False
    assert meta["file"]["name"] == "holiday.png"
