"""Short labels naming what a metadata payload contained, for shred reports.

Labelling never fails: a payload that cannot be parsed is still removed, and is then reported under
its group name alone.
"""

from __future__ import annotations

from services.ghost.payloads.exif import parse_exif
from services.ghost.payloads.iptc import IPTC_RESOURCE, parse_iim, parse_photoshop
from services.ghost.payloads.xmp import parse_xmp


def exif_labels(data: bytes) -> list[str]:
    try:
        return parse_exif(data).labels()
    except Exception:
        # Broken EXIF is removed all the same; the report just cannot itemise it.
        return ["EXIF"]


def xmp_labels(data: bytes) -> list[str]:
    try:
        properties = parse_xmp(data)
    except ValueError:
        return ["XMP"]
    return ["XMP", *(f"XMP:{name}" for name in properties)]


def photoshop_labels(data: bytes) -> list[str]:
    try:
        resources = parse_photoshop(data)
    except ValueError:
        return ["Photoshop"]
    labels: list[str] = []
    for resource in resources:
        if resource.id == IPTC_RESOURCE:
            try:
                labels += [f"IPTC:{name}" for name in parse_iim(resource.data)] or ["IPTC"]
            except ValueError:
                labels.append("IPTC")
        else:
            labels.append(f"Photoshop:{resource.label}")
    return labels or ["Photoshop"]


def iptc_labels(data: bytes) -> list[str]:
    try:
        return [f"IPTC:{name}" for name in parse_iim(data)] or ["IPTC"]
    except ValueError:
        return ["IPTC"]
