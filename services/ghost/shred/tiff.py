"""TIFF cleaning by re-saving the decoded pages through Pillow with a fresh tag directory.

TIFF keeps pixels behind offsets stored in the very tag directory that holds the metadata, so the
pages are decoded and written again, losslessly. Only the layout tags Pillow writes itself survive,
plus resolution. Pillow applies the Orientation tag to the pixels when it loads a TIFF page, so the
output is stored upright and needs no Orientation tag. Lossy (JPEG) compression is
replaced by Adobe deflate so nothing is re-encoded lossily. Camera raw files built on TIFF (DNG or
anything with SubIFDs) are refused, because re-saving would keep only their preview.
"""

from __future__ import annotations

import io

from PIL import Image, ImageSequence, TiffTags

from services.ghost.containers.tiff import TIFF_LAYOUT_TAGS, open_tiff
from services.ghost.errors import CorruptFile, UnsupportedFormat
from services.ghost.formats import SUPPORTED_FORMATS
from services.ghost.limits import Limits
from services.ghost.payloads.exif import ORIENTATION
from services.ghost.shred.report import Cleaned, Findings

LOSSLESS_COMPRESSIONS = frozenset(
    {"raw", "tiff_lzw", "tiff_adobe_deflate", "tiff_deflate", "packbits", "group3", "group4"}
)


def shred_tiff(data: bytes, limits: Limits) -> Cleaned:
    image = open_tiff(data, limits)
    findings = Findings()
    pages: list[Image.Image] = []
    rotated = False
    dpi = image.info.get("dpi")
    compression = image.info.get("compression", "raw")
    try:
        for index, page in enumerate(ImageSequence.Iterator(image)):
            limits.check_pixels(*page.size, what=f"TIFF page {index + 1}")
            for tag in image.tag_v2:
                if tag not in TIFF_LAYOUT_TAGS:
                    name = TiffTags.lookup(tag).name
                    findings.remove(f"TIFF:{name if name != 'unknown' else f'Tag0x{tag:04X}'}")
            value = image.tag_v2.get(ORIENTATION)
            if isinstance(value, int) and 1 < value <= 8:
                rotated = True
            page.load()
            # copy() yields a plain Image without the source tag directory, which Pillow would
            # otherwise carry over (XMP, IPTC, Photoshop tags) into the saved file.
            fresh = page.copy()
            fresh.info = {}
            pages.append(fresh)
    except (OSError, SyntaxError, ValueError, EOFError, TypeError) as exc:
        raise CorruptFile(f"unreadable TIFF page: {exc}") from exc
    finally:
        image.close()
    options: dict[str, object] = {
        "compression": compression if compression in LOSSLESS_COMPRESSIONS else "tiff_adobe_deflate"
    }
    if dpi:
        options["dpi"] = dpi
    if rotated:
        findings.keep("TIFF:Orientation (applied to the pixels)")
    output = io.BytesIO()
    try:
        pages[0].save(output, format="TIFF", save_all=len(pages) > 1, append_images=pages[1:], **options)
    except (OSError, ValueError) as exc:
        raise UnsupportedFormat("image/tiff", SUPPORTED_FORMATS, f"TIFF variant Pillow cannot write: {exc}") from exc
    return Cleaned(output.getvalue(), findings)
