"""Opening PDFs with pikepdf, translating its failures into ghost errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pikepdf

from services.ghost.errors import CorruptFile, EncryptedFile
from services.ghost.formats import SUPPORTED_FORMATS

DCT = pikepdf.Name.DCTDecode


def open_pdf(path: Path) -> pikepdf.Pdf:
    try:
        return pikepdf.open(path)
    except pikepdf.PasswordError as exc:
        raise EncryptedFile("application/pdf", SUPPORTED_FORMATS, "password protected PDF") from exc
    except (pikepdf.PdfError, OSError, ValueError) as exc:
        raise CorruptFile(f"unreadable PDF: {exc}") from exc


def dictionaries(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Object]:
    """Every dictionary and stream object in the file."""
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            yield obj


def is_jpeg_image(obj: pikepdf.Object) -> bool:
    """A raw-DCT image XObject, whose stream bytes are a complete JPEG file."""
    if not isinstance(obj, pikepdf.Stream) or obj.get("/Subtype") != pikepdf.Name.Image:
        return False
    filters = obj.get("/Filter")
    if isinstance(filters, pikepdf.Array):
        return len(filters) == 1 and filters[0] == DCT
    return bool(filters == DCT)


def page_annotations(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Dictionary]:
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if isinstance(annots, pikepdf.Array):
            for annot in annots:
                if isinstance(annot, pikepdf.Dictionary):
                    yield annot


def revision_count(data: bytes) -> int:
    """How many times the file was saved: each (incremental) revision ends with its own startxref."""
    return max(1, data.count(b"startxref"))
