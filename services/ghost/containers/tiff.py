"""Opening TIFF files with Pillow under ghost's limits."""

from __future__ import annotations

import io

from PIL import Image, TiffImagePlugin

from services.ghost.errors import CorruptFile, InputTooLarge, UnsupportedFormat
from services.ghost.formats import SUPPORTED_FORMATS
from services.ghost.limits import Limits

SUB_IFDS = 330
DNG_VERSION = 50706
# Layout and pixel-interpretation tags; anything else in a page's directory is reported as removed.
TIFF_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 274, 277, 278, 279, 282, 283, 284, 296, 317, 320}
    | {322, 323, 324, 325, 338, 339, 340, 341, 347, 513, 514, 529, 530, 531, 532}
)


def open_tiff(data: bytes, limits: Limits) -> TiffImagePlugin.TiffImageFile:
    """Open a TIFF lazily, enforcing the pixel and page caps before any page is decoded."""
    try:
        image = Image.open(io.BytesIO(data), formats=["TIFF"])
        if not isinstance(image, TiffImagePlugin.TiffImageFile):
            raise CorruptFile("not a TIFF image")
        if SUB_IFDS in image.tag_v2 or DNG_VERSION in image.tag_v2:
            raise UnsupportedFormat("image/x-raw", SUPPORTED_FORMATS, "camera raw / TIFF with SubIFDs")
        limits.check_pixels(*image.size)
        limits.check_frames(getattr(image, "n_frames", 1))
    except Image.DecompressionBombError as exc:
        raise InputTooLarge("TIFF pixel count", None, (Image.MAX_IMAGE_PIXELS or 0) * 2) from exc
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, KeyError) as exc:
        # Pillow reports missing dimension tags as TypeError and broken directories as KeyError.
        raise CorruptFile(f"unreadable TIFF: {exc}") from exc
    return image
