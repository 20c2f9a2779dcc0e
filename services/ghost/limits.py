"""Resource limits applied before any expensive parsing or decoding."""

from __future__ import annotations

import msgspec

from services.ghost.errors import InputTooLarge

MIB = 1024 * 1024


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """Caps that turn hostile inputs into :class:`InputTooLarge` instead of exhausting the host.

    ``max_pixels`` applies to the declared dimensions of every image and frame, including images
    embedded in Office documents. The default admits 200-megapixel phone photos; it is checked from
    headers before anything is decoded. TIFF is the only format ghost decodes, and Pillow's own
    process-wide bomb guard (twice ``PIL.Image.MAX_IMAGE_PIXELS``) also applies there.

    The zip caps guard Office documents: entry count, the declared total uncompressed size, and the
    compression ratio (checked per entry above ``zip_ratio_floor_bytes`` and for the archive as a
    whole), which is how deflate bombs give themselves away. ``max_frames`` caps GIF frames and TIFF
    pages; ``max_text_bytes`` caps what compressed text payloads (PNG zTXt/iTXt/iCCP) may inflate to
    during extraction.
    """

    max_bytes: int = 256 * MIB
    max_pixels: int = 200_000_000
    max_frames: int = 2_000
    max_zip_entries: int = 10_000
    max_zip_uncompressed_bytes: int = 1024 * MIB
    max_zip_ratio: float = 200.0
    zip_ratio_floor_bytes: int = 4 * MIB
    max_text_bytes: int = 4 * MIB

    def check_bytes(self, size: int, what: str = "file size in bytes") -> None:
        if size > self.max_bytes:
            raise InputTooLarge(what, size, self.max_bytes)

    def check_pixels(self, width: int, height: int, what: str = "image") -> None:
        pixels = width * height
        if pixels > self.max_pixels:
            raise InputTooLarge(f"{what} pixel count ({width}x{height})", pixels, self.max_pixels)

    def check_frames(self, frames: int) -> None:
        if frames > self.max_frames:
            raise InputTooLarge("frame count", frames, self.max_frames)


DEFAULT_LIMITS = Limits()
