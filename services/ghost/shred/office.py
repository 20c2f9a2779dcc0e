"""DOCX/XLSX/PPTX cleaning: the package is rewritten entry by entry.

- docProps/core.xml becomes an empty ``cp:coreProperties``; docProps/app.xml an empty ``Properties``.
- docProps/custom.xml and thumbnails are dropped, with their relationships and content-type entries.
- Word: w:rsid* revision-session IDs, the w:rsids table, w14/w15 document IDs and the attached
  template path are removed; comment and tracked-change authors/initials are blanked (the schema
  requires them) and their dates removed; people.xml loses account (presence) IDs.
- Excel: comment authors, threaded-comment people and dates, the workbook's absolute save path and
  the file-sharing user name go. PowerPoint: comment authors and dates go.
- Embedded JPEG/PNG/GIF/WebP/TIFF media are cleaned like standalone images.
- Every zip entry gets the timestamp 1980-01-01 00:00 and no extra fields; the archive comment goes.
Embedded OLE objects and customXml data parts are copied unchanged and listed in ``kept``.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from defusedxml import ElementTree

from services.ghost.containers.ooxml import (
    XML_DECLARATION,
    Action,
    ScrubRules,
    fixed_time_info,
    open_package,
    read_entry,
    scrub_xml,
)
from services.ghost.errors import CorruptFile, GhostError, InputTooLarge
from services.ghost.formats import IMAGE_KINDS, FileKind, sniff
from services.ghost.limits import Limits
from services.ghost.payloads.officeprops import read_custom_properties, read_properties
from services.ghost.shred.images import shred_image_bytes
from services.ghost.shred.report import Findings

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
W16CEX = "http://schemas.microsoft.com/office/word/2018/wordml/cex"
W16DU = "http://schemas.microsoft.com/office/word/2023/wordml/word16du"
X = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
X15AC = "http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"
XTC = "http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"
P = "http://schemas.openxmlformats.org/presentationml/2006/main"
P188 = "http://schemas.microsoft.com/office/powerpoint/2018/8/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"

CORE_PART = "docProps/core.xml"
APP_PART = "docProps/app.xml"
CUSTOM_PART = "docProps/custom.xml"
CONTENT_TYPES_PART = "[Content_Types].xml"
ROOT_RELS_PART = "_rels/.rels"
THUMBNAIL_REL = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/thumbnail"
CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
DROPPED_REL_SUFFIXES = ("/attachedTemplate",)

EMPTY_CORE = XML_DECLARATION + (
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
    b' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
    b' xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
)
EMPTY_APP = XML_DECLARATION + (
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"'
    b' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"/>'
)

DROPPED_ELEMENTS = frozenset(
    {
        (W, "rsids"),
        (W, "rsid"),
        (W, "attachedTemplate"),
        (W14, "docId"),
        (W15, "docId"),
        (W15, "presenceInfo"),
        (X15AC, "absPath"),
    }
)
ELEMENT_LABELS = {
    "rsids": "Word revision session IDs (rsid)",
    "rsid": "Word revision session IDs (rsid)",
    "attachedTemplate": "template path",
    "docId": "document ID",
    "presenceInfo": "author account IDs",
    "absPath": "file system path",
    "Relationship": "relationship to removed part",
    "Override": "content type of removed part",
}
AUTHOR_ATTRIBUTES = frozenset({"author", "initials", "name", "displayName", "userId", "providerId", "userName"})
DATE_ATTRIBUTES = frozenset({"date", "dt", "dT", "dateUtc", "created"})
XML_PART_PREFIXES = ("word/", "xl/", "ppt/")
SCRUB_TRIGGERS = (
    b"rsid",
    b"author",
    b"Author",
    b"initials",
    b"date",
    b"docId",
    b"absPath",
    b"attachedTemplate",
    b"userName",
    b"presenceInfo",
    b"dt=",
    b"dT=",
    b"dateUtc",
    b"displayName",
    b"userId",
    b"created",
)


def office_attribute_rule(element_ns: str, element: str, attribute_ns: str, attribute: str) -> Action:
    if attribute_ns == W:
        if attribute.startswith("rsid") or attribute == "date":
            return "drop"
        if attribute in ("author", "initials"):
            return "blank"
    if attribute_ns == W15 and attribute == "author":
        return "blank"
    if attribute_ns in (W16CEX, W16DU) and attribute == "dateUtc":
        return "drop"
    if element_ns == P and element == "cmAuthor" and attribute in ("name", "initials"):
        return "blank"
    if element_ns == P and element == "cm" and attribute == "dt":
        return "drop"
    if element_ns == P188 and element == "author" and attribute in ("name", "initials", "userId", "providerId"):
        return "blank"
    if element_ns == P188 and element == "cm" and attribute == "created":
        return "drop"
    if element_ns == X and element == "fileSharing" and attribute == "userName":
        return "drop"
    if element_ns == XTC and element == "threadedComment" and attribute == "dT":
        return "drop"
    if element_ns == XTC and element == "person" and attribute in ("displayName", "userId", "providerId"):
        return "blank"
    return "keep"


def office_label(element: str, attribute: str) -> str:
    if attribute.startswith("rsid"):
        return ELEMENT_LABELS["rsids"]
    if attribute in AUTHOR_ATTRIBUTES or attribute == "text":
        return "author names"
    if attribute in DATE_ATTRIBUTES:
        return "comment/revision dates"
    return ELEMENT_LABELS.get(element, element)


def make_rules(dropped_parts: frozenset[str]) -> ScrubRules:
    def drop_element(namespace: str, local: str, attributes: dict[str, str]) -> bool:
        if (namespace, local) in DROPPED_ELEMENTS:
            return True
        if namespace == RELS and local == "Relationship":
            if attributes.get("Type", "").endswith(DROPPED_REL_SUFFIXES):
                return True
            return attributes.get("Type") in (THUMBNAIL_REL, CUSTOM_REL) or (
                attributes.get("Target", "").lstrip("/") in dropped_parts
            )
        if namespace == CONTENT_TYPES and local == "Override":
            return attributes.get("PartName", "").lstrip("/") in dropped_parts
        return False

    return ScrubRules(
        drop_element=drop_element,
        watched_elements=frozenset({local for _, local in DROPPED_ELEMENTS} | {"Relationship", "Override"}),
        blank_text=frozenset({(X, "author")}),
        attribute=office_attribute_rule,
        watched_attributes=AUTHOR_ATTRIBUTES | DATE_ATTRIBUTES,
        watched_prefixes=("rsid",),
        label=office_label,
    )


def dropped_parts(archive: zipfile.ZipFile) -> frozenset[str]:
    """docProps/custom.xml and thumbnails: by relationship type and by conventional name."""
    names = set(archive.namelist())
    dropped = {name for name in names if name == CUSTOM_PART or name.startswith("docProps/thumbnail")}
    if ROOT_RELS_PART in names:
        try:
            root = ElementTree.fromstring(archive.read(ROOT_RELS_PART), forbid_dtd=True)
        except Exception as exc:
            raise CorruptFile("_rels/.rels is not well-formed XML") from exc
        for relationship in root:
            if relationship.get("Type") in (THUMBNAIL_REL, CUSTOM_REL):
                target = posixpath.normpath(relationship.get("Target", "").lstrip("/"))
                if target in names:
                    dropped.add(target)
    return frozenset(dropped)


def needs_scrub(name: str, data: bytes) -> bool:
    if name in (CONTENT_TYPES_PART, ROOT_RELS_PART):
        return True
    if not name.startswith(XML_PART_PREFIXES) or not name.endswith((".xml", ".rels")):
        return False
    # Parts in UTF-16 cannot be pre-screened byte-wise, so they are always scrubbed.
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    return any(trigger in data for trigger in SCRUB_TRIGGERS)


def _property_labels(name: str, data: bytes, reader: Callable[[bytes], dict[str, object]], group: str) -> list[str]:
    try:
        return [f"Office:{group}:{key}" for key in reader(data)]
    except ValueError:
        return [f"Office:{name}"]


def shred_office(src: Path, dst: Path, kind: FileKind, limits: Limits) -> Findings:
    findings = Findings()
    counts: Counter[str] = Counter()
    with open_package(src, limits) as archive:
        drop = dropped_parts(archive)
        rules = make_rules(drop)
        infos = sorted(archive.infolist(), key=lambda info: info.filename != CONTENT_TYPES_PART)
        with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as output:
            for info in infos:
                name = info.filename
                if info.is_dir():
                    continue
                data = read_entry(archive, info)
                if name in drop:
                    if name == CUSTOM_PART:
                        findings.remove(*_property_labels(name, data, read_custom_properties, "custom"))
                    else:
                        findings.remove(f"Office:thumbnail ({name})")
                    continue
                if name == CORE_PART:
                    findings.remove(*_property_labels(name, data, read_properties, "core"))
                    data = EMPTY_CORE
                elif name == APP_PART:
                    findings.remove(*_property_labels(name, data, read_properties, "app"))
                    data = EMPTY_APP
                elif needs_scrub(name, data):
                    scrubber = scrub_xml(data, rules)
                    counts.update(scrubber.findings)
                    data = scrubber.output()
                else:
                    data = _clean_media(name, data, limits, findings)
                output.writestr(fixed_time_info(info), data)
    for label, count in counts.items():
        findings.remove(f"{kind.value.upper()}:{label} ({count})")
    return findings


def _clean_media(name: str, data: bytes, limits: Limits, findings: Findings) -> bytes:
    if "/embeddings/" in name:
        findings.keep(f"embedded object {name} (not inspected)")
        return data
    kind = sniff(data[:64])
    if kind is None or kind not in IMAGE_KINDS:
        return data
    try:
        cleaned = shred_image_bytes(data, kind, limits)
    except InputTooLarge:
        raise
    except GhostError:
        findings.keep(f"unreadable embedded image {name} (left unchanged)")
        return data
    findings.merge(cleaned.findings, prefix=f"{name}: ")
    return cleaned.data
