"""A corpus of malicious files and request bodies against every route that takes a file.

Every item is refused with a clear 4xx (the error envelope, a specific `error_code`), or accepted
and handled safely (sanitised names, hidden payloads dropped, bombs marked failed), and nothing
crashes: the last tests check that the platform is still ready and that this process (which runs
the whole platform) did not grow by more than `MAX_RSS_GROWTH_MB` over the corpus.

Tables: `REFUSED` (one request, one clear 4xx), `HANDLED` (accepted, with a check of the answer),
`HOSTILE_ARCHIVES` (accepted by the audit API, refused by the worker while unpacking).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
import pytest_asyncio

from libs.http.request_context import MAX_HEADER_BYTES
from tests.accounts import Account, login, register_and_login
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.security import hostile as H
from tests.upload.files import pdf_bytes

UPLOAD = "/upload/"
EXTRACT = "/api/v1/trapdoor/ghost/extract"
SHRED = "/api/v1/trapdoor/ghost/shred"
SONIC = "/api/v1/trapdoor/sonic/upload"
AUDIT = "/api/v1/audits"
FILE_ROUTES = {"upload": UPLOAD, "extract": EXTRACT, "shred": SHRED, "sonic": SONIC, "audit": AUDIT}
MAX_RSS_GROWTH_MB = 300


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@dataclass
class Corpus:
    http: httpx.AsyncClient
    who: Account
    rss_before: float
    media: dict[str, bytes]


def encode_media(wav: bytes) -> dict[str, bytes]:
    """The same second of audio as wav, m4a, mp3, ogg and flac (ffmpeg), for truncating."""
    media = {"wav": wav}
    if shutil.which("ffmpeg") is None:
        return media
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "clip.wav"
        source.write_bytes(wav)
        for extension in ("m4a", "mp3", "ogg", "flac"):
            target = Path(work) / f"clip.{extension}"
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(source), str(target)], check=True)
            media[extension] = target.read_bytes()
    return media


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def corpus(platform: str) -> AsyncIterator[Corpus]:
    """One account for the whole corpus (on the unlimited tier: the audit quota is not under test
    here), the media samples, and the process's RSS before the first hostile request."""
    media = await asyncio.to_thread(encode_media, H.wav_bytes(1.0))
    async with httpx.AsyncClient(base_url=platform, timeout=120) as http:
        who = await register_and_login(http)
        admin = await login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
        r = await http.put(f"/api/v1/usage/tiers/{who.id}", headers=admin.headers, json={"tier": "enterprise"})
        assert r.status_code == 200, r.text
        yield Corpus(http=http, who=who, rss_before=rss_mb(), media=media)


def truncated(kind: str, fraction: float) -> Callable[[Corpus], bytes]:
    def build(c: Corpus) -> bytes:
        if kind not in c.media:
            pytest.skip("ffmpeg is needed to build compressed audio")
        data = c.media[kind]
        return data[: int(len(data) * fraction)]

    return build


def fixed(data: bytes) -> Callable[[Corpus], bytes]:
    return lambda c: data


def assert_clear_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False
    assert body["error_code"] == code, body
    assert isinstance(body["error"], str)
    assert 0 < len(body["error"]) < 1000


# --- refused: one request, one clear 4xx ------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    id: str
    route: str
    filename: str
    build: Callable[[Corpus], bytes]
    status: int
    code: str


JPEG = H.jpeg_bytes()
PNG = H.png_bytes((300, 200))
PDF = pdf_bytes("hostile corpus")

