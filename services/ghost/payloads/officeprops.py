"""OOXML document properties: docProps/core.xml, app.xml and custom.xml."""

from __future__ import annotations

from typing import Any

from defusedxml import ElementTree

from services.ghost.jsonsafe import clean_text

NAMESPACE_PREFIXES = {
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://schemas.openxmlformats.org/package/2006/metadata/core-properties": "cp",
    "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties": "app",
    "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes": "vt",
}


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return NAMESPACE_PREFIXES.get(uri, uri), local
    return "", tag


def _text(element: Any) -> str:
    return clean_text("".join(element.itertext()).strip())


def read_properties(data: bytes) -> dict[str, Any]:
    """Core and extended (app) properties as ``prefix:Name`` (core) or ``Name`` (app) → text.

    Raises ``ValueError`` for malformed XML.
    """
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except Exception as exc:
        raise ValueError(f"malformed properties part: {exc}") from exc
    properties: dict[str, Any] = {}
    for child in root:
        prefix, local = _local(child.tag)
        key = local if prefix == "app" else f"{prefix}:{local}"
        if len(child):
            items = [_text(item) for item in child.iter() if item is not child and not len(item)]
            properties[key] = [item for item in items if item]
        else:
            text = _text(child)
            if text:
                properties[key] = text
    return properties


def read_custom_properties(data: bytes) -> dict[str, Any]:
    """Custom properties by name; the value is the text of the single vt:* child."""
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except Exception as exc:
        raise ValueError(f"malformed custom properties part: {exc}") from exc
    properties: dict[str, Any] = {}
    for child in root:
        name = child.get("name") or f"property {child.get('pid', '?')}"
        properties[clean_text(name)] = _text(child)
    return properties
