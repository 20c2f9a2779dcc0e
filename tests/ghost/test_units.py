"""Unit tests for the payload parsers, JSON conversion, naming helpers and thread safety."""

from __future__ import annotations

import math
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bench.ghost import corpus as planted
from services.ghost.containers.ooxml import scrub_xml
from services.ghost.core import FileKind, cleaned_filename, extension_matches, extract_metadata, shred_file
from services.ghost.errors import CorruptFile
from services.ghost.jsonsafe import MAX_ITEMS, MAX_STRING_CHARS, json_safe
from services.ghost.payloads.exif import orientation_only_exif, parse_exif, read_orientation
from services.ghost.payloads.iptc import parse_iim, parse_photoshop
from services.ghost.payloads.xmp import parse_xmp
from services.ghost.shred.office import make_rules
from tests.ghost.conftest import Corpus


def test_json_safe_bounds_and_summarises() -> None:
    assert json_safe(b"\x00\x01\x02binary") == "<binary 9 bytes>"
    assert json_safe(b"plain text\x00") == "plain text"
    assert json_safe(math.nan) is None
    assert len(json_safe("x" * (MAX_STRING_CHARS + 10))) < MAX_STRING_CHARS + 40
    assert len(json_safe(list(range(MAX_ITEMS + 5)))) == MAX_ITEMS + 1
    assert json_safe({1: (1, 2)}) == {"1": [1, 2]}


def test_orientation_only_exif_round_trips() -> None:
    data = orientation_only_exif(8)
    assert read_orientation(data) == 8
    parsed = parse_exif(data)
    assert parsed.tags == {"Orientation": 8}
    assert read_orientation(b"garbage") is None


def test_exif_gps_southern_western_hemisphere() -> None:
    exif = planted.planted_exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[3] = "S", "W"
    parsed = parse_exif(exif.tobytes())
    assert parsed.gps["latitude"] == pytest.approx(-planted.LATITUDE, abs=1e-6)
    assert parsed.gps["longitude"] == pytest.approx(-planted.LONGITUDE, abs=1e-6)


def test_xmp_properties_are_flattened() -> None:
    properties = parse_xmp(planted.xmp_packet())
    assert properties == {
        "xmp:CreatorTool": planted.SOFTWARE,
        "photoshop:City": planted.CITY,
        "dc:creator": [planted.AUTHOR],
        "dc:description": [planted.COMMENT],
    }
    with pytest.raises(ValueError, match="XMP"):
        parse_xmp(b"<x:xmpmeta><rdf:RDF></x:xmpmeta>")


def test_xmp_refuses_entity_expansion() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&a;</x:xmpmeta>'
    )
    with pytest.raises(ValueError, match="malformed"):
        parse_xmp(bomb)


@pytest.mark.parametrize(
    "part",
    [
        b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><w:document>&b;</w:document>',
        b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]><w:document>&x;</w:document>',
        b'<?xml version="1.0"?><!DOCTYPE w SYSTEM "http://127.0.0.1/evil.dtd"><w:document/>',
        b"<w:document><w:p>",
    ],
    ids=["entity expansion", "external entity", "external DTD", "truncated"],
)
@pytest.mark.parametrize("write", [True, False], ids=["shred", "extract"])
def test_office_xml_parts_refuse_dtds_and_entities(part: bytes, write: bool) -> None:
    with pytest.raises(CorruptFile, match="malformed XML part"):
        scrub_xml(part, make_rules(frozenset()), write=write)


def test_office_xml_scrub_keeps_prefixes_and_drops_rsids() -> None:
    part = (
        b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
        b'wordprocessingml/2006/main"><w:p w:rsidR="00AB12CD"><w:r><w:t>caf\xc3\xa9 &amp; co</w:t></w:r></w:p></w:document>'
    )
    scrubbed = scrub_xml(part, make_rules(frozenset()))
    out = scrubbed.output()
    assert b"rsid" not in out
    assert b"00AB12CD" not in out
    assert b"<w:t>caf\xc3\xa9 &amp; co</w:t>" in out
    assert scrubbed.findings["Word revision session IDs (rsid)"] == 1
    found = scrub_xml(part, make_rules(frozenset()), write=False)
    assert dict(found.findings) == dict(scrubbed.findings)


def test_iptc_from_photoshop_resources() -> None:
    segment = planted.iptc_app13()
    resources = parse_photoshop(segment[4:])
    assert [resource.label for resource in resources] == ["IPTC-NAA"]
    values = parse_iim(resources[0].data)
    assert values["By-line"] == planted.AUTHOR
    assert values["Keywords"] == ["ghost", "secret"]
    with pytest.raises(ValueError, match="truncated"):
        parse_iim(struct.pack(">BBBH", 0x1C, 2, 80, 50) + b"short")


@pytest.mark.parametrize(
    ("name", "kind", "matches", "cleaned"),
    [
        ("photo.JPG", FileKind.JPEG, True, "photo_cleaned.JPG"),
        ("photo.png", FileKind.JPEG, False, "photo_cleaned.jpg"),
        ("photo", FileKind.JPEG, None, "photo_cleaned.jpg"),
        ("../../etc/report.pdf", FileKind.PDF, True, "report_cleaned.pdf"),
        ("C:\\Users\\alice\\memo.docx", FileKind.DOCX, True, "memo_cleaned.docx"),
        ("bad\x00name.xlsx", FileKind.XLSX, True, "bad_name_cleaned.xlsx"),
    ],
)
def test_filenames(name: str, kind: FileKind, matches: bool | None, cleaned: str) -> None:
    assert extension_matches(name, kind) is matches
    assert cleaned_filename(name, kind) == cleaned


def _run(kind: str, src: Path, out_dir: Path, index: int) -> tuple[str, Any, list[str]]:
    meta = extract_metadata(src, filename=src.name)
    report = shred_file(src, out_dir / f"{index}-{src.name}")
    return kind, meta["metadata"], report.removed


def test_concurrent_use_matches_sequential(corpus: Corpus, tmp_path: Path) -> None:
    kinds = ["jpeg", "png", "webp", "tiff", "gif", "pdf", "docx", "xlsx", "pptx", "wav"]
    samples = {kind: corpus[kind] for kind in kinds}
    sequential = {kind: _run(kind, path, tmp_path, -1 - i) for i, (kind, path) in enumerate(samples.items())}
    jobs = list(samples.items()) * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda item: _run(item[1][0], item[1][1], tmp_path, item[0]), enumerate(jobs)))
    for kind, metadata, removed in results:
        assert (kind, metadata, removed) == sequential[kind]
    assert len(list(tmp_path.iterdir())) == len(jobs) + len(kinds)


def test_cleaned_jpeg_still_decodes_identically(corpus: Corpus, tmp_path: Path) -> None:
    dst = tmp_path / "clean.jpg"
    shred_file(corpus["jpeg"], dst)
    with Image.open(corpus["jpeg"]) as original, Image.open(dst) as cleaned:
        assert original.tobytes() == cleaned.tobytes()
