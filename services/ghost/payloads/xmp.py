"""XMP packets: RDF/XML parsed safely (no DTDs, no entities) into ``prefix:Property`` values."""

from __future__ import annotations

import io
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

from services.ghost.jsonsafe import clean_text

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
CONTAINERS = frozenset({f"{{{RDF}}}Seq", f"{{{RDF}}}Bag", f"{{{RDF}}}Alt"})
DESCRIPTION = f"{{{RDF}}}Description"
MAX_PROPERTIES = 512


def locate_packet(data: bytes) -> bytes | None:
    """The ``x:xmpmeta`` (or bare ``rdf:RDF``) element inside a packet wrapper, if any."""
    for opener, closer in ((b"<x:xmpmeta", b"</x:xmpmeta>"), (b"<rdf:RDF", b"</rdf:RDF>")):
        start = data.find(opener)
        end = data.rfind(closer)
        if start >= 0 and end > start:
            return data[start : end + len(closer)]
    return None


def _qualified(tag: str, prefixes: dict[str, str]) -> str:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return f"{prefixes.get(uri, uri)}:{local}"
    return tag


def _value(element: Element, prefixes: dict[str, str]) -> Any:
    resource = element.get(f"{{{RDF}}}resource")
    if resource is not None:
        return clean_text(resource)
    children = list(element)
    for child in children:
        if child.tag in CONTAINERS:
            return [_value(item, prefixes) for item in child]
    nested = children[0] if len(children) == 1 and children[0].tag == DESCRIPTION else None
    holder = nested if nested is not None else element
    fields: dict[str, Any] = {}
    for name, value in holder.attrib.items():
        if not name.startswith((f"{{{RDF}}}", f"{{{XML_NS}}}")):
            fields[_qualified(name, prefixes)] = clean_text(value)
    for child in holder:
        fields[_qualified(child.tag, prefixes)] = _value(child, prefixes)
    if fields:
        return fields
    return clean_text((element.text or "").strip())


def parse_xmp(data: bytes) -> dict[str, Any]:
    """Flatten the top-level properties of every ``rdf:Description`` into one mapping.

    Raises ``ValueError`` when the packet is not well-formed XML.
    """
    packet = locate_packet(data)
    if packet is None:
        raise ValueError("no XMP packet found")
    prefixes: dict[str, str] = {}
    try:
        for _event, item in ElementTree.iterparse(io.BytesIO(packet), events=("start-ns",), forbid_dtd=True):
            prefix, uri = item
            prefixes.setdefault(uri, prefix or "ns")
        root = ElementTree.fromstring(packet, forbid_dtd=True)
    except Exception as exc:
        raise ValueError(f"malformed XMP: {exc}") from exc
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f"{{{RDF}}}RDF")
    properties: dict[str, Any] = {}
    if rdf is None:
        return properties
    for description in rdf.findall(DESCRIPTION):
        for name, value in description.attrib.items():
            if not name.startswith((f"{{{RDF}}}", f"{{{XML_NS}}}")):
                properties[_qualified(name, prefixes)] = clean_text(value)
        for child in description:
            properties[_qualified(child.tag, prefixes)] = _value(child, prefixes)
            if len(properties) >= MAX_PROPERTIES:
                return properties
    return properties
