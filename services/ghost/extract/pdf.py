"""PDF metadata: the information dictionary, XMP, and where else PDFs hide authorship.

Besides the document-level metadata this reports per-object XMP streams, private application data
(/PieceInfo), annotation authors, embedded files, EXIF-bearing JPEG images and how many revisions
(incremental saves) the file holds, since earlier revisions keep old values readable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pikepdf

from services.ghost.containers.pdf import dictionaries, is_jpeg_image, open_pdf, page_annotations, revision_count
from services.ghost.errors import CorruptFile, GhostError
from services.ghost.extract.images import extract_jpeg, guarded
from services.ghost.jsonsafe import clean_text, json_safe
from services.ghost.limits import Limits
from services.ghost.payloads.xmp import parse_xmp

MAX_REPORTED_IMAGES = 8


def _text(value: Any) -> Any:
    if isinstance(value, pikepdf.String):
        return clean_text(str(value))
    if isinstance(value, pikepdf.Name):
        return str(value)
    if isinstance(value, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream):
        return f"<{type(value).__name__.lower()}>"
    return json_safe(value)


def extract_pdf(path: Path, limits: Limits) -> tuple[dict[str, Any], dict[str, Any]]:
    with path.open("rb") as handle:
        revisions = revision_count(handle.read())
    groups: dict[str, Any] = {}
    with open_pdf(path) as pdf:
        try:
            properties: dict[str, Any] = {
                "pages": len(pdf.pages),
                "pdf_version": pdf.pdf_version,
                "encrypted": pdf.is_encrypted,
                "revisions": revisions,
            }
            info = pdf.trailer.get("/Info")
            if isinstance(info, pikepdf.Dictionary):
                groups["PDF"] = {str(key): _text(value) for key, value in info.items()}
            metadata = pdf.Root.get("/Metadata")
            if isinstance(metadata, pikepdf.Stream):
                groups["XMP"] = guarded(lambda _raw: parse_xmp(metadata.read_bytes()), b"")
            object_xmp = 0
            piece_info: list[str] = []
            images: list[dict[str, Any]] = []
            embedded: list[str] = []
            for obj in dictionaries(pdf):
                if "/Metadata" in obj and obj.objgen != pdf.Root.objgen:
                    object_xmp += 1
                if isinstance(obj.get("/PieceInfo"), pikepdf.Dictionary):
                    piece_info += [str(key) for key in obj.PieceInfo]
                if obj.get("/Type") == pikepdf.Name.Filespec:
                    embedded.append(_text(obj.get("/UF", obj.get("/F", ""))))
                if is_jpeg_image(obj) and len(images) < MAX_REPORTED_IMAGES:
                    try:
                        _, image_groups = extract_jpeg(obj.read_raw_bytes(), limits)
                    except GhostError:
                        continue
                    if image_groups:
                        images.append({"object": f"{obj.objgen[0]} {obj.objgen[1]} R", **image_groups})
            authors = sorted(
                {
                    clean_text(str(annot.T))
                    for annot in page_annotations(pdf)
                    if annot.get("/Subtype") != pikepdf.Name.Widget and isinstance(annot.get("/T"), pikepdf.String)
                }
            )
        except pikepdf.PdfError as exc:
            raise CorruptFile(f"unreadable PDF structure: {exc}") from exc
    details: dict[str, Any] = {}
    if object_xmp:
        details["ObjectMetadataStreams"] = object_xmp
    if piece_info:
        details["PieceInfo"] = sorted(set(piece_info))
    if authors:
        details["AnnotationAuthors"] = authors
    if embedded:
        details["EmbeddedFiles"] = embedded
    if revisions > 1:
        details["IncrementalRevisions"] = revisions - 1
    if details:
        groups["PDF structure"] = details
    if images:
        groups["Images"] = images
    return properties, groups
