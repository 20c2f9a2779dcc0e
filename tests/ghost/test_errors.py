"""Hostile and broken inputs: unsupported types, corrupt files and decompression bombs."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pikepdf
import pytest

from services.ghost.core import (
    SUPPORTED_FORMATS,
    CorruptFile,
    EncryptedFile,
    GhostError,
    InputTooLarge,
    Limits,
    UnsupportedFormat,
    extract_metadata,
    shred_file,
)
from tests.ghost.conftest import Corpus

FFMPEG_TEST_VIDEO = ("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=0.2:size=32x32")
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def both_raise(path: Path, error: type[GhostError], limits: Limits | None = None) -> GhostError:
    """Assert that extraction and shredding both refuse ``path``; shredding must leave no output."""
    options = {"limits": limits} if limits else {}
    with pytest.raises(error) as extracted:
        extract_metadata(path, filename=path.name, **options)
    dst = path.with_name(f"out-{path.name}")
    with pytest.raises(error):
        shred_file(path, dst, **options)
    assert not dst.exists()
    return extracted.value


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def ooxml(entries: dict[str, bytes], main: str = DOCX_MAIN) -> bytes:
    content_types = (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Override PartName="/word/document.xml" ContentType="{main}"/></Types>'
    ).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


ELF_HEADER = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 2, 0x3E, 1) + bytes(40)


@pytest.mark.parametrize(
    "content",
    [os.urandom(4096), ELF_HEADER + os.urandom(512), b"just some text\n" * 20, b"", b"PK\x05\x06" + bytes(18)],
    ids=["random", "elf", "text", "empty", "empty-zip"],
)
def test_unsupported_content(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "upload.jpg"
    path.write_bytes(content)
    error = both_raise(path, UnsupportedFormat)
    assert isinstance(error, UnsupportedFormat)
    assert error.supported == list(SUPPORTED_FORMATS)
    assert "jpeg" in str(error)


def test_macro_enabled_office_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "macro.docx"
    path.write_bytes(
        ooxml({"word/document.xml": b"<w:document/>"}, "application/vnd.ms-word.document.macroEnabled.main+xml")
    )
    both_raise(path, UnsupportedFormat)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
@pytest.mark.parametrize("kind", ["jpeg", "png", "gif", "webp", "tiff", "wav", "docx", "xlsx", "pptx", "m4a", "ogg"])
def test_truncated_files_are_corrupt(corpus: Corpus, kind: str, tmp_path: Path) -> None:
    data = corpus[kind].read_bytes()
    path = tmp_path / corpus[kind].name
    path.write_bytes(data[: len(data) // 2])
    both_raise(path, CorruptFile)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 8),
        ("broken.flac", b"fLaC\x80\x00\x00\x22" + bytes(10)),
        (
            "broken.png",
            b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))[:-1] + b"X",
        ),
        ("broken.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 7 + b"\x12\x34"),
    ],
    ids=["pdf", "flac", "png-crc", "jpeg"],
)
def test_corrupt_files(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    both_raise(path, CorruptFile)


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    path = tmp_path / "locked.pdf"
    pdf.save(path, encryption=pikepdf.Encryption(user="secret", owner="owner"))
    error = both_raise(path, EncryptedFile)
    assert error.code == "encrypted_file"


def test_png_decompression_bomb_is_refused(tmp_path: Path) -> None:
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    path = tmp_path / "bomb.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")
    )
    error = both_raise(path, InputTooLarge)
    assert "100000x100000" in str(error)


def test_jpeg_and_gif_with_absurd_dimensions_are_refused(corpus: Corpus, tmp_path: Path) -> None:
    data = corpus["jpeg"].read_bytes()
    sof = data.index(b"\xff\xc0")
    huge = data[: sof + 5] + struct.pack(">HH", 65_000, 65_000) + data[sof + 9 :]
    jpeg = tmp_path / "huge.jpg"
    jpeg.write_bytes(huge)
    both_raise(jpeg, InputTooLarge)
    gif_data = corpus["gif"].read_bytes()
    gif = tmp_path / "huge.gif"
    gif.write_bytes(gif_data[:6] + struct.pack("<HH", 65_000, 65_000) + gif_data[10:])
    both_raise(gif, InputTooLarge)


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    path.write_bytes(ooxml({"word/document.xml": b"<w:document/>", "word/media/zeros.bin": bytes(64 * 1024 * 1024)}))
    assert path.stat().st_size < 1024 * 1024
    error = both_raise(path, InputTooLarge)
    assert "compression ratio" in str(error)


def test_zip_with_too_many_entries_is_refused(tmp_path: Path) -> None:
    entries = {f"word/part{index}.xml": b"" for index in range(Limits().max_zip_entries + 1)}
    path = tmp_path / "many.docx"
    path.write_bytes(ooxml({"word/document.xml": b"<w:document/>", **entries}))
    both_raise(path, InputTooLarge)


def test_declared_uncompressed_total_is_capped(corpus: Corpus, tmp_path: Path) -> None:
    path = tmp_path / "letter.docx"
    path.write_bytes(corpus["docx"].read_bytes())
    both_raise(path, InputTooLarge, Limits(max_zip_uncompressed_bytes=10_000))


def test_oversized_input_is_refused(corpus: Corpus, tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(corpus["jpeg"].read_bytes())
    error = both_raise(path, InputTooLarge, Limits(max_bytes=1_000))
    assert isinstance(error, InputTooLarge)
    assert error.limit == 1_000


def test_image_pixel_cap_is_configurable(corpus: Corpus, tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(corpus["png"].read_bytes())
    both_raise(path, InputTooLarge, Limits(max_pixels=1_000))


def test_shred_refuses_to_overwrite_its_source(corpus: Corpus) -> None:
    with pytest.raises(ValueError, match="distinct"):
        shred_file(corpus["jpeg"], corpus["jpeg"])


def test_error_codes_are_stable() -> None:
    assert UnsupportedFormat("x", SUPPORTED_FORMATS).code == "unsupported_format"
    assert CorruptFile("x").code == "corrupt_file"
    assert InputTooLarge("x", 2, 1).code == "input_too_large"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_video_mp4_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "clip.m4a"
    subprocess.run(
        [*FFMPEG_TEST_VIDEO, "-c:v", "mpeg4", "-f", "mp4", str(path)],
        check=True,
    )
    error = both_raise(path, UnsupportedFormat)
    assert isinstance(error, UnsupportedFormat)
    assert error.detected == "video/mp4"
