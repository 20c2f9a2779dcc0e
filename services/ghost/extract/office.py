"""DOCX/XLSX/PPTX metadata: document properties plus the identifying data spread through parts.

The same rules the shredder applies are run in collecting mode, so the report lists exactly what a
shred would blank or drop: comment and revision authors, dates, rsid counts, template and save
paths, document IDs. Embedded images are extracted like standalone images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.ghost.containers.ooxml import open_package, read_entry, scrub_xml
from services.ghost.errors import GhostError, InputTooLarge
from services.ghost.extract.images import extract_image_bytes, guarded
from services.ghost.formats import IMAGE_KINDS, FileKind, sniff
from services.ghost.limits import Limits
from services.ghost.payloads.officeprops import read_custom_properties, read_properties
from services.ghost.shred.office import APP_PART, CORE_PART, CUSTOM_PART, dropped_parts, make_rules, needs_scrub

MAX_REPORTED_MEDIA = 16
MAX_VALUES_PER_LABEL = 32


def extract_office(path: Path, kind: FileKind, limits: Limits) -> tuple[dict[str, Any], dict[str, Any]]:
    groups: dict[str, Any] = {}
    details: dict[str, Any] = {}
    media: list[dict[str, Any]] = []
    with open_package(path, limits) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        drop = dropped_parts(archive)
        rules = make_rules(frozenset())
        properties: dict[str, Any] = {"parts": len(infos)}
        for info in infos:
            name = info.filename
            data = read_entry(archive, info)
            if name == CORE_PART:
                groups["Office core"] = guarded(read_properties, data)
            elif name == APP_PART:
                groups["Office app"] = guarded(read_properties, data)
            elif name == CUSTOM_PART:
                groups["Office custom"] = guarded(read_custom_properties, data)
            elif name in drop:
                details.setdefault("Thumbnails", []).append(f"{name} ({len(data)} bytes)")
            elif needs_scrub(name, data) and name.endswith(".xml"):
                scrubber = scrub_xml(data, rules, write=False)
                for label, count in scrubber.findings.items():
                    entry = details.setdefault(label, {"count": 0, "values": []})
                    entry["count"] += count
                    for value in sorted(scrubber.values.get(label, ())):
                        if value not in entry["values"] and len(entry["values"]) < MAX_VALUES_PER_LABEL:
                            entry["values"].append(value)
            elif "/embeddings/" in name:
                details.setdefault("Embedded objects", []).append(name)
            else:
                _media(name, data, limits, media)
    for entry in details.values():
        if isinstance(entry, dict) and not entry["values"]:
            del entry["values"]
    if details:
        groups[f"{kind.value.upper()} structure"] = details
    if media:
        groups["Media"] = media
    return properties, groups


def _media(name: str, data: bytes, limits: Limits, media: list[dict[str, Any]]) -> None:
    kind = sniff(data[:64])
    if kind is None or kind not in IMAGE_KINDS or len(media) >= MAX_REPORTED_MEDIA:
        return
    try:
        _, image_groups = extract_image_bytes(data, kind, limits)
    except InputTooLarge:
        raise
    except GhostError as exc:
        media.append({"part": name, "error": exc.message})
        return
    if image_groups:
        media.append({"part": name, **image_groups})
