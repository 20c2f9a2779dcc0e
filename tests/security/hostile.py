"""Hostile files and request bodies, built in memory by the tests (nothing is downloaded)."""

from __future__ import annotations

import io
import struct
import tarfile
import uuid
import wave
import zipfile
import zlib
from typing import Any

from PIL import Image

from tests.upload.files import pdf_bytes


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A few hundred bytes of PNG whose header declares `width` x `height` pixels (10 gigapixels by
    default): a decoder that trusts the header allocates gigabytes."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    pixels = zlib.compress(row * 4, 9)  # a few rows; the rest is missing
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


def jpeg_bytes(size: tuple[int, int] = (48, 32), *, exif: bytes | None = None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, "teal")
    if exif is None:
        image.save(out, format="JPEG")
    else:
        image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (48, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "orange").save(out, format="PNG")
    return out.getvalue()


def junk_exif(target_bytes: int = 60_000) -> bytes:
    """An EXIF block of about `target_bytes` (the APP1 segment limit is 64 KiB) made of hundreds of
    unknown private tags, each holding a junk string."""
    exif = Image.Exif()
    value = "J" * 90
    for index in range(target_bytes // (12 + len(value) + 1)):
        exif[0xC000 + index] = value
    block: bytes = exif.tobytes()
    assert len(block) < 65_000, len(block)
    return block


def zip_bytes(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def jpeg_zip_polyglot(payload: bytes) -> bytes:
    """A valid JPEG with a zip archive appended: image viewers see the picture, unzip sees the
    archive (zip readers find the central directory from the end)."""
    return jpeg_bytes() + zip_bytes({"hidden/payload.txt": payload})


HTML_PREFIX = b"<html><body><script>fetch('/api/v1/auth/me').then(r => r.text()).then(alert)</script></body></html>\n"


def html_pdf_polyglot() -> bytes:
    """A PDF behind an HTML/JavaScript prefix (PDF readers look for `%PDF` within the first KiB)."""
    return HTML_PREFIX + pdf_bytes("polyglot")


def wav_bytes(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        frames = int(seconds * rate)
        writer.writeframes(b"".join(struct.pack("<h", (i * 37 % 2000) - 1000) for i in range(frames)))
    return out.getvalue()


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]], *, gz: bool) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gz else "w") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def tar_file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def tar_symlink(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, None


def marker() -> str:
    return f"forge-escape-{uuid.uuid4().hex[:12]}"


def multipart(
    parts: list[tuple[str, str | None, bytes]], boundary: str = "hostileboundary"
) -> tuple[dict[str, str], bytes]:
    """A multipart/form-data body built by hand (name, filename or None, content), so the server sees
    exactly these bytes: no client-side escaping or limits."""
    body = bytearray()
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        body += b"Content-Type: application/octet-stream\r\n\r\n" if filename is not None else b"\r\n"
        body += content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return {"content-type": f"multipart/form-data; boundary={boundary}"}, bytes(body)


def jpeg_bomb(width: int = 65_000, height: int = 65_000) -> bytes:
    """A small JPEG whose frame header (SOF0) is patched to declare `width` x `height` pixels."""
    data = bytearray(jpeg_bytes((16, 16)))
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def stream_zeros_zip(name: str, megabytes: int) -> bytes:
    """A zip bomb: `megabytes` MiB of zeros deflated to a few hundred KiB, written a MiB at a time."""
    out = io.BytesIO()
    block = b"\0" * (1 << 20)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w") as entry:
        for _ in range(megabytes):
            entry.write(block)
    return out.getvalue()


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = b"\0" * count
        self.left -= count
        return count


def stream_zeros_tar_gz(name: str, megabytes: int) -> bytes:
    """A .tar.gz bomb: one entry of `megabytes` MiB of zeros, streamed through gzip."""
    out = io.BytesIO()
    info = tarfile.TarInfo(name)
    info.size = megabytes << 20
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        archive.addfile(info, io.BufferedReader(_Zeros(info.size)))
    return out.getvalue()
