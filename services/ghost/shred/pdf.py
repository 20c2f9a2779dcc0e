"""PDF cleaning with pikepdf: metadata is deleted and the file is rewritten from scratch.

Removed: the document information dictionary, the document XMP stream, every per-object /Metadata
stream, /PieceInfo and /LastModified private application data, the /SpiderInfo web-capture log,
author (/T) and date (/M, /CreationDate) entries of markup annotations, the /Params (dates,
checksums) of embedded files, and APPn/COM segments inside JPEG images (copied otherwise verbatim).
The trailer /ID, which ties a file to the document it was derived from, is regenerated from the
content (for PDFs encrypted with only an owner password the encryption is kept, and with it the
first /ID element that its key depends on). Saving writes only objects reachable from the new trailer, so earlier incremental revisions
and orphaned objects are gone. Page content streams and fonts are untouched, so text stays
selectable. A PDF/A declaration (pdfaid:part/conformance) is re-written alone into a fresh XMP
packet, so archival validators still recognise the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pikepdf

from services.ghost.containers.pdf import dictionaries, is_jpeg_image, open_pdf, page_annotations
from services.ghost.errors import CorruptFile, GhostError
from services.ghost.limits import Limits
from services.ghost.payloads.labels import xmp_labels
from services.ghost.shred.jpeg import shred_jpeg
from services.ghost.shred.report import Findings

PRIVATE_KEYS = {"/PieceInfo": "PDF:PieceInfo", "/LastModified": "PDF:LastModified", "/SpiderInfo": "PDF:SpiderInfo"}
ANNOTATION_DATES = ("/M", "/CreationDate")
PDFA_KEYS = ("pdfaid:part", "pdfaid:conformance")


def _pdfa_identification(pdf: pikepdf.Pdf) -> dict[str, str]:
    try:
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            return {key: str(meta[key]) for key in PDFA_KEYS if key in meta}
    except Exception:
        # An unreadable XMP packet cannot declare PDF/A conformance worth preserving.
        return {}


def _pdfa_packet(identification: dict[str, str]) -> bytes:
    """An XMP packet holding only the PDF/A part and conformance level."""
    fields = "".join(
        f"<pdfaid:{key.split(':')[1]}>{escape(value)}</pdfaid:{key.split(':')[1]}>"
        for key, value in identification.items()
    )
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">{fields}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _clean_jpeg_stream(obj: Any, limits: Limits, findings: Findings) -> None:
    try:
        cleaned = shred_jpeg(obj.read_raw_bytes(), limits, keep_orientation=False)
    except GhostError:
        # A malformed image is left as it is: viewers show what they can, and the PDF stays intact.
        return
    if cleaned.findings.removed:
        obj.write(cleaned.data, filter=obj.get("/Filter"), decode_parms=obj.get("/DecodeParms"))
        findings.merge(cleaned.findings, prefix="PDF image ")


def shred_pdf(src: Path, dst: Path, limits: Limits) -> Findings:
    findings = Findings()
    with open_pdf(src) as pdf:
        trailer = pdf.trailer
        info = trailer.get("/Info")
        if isinstance(info, pikepdf.Dictionary):
            findings.remove(*(f"PDF:{key}" for key in info))
        if "/Info" in trailer:
            del trailer["/Info"]
        pdfa = _pdfa_identification(pdf)
        root_metadata = pdf.Root.get("/Metadata")
        if isinstance(root_metadata, pikepdf.Stream):
            try:
                findings.remove(*xmp_labels(root_metadata.read_bytes()))
            except pikepdf.PdfError:
                findings.remove("XMP")
        for obj in dictionaries(pdf):
            if "/Metadata" in obj:
                if not obj.is_indirect or obj.objgen != pdf.Root.objgen:
                    findings.remove("PDF:object XMP metadata")
                del obj["/Metadata"]
            for key, label in PRIVATE_KEYS.items():
                if key in obj:
                    del obj[key]
                    findings.remove(label)
            if obj.get("/Type") == pikepdf.Name.EmbeddedFile and "/Params" in obj:
                del obj["/Params"]
                findings.remove("PDF:embedded file /Params")
            if is_jpeg_image(obj):
                _clean_jpeg_stream(obj, limits, findings)
        for annot in page_annotations(pdf):
            if annot.get("/Subtype") != pikepdf.Name.Widget and "/T" in annot:
                del annot["/T"]
                findings.remove("PDF:annotation author")
            for key in ANNOTATION_DATES:
                if key in annot:
                    del annot[key]
                    findings.remove("PDF:annotation dates")
        if "/ID" in trailer and not pdf.is_encrypted:
            del trailer["/ID"]
            findings.remove("PDF:/ID (regenerated)")
        if pdfa:
            pdf.Root.Metadata = pdf.make_stream(
                _pdfa_packet(pdfa), Type=pikepdf.Name.Metadata, Subtype=pikepdf.Name.XML
            )
            findings.removed = [label for label in findings.removed if not label.startswith("XMP:pdfaid:")]
            findings.keep("XMP:pdfaid (PDF/A declaration)")
        try:
            if pdf.is_encrypted:
                # Owner-password restrictions are kept. Re-encryption needs decoded streams and the
                # original first /ID element (the key is derived from it), so qpdf keeps that one.
                pdf.save(dst, fix_metadata_version=False, encryption=True)
            else:
                # Streams are copied still encoded: nothing is inflated, so flate bombs cost nothing.
                pdf.save(
                    dst,
                    fix_metadata_version=False,
                    deterministic_id=True,
                    stream_decode_level=pikepdf.StreamDecodeLevel.none,
                )
        except pikepdf.PdfError as exc:
            raise CorruptFile(f"PDF could not be rewritten: {exc}") from exc
    return findings