REFUSED = [
    # Polyglots whose extension lies about what a content sniffer would see.
    Refused("jpeg+zip polyglot as .docx", "upload", "thesis.docx", fixed(H.jpeg_zip_polyglot(b"x")), 400, "UPLOAD_004"),
    Refused("html/js-prefixed pdf as .pdf", "upload", "paper.pdf", fixed(H.html_pdf_polyglot()), 400, "UPLOAD_004"),
    Refused("html/js-prefixed pdf as .txt", "upload", "paper.txt", fixed(H.html_pdf_polyglot()), 400, "UPLOAD_004"),
    # Decompression bombs: a tiny file declaring billions of pixels.
    Refused("png declaring 100000x100000", "extract", "bomb.png", fixed(H.png_bomb()), 413, "GHOST_413"),
    Refused("png declaring 100000x100000", "shred", "bomb.png", fixed(H.png_bomb()), 413, "GHOST_413"),
    Refused("jpeg declaring 65000x65000", "extract", "bomb.jpg", fixed(H.jpeg_bomb()), 413, "GHOST_413"),
    Refused("jpeg declaring 65000x65000", "shred", "bomb.jpg", fixed(H.jpeg_bomb()), 413, "GHOST_413"),
    # Truncated media.
    Refused("wav, header only", "sonic", "cut.wav", fixed(H.wav_bytes()[:44]), 415, "SONIC_415"),
    Refused("wav, 12 bytes of RIFF", "sonic", "cut.wav", fixed(H.wav_bytes()[:12]), 415, "SONIC_415"),
    Refused("mp3 cut at 5%", "sonic", "cut.mp3", truncated("mp3", 0.05), 415, "SONIC_415"),
    Refused("mp3 cut at 50%", "sonic", "cut.mp3", truncated("mp3", 0.5), 415, "SONIC_415"),
    Refused("m4a cut at 50% (no moov)", "sonic", "cut.m4a", truncated("m4a", 0.5), 415, "SONIC_415"),
    Refused("ogg cut at 50%", "sonic", "cut.ogg", truncated("ogg", 0.5), 415, "SONIC_415"),
    Refused("flac cut at 50%", "sonic", "cut.flac", truncated("flac", 0.5), 415, "SONIC_415"),
    Refused("jpeg cut at 33%", "extract", "cut.jpg", fixed(JPEG[: len(JPEG) // 3]), 422, "GHOST_422"),
    Refused("jpeg cut at 33%", "shred", "cut.jpg", fixed(JPEG[: len(JPEG) // 3]), 422, "GHOST_422"),
    Refused("png cut at 50%", "extract", "cut.png", fixed(PNG[: len(PNG) // 2]), 422, "GHOST_422"),
    Refused("png cut at 50%", "shred", "cut.png", fixed(PNG[: len(PNG) // 2]), 422, "GHOST_422"),
    Refused("wav cut inside its header", "extract", "cut.wav", fixed(H.wav_bytes()[:60]), 422, "GHOST_422"),
    Refused("mp3 cut at 5%", "extract", "cut.mp3", truncated("mp3", 0.05), 422, "GHOST_422"),
    Refused("m4a cut at 5%", "extract", "cut.m4a", truncated("m4a", 0.05), 422, "GHOST_422"),
    Refused("ogg cut at 5%", "shred", "cut.ogg", truncated("ogg", 0.05), 422, "GHOST_422"),
    Refused("flac cut at 5%", "extract", "cut.flac", truncated("flac", 0.05), 422, "GHOST_422"),
    # Not an archive at all.
    Refused("text file as a repository", "audit", "notes.txt", fixed(b"not an archive"), 415, "AUDIT_415"),
]


async def post_file(c: Corpus, route: str, filename: str, data: bytes) -> httpx.Response:
    return await c.http.post(FILE_ROUTES[route], headers=c.who.headers, files={"file": (filename, data)})


@pytest.mark.parametrize("case", REFUSED, ids=[f"{c.route}: {c.id}" for c in REFUSED])
async def test_refused_with_a_clear_4xx(corpus: Corpus, case: Refused) -> None:
    r = await post_file(corpus, case.route, case.filename, case.build(corpus))
    assert_clear_error(r, case.status, case.code)


MULTIPART_CODES = {"upload": "UPLOAD_001", "extract": "GHOST_001", "shred": "GHOST_001", "sonic": "SONIC_400"}


@pytest.mark.parametrize("route", list(FILE_ROUTES))
async def test_multipart_with_1000_parts_is_refused(corpus: Corpus, route: str) -> None:
    parts: list[tuple[str, str | None, bytes]] = [(f"field{i}", None, b"x") for i in range(1000)]
    headers, body = H.multipart([*parts, ("file", "a.txt", b"hello")])
    r = await corpus.http.post(FILE_ROUTES[route], headers={**corpus.who.headers, **headers}, content=body)
    assert_clear_error(r, 400, MULTIPART_CODES.get(route, "AUDIT_400"))
    assert "segment count" in r.json()["error"]


@pytest.mark.parametrize("route", list(FILE_ROUTES))
async def test_filename_of_10000_characters_is_refused(corpus: Corpus, route: str) -> None:
    headers, body = H.multipart([("file", "a" * 10_000 + ".txt", b"hello")])
    r = await corpus.http.post(FILE_ROUTES[route], headers={**corpus.who.headers, **headers}, content=body)
    assert_clear_error(r, 400, MULTIPART_CODES.get(route, "AUDIT_400"))
    assert "header" in r.json()["error"]


# --- handled: accepted, and the answer is safe ------------------------------------------------------


async def download(c: Corpus, r: httpx.Response) -> httpx.Response:
    file_id = r.json()["data"]["file_id"]
    got = await c.http.get(f"/upload/{file_id}/download", headers=c.who.headers)
    assert got.status_code == 200
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;")
    return got


def assert_safe_name(name: str) -> None:
    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith(".")
    assert ".." not in name
    assert all(ch.isprintable() for ch in name)


async def check_traversal_upload(c: Corpus, r: httpx.Response, sent: bytes) -> None:
    data = r.json()["data"]
    assert_safe_name(data["original_filename"])
    assert_safe_name(data["stored_filename"])
    got = await download(c, r)
    assert got.content == sent
    disposition = got.headers["content-disposition"]
    star = disposition.split("filename*=UTF-8''", 1)[1]
    assert_safe_name(unquote(star))


async def check_polyglot_upload(c: Corpus, r: httpx.Response, sent: bytes) -> None:
    assert r.json()["data"]["content_type"] == "image/jpeg"
    got = await download(c, r)
    assert got.headers["content-type"] == "image/jpeg"  # served as what it was checked to be
    assert got.content == sent


async def check_hidden_payload_dropped(c: Corpus, r: httpx.Response, sent: bytes) -> None:
    assert r.headers["content-type"] == "image/jpeg"
    assert r.content.startswith(b"\xff\xd8")
    assert b"SMUGGLED" not in r.content
    assert b"PK\x03\x04" not in r.content


async def check_html_prefix_dropped(c: Corpus, r: httpx.Response, sent: bytes) -> None:
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    assert b"<script" not in r.content


async def check_junk_exif_extract(c: Corpus, r: httpx.Response, sent: bytes) -> None:
    data = r.json()["data"]
    assert data["file"]["kind"] == "jpeg"
    assert len(r.content) < 4 * len(sent)  # the answer stays proportionate to the input


async def check_junk_exif_shred(c: Corpus, r: httpx.Response, sent: bytes) -> None:
    assert int(r.headers["x-ghost-removed"]) >= 1
    assert len(r.content) < len(sent) // 10
    assert b"JJJJJJJJ" not in r.content


async def check_cleaned_name(c: Corpus, r: httpx.Response, sent: bytes) -> None:
    disposition = r.headers["content-disposition"]
    assert "/" not in disposition.replace("attachment; filename=", "").split(";")[0]
    assert ".." not in disposition


async def check_audit_name(c: Corpus, r: httpx.Response, sent: bytes) -> None:
    assert_safe_name(r.json()["data"]["repository"])
    await c.http.delete(f"{AUDIT}/{r.json()['data']['id']}", headers=c.who.headers)


@dataclass(frozen=True)
class Handled:
    id: str
    route: str
    filename: str
    data: bytes
    status: int
    check: Callable[[Corpus, httpx.Response, bytes], object]


TRAVERSAL_NAMES = [
    "../../../../etc/passwd.txt",
    "..\\..\\..\\windows\\system32\\drivers\\etc\\hosts.txt",
    "/var/lib/postgresql/data/pg_hba.txt",
    "....//....//....//etc/shadow.txt",
    "%2e%2e%2f%2e%2e%2fescape.txt",
    "notes.txt/../../../escape.txt",
    "C:\\Windows\\win.ini.txt",
]
JUNK_EXIF_JPEG = H.jpeg_bytes(exif=H.junk_exif())
SMUGGLER = H.jpeg_zip_polyglot(b"SMUGGLED PAYLOAD")

HANDLED = [
    *[
        Handled(
            f"traversal name {name!r}",
            "upload",
            name,
            f"traversal {uuid.uuid4()}".encode(),
            201,
            check_traversal_upload,
        )
        for name in TRAVERSAL_NAMES
    ],
    Handled("jpeg+zip polyglot as .jpg", "upload", "holiday.jpg", SMUGGLER, 201, check_polyglot_upload),
    Handled("jpeg+zip polyglot: the zip goes", "shred", "holiday.jpg", SMUGGLER, 200, check_hidden_payload_dropped),
    Handled(
        "html/js-prefixed pdf: the prefix goes", "shred", "p.pdf", H.html_pdf_polyglot(), 200, check_html_prefix_dropped
    ),
    Handled("60 KB of junk EXIF tags", "extract", "exif.jpg", JUNK_EXIF_JPEG, 200, check_junk_exif_extract),
    Handled("60 KB of junk EXIF tags", "shred", "exif.jpg", JUNK_EXIF_JPEG, 200, check_junk_exif_shred),
    Handled("60 KB of junk EXIF tags", "upload", "exif.jpg", JUNK_EXIF_JPEG, 201, lambda c, r, s: None),
    Handled("traversal name", "shred", "../../../../tmp/evil.jpg", JPEG, 200, check_cleaned_name),
    # (An archive the worker refuses: an acceptable one would start a full scan.)
    Handled("traversal name", "audit", "../../../tmp/evil.zip", H.zip_bytes({"../x": b"x"}), 202, check_audit_name),
]


@pytest.mark.parametrize("case", HANDLED, ids=[f"{c.route}: {c.id}" for c in HANDLED])
async def test_accepted_and_handled_safely(corpus: Corpus, case: Handled) -> None:
    r = await post_file(corpus, case.route, case.filename, case.data)
    assert r.status_code == case.status, r.text
    result = case.check(corpus, r, case.data)
    if asyncio.iscoroutine(result):
        await result


async def test_bare_dotdot_filename_is_refused(corpus: Corpus) -> None:
    r = await post_file(corpus, "upload", "..", b"nothing here")
    assert_clear_error(r, 400, "UPLOAD_002")


async def test_decompression_bomb_upload_is_stored_but_ghost_marks_it_failed(corpus: Corpus) -> None:
    r = await post_file(corpus, "upload", "innocent.png", H.png_bomb())
    assert r.status_code == 201, r.text  # a well-formed PNG: upload stores bytes, it does not decode them
    file_id = r.json()["data"]["file_id"]
    info: dict[str, object] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = (await corpus.http.get(f"/upload/{file_id}/info", headers=corpus.who.headers)).json()["data"]
        if info["processed"]:
            break
        await asyncio.sleep(0.2)
    result = info["processing_result"]
    assert isinstance(result, dict), info
    assert result["status"] == "failed"
    assert "exceeds the limit" in result["error"]


# --- hostile archives: accepted by the API, refused by the worker -----------------------------------


@dataclass(frozen=True)
class Archive:
    id: str
    filename: str
    build: Callable[[str], bytes]  # given a unique marker name
    reason: str  # in the audit's error


HOSTILE_ARCHIVES = [
    Archive("zip-slip ../../", "slip.zip", lambda m: H.zip_bytes({"ok.txt": b"fine", f"../../{m}": b"owned"}), ".."),
    Archive("zip-slip deep", "deep.zip", lambda m: H.zip_bytes({f"a/{'../' * 12}tmp/{m}": b"owned"}), ".."),
    Archive("zip absolute path", "abs.zip", lambda m: H.zip_bytes({f"/tmp/{m}": b"owned"}), "absolute"),
    Archive("zip windows path", "win.zip", lambda m: H.zip_bytes({f"C:\\temp\\{m}": b"owned"}), "absolute"),
    Archive("tar.gz slip", "slip.tar.gz", lambda m: H.tar_bytes([H.tar_file(f"x/../../{m}", b"owned")], gz=True), ".."),
    Archive(
        "tar symlink out, then a file through it",
        "link.tar",
        lambda m: H.tar_bytes([H.tar_symlink("escape", "/tmp"), H.tar_file(f"escape/{m}", b"owned")], gz=False),
        "link",
    ),
    Archive(
        "tar hardlink to /etc/passwd",
        "hard.tgz",
        lambda m: H.tar_bytes([(_hardlink(m, "/etc/passwd"), None)], gz=True),
        "link",
    ),
    Archive("zip bomb (64 MiB of zeros)", "bomb.zip", lambda m: H.stream_zeros_zip(m, 64), "zip bomb"),
    Archive("tar.gz bomb (64 MiB of zeros)", "bomb.tar.gz", lambda m: H.stream_zeros_tar_gz(m, 64), "zip bomb"),
    Archive("garbage named .zip", "fake.zip", lambda m: b"\x00garbage" * 100, "corrupt"),
    Archive("control characters in a name", "ctl.zip", lambda m: H.zip_bytes({f"a\x1b[31m{m}": b"x"}), "control"),
]


def _hardlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    return info


def escaped_files(name: str) -> list[Path]:
    """Wherever an escaping entry could have landed: the temp folder (searched), the working
    directory, the filesystem root, the home folder."""
    found = [p for p in (Path.cwd() / name, Path("/") / name, Path.home() / name, Path("/tmp") / name) if p.exists()]
    found += list(Path(tempfile.gettempdir()).rglob(name))
    return found


async def wait_final(c: Corpus, audit_id: str, timeout: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    audit: dict[str, object] = {}
    while time.monotonic() < deadline:
        audit = (await c.http.get(f"{AUDIT}/{audit_id}", headers=c.who.headers)).json()["data"]
        if audit["status"] in ("completed", "failed", "cancelled"):
            return audit
        await asyncio.sleep(0.3)
    raise AssertionError(f"audit stayed {audit.get('status')}")


@pytest.mark.parametrize("case", HOSTILE_ARCHIVES, ids=[a.id for a in HOSTILE_ARCHIVES])
async def test_hostile_archive_fails_the_audit_and_writes_nothing_outside(corpus: Corpus, case: Archive) -> None:
    name = H.marker()
    r = await post_file(corpus, "audit", case.filename, case.build(name))
    assert r.status_code == 202, r.text
    audit = await wait_final(corpus, r.json()["data"]["id"])
    assert audit["status"] == "failed", audit
    assert isinstance(audit["error"], str)
    assert case.reason in audit["error"], audit["error"]
    assert escaped_files(name) == []
    report = await corpus.http.get(f"{AUDIT}/{audit['id']}/report", headers=corpus.who.headers)
    assert report.status_code == 409


# --- oversized headers ------------------------------------------------------------------------------

HEADER_ROUTES = ["/api/v1/auth/me", "/upload/", "/api/v1/trapdoor/sonic/jobs", "/api/v1/audits", "/health/ready"]


@pytest.mark.parametrize("size", [8 * 1024 + 1, 16 * 1024, 64 * 1024])
async def test_headers_of_8kb_and_more_are_answered_without_error(corpus: Corpus, size: int) -> None:
    for path in HEADER_ROUTES:
        r = await corpus.http.get(path, headers={**corpus.who.headers, "X-Padding": "p" * size})
        assert r.status_code < 500, (path, r.status_code)
        assert r.status_code in (200, 400, 431), (path, r.status_code)
    many = {f"X-Padding-{i}": "q" * 64 for i in range(500)}
    r = await corpus.http.get("/api/v1/auth/me", headers={**corpus.who.headers, **many})
    assert r.status_code in (200, 400, 431)
    r = await corpus.http.get("/api/v1/auth/me", headers={"Authorization": "Bearer " + "t" * size})
    if size < MAX_HEADER_BYTES:
        assert_clear_error(r, 401, "UNAUTHORIZED")
    else:
        assert_clear_error(r, 431, "HEADERS_TOO_LARGE")


async def test_a_one_megabyte_header_is_refused(corpus: Corpus) -> None:
    for path in HEADER_ROUTES:
        r = await corpus.http.get(path, headers={**corpus.who.headers, "X-Padding": "p" * (1 << 20)})
        assert_clear_error(r, 431, "HEADERS_TOO_LARGE")


# --- afterwards -------------------------------------------------------------------------------------


async def test_platform_is_healthy_after_the_corpus(corpus: Corpus) -> None:
    r = await corpus.http.get("/health/ready")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "ready"
    me = await corpus.http.get("/api/v1/auth/me", headers=corpus.who.headers)
    assert me.status_code == 200


async def test_memory_stayed_bounded_over_the_corpus(corpus: Corpus) -> None:
    growth = rss_mb() - corpus.rss_before
    print(json.dumps({"rss_before_mb": round(corpus.rss_before), "rss_growth_mb": round(growth)}))
    assert growth < MAX_RSS_GROWTH_MB, f"RSS grew by {growth:.0f} MB over the corpus"
