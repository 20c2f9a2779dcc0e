"""In-memory image cleaning, shared by standalone images and images embedded in documents."""

from __future__ import annotations

from services.ghost.formats import FileKind
from services.ghost.limits import Limits
from services.ghost.shred.gif import shred_gif
from services.ghost.shred.jpeg import shred_jpeg
from services.ghost.shred.png import shred_png
from services.ghost.shred.report import Cleaned
from services.ghost.shred.tiff import shred_tiff
from services.ghost.shred.webp import shred_webp


def shred_image_bytes(data: bytes, kind: FileKind, limits: Limits) -> Cleaned:
    if kind is FileKind.JPEG:
        return shred_jpeg(data, limits)
    if kind is FileKind.PNG:
        return shred_png(data, limits)
    if kind is FileKind.WEBP:
        return shred_webp(data, limits)
    if kind is FileKind.GIF:
        return shred_gif(data, limits)
    if kind is FileKind.TIFF:
        return shred_tiff(data, limits)
    raise ValueError(f"{kind} is not an image kind")
