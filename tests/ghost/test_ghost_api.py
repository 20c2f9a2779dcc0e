"""Ghost Codex over HTTP, and the upload -> ghost -> upload metadata path over NATS."""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
import uuid
from pathlib import Path

import asyncpg
import httpx
from PIL import Image

from bench.ghost.corpus import CAMERA_MAKE, LATITUDE, LONGITUDE, SERIAL, make_jpeg, make_pdf
from tests.accounts import Account
from tests.infra import TestInfra

EXTRACT = "/api/v1/trapdoor/ghost/extract"
SHRED = "/api/v1/trapdoor/ghost/shred"


def sample_jpeg(tmp_path: Path) -> bytes:
    return make_jpeg(tmp_path / "photo.jpg").read_bytes()


def leftovers() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith(("forge-ghost-", "forge-upload-"))}


async def test_extract_reports_exif_and_gps(client: httpx.AsyncClient, user: Account, tmp_path: Path) -> None:
    before = leftovers()
    r = await client.post(EXTRACT, headers=user.headers, files={"file": ("holiday.jpg", sample_jpeg(tmp_path))})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["file"]["mime"] == "image/jpeg"
    assert data["file"]["name"] == "holiday.jpg"
    assert len(data["file"]["sha256"]) == 64
    assert data["metadata"]["EXIF"]["Make"] == CAMERA_MAKE
    assert abs(data["metadata"]["GPS"]["latitude"] - LATITUDE) < 1e-5
    assert abs(data["metadata"]["GPS"]["longitude"] - LONGITUDE) < 1e-5
    assert data["metadata"]["EXIF"]["MakerNote"].startswith("<binary")
    assert leftovers() <= before


async def test_shred_returns_a_clean_copy(client: httpx.AsyncClient, user: Account, tmp_path: Path) -> None:
    original = sample_jpeg(tmp_path)
    r = await client.post(SHRED, headers=user.headers, files={"file": ("holiday.photo.jpg", original)})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    assert 'filename="holiday.photo_cleaned.jpg"' in r.headers["content-disposition"]
    assert int(r.headers["x-ghost-removed"]) > 5
    cleaned = r.content
    assert SERIAL.encode() not in cleaned
    assert CAMERA_MAKE.encode() not in cleaned
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.size == Image.open(io.BytesIO(original)).size
    again = await client.post(EXTRACT, headers=user.headers, files={"file": ("c.jpg", cleaned)})
    assert "GPS" not in again.json()["data"]["metadata"]

    report = await client.post(f"{SHRED}?report=true", headers=user.headers, files={"file": ("x.jpg", original)})
    assert report.status_code == 200
    body = report.json()["data"]
    assert body["filename"] == "x_cleaned.jpg"
    assert any("GPS" in item for item in body["removed"])
    assert body["bytes_after"] < body["bytes_before"]


async def test_pdf_shred(client: httpx.AsyncClient, user: Account, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "doc.pdf", make_jpeg(tmp_path / "img.jpg")).read_bytes()
    r = await client.post(SHRED, headers=user.headers, files={"file": ("report.pdf", pdf)})
    assert r.status_code == 200
    assert r.content.startswith(b"%PDF")
    assert b"Alice Planted" not in r.content


async def test_bad_inputs(client: httpx.AsyncClient, user: Account, tmp_path: Path) -> None:
    before = leftovers()
    r = await client.post(EXTRACT, headers=user.headers, files={"file": ("notes.txt", b"just some text")})
    assert r.status_code == 415
    assert r.json()["error_code"] == "GHOST_415"
    assert "jpeg" in r.json()["error"]
    jpeg = sample_jpeg(tmp_path)
    r = await client.post(SHRED, headers=user.headers, files={"file": ("broken.jpg", jpeg[: len(jpeg) // 3])})
    assert r.status_code == 422
    assert r.json()["error_code"] == "GHOST_422"
    r = await client.post(SHRED, headers=user.headers, files={"file": ("empty.jpg", b"")})
    assert r.status_code == 400
    r = await client.post(EXTRACT, headers=user.headers, content=b"not multipart")
    assert r.status_code == 400
    big = b"\xff\xd8\xff" + b"\x00" * (9 * 1024 * 1024)
    r = await client.post(EXTRACT, headers=user.headers, files={"file": ("big.jpg", big)})
    assert r.status_code == 413
    out = io.BytesIO()
    Image.new("1", (30000, 30000)).save(out, format="PNG")  # a decompression bomb: tiny file, 900 Mpx
    r = await client.post(EXTRACT, headers=user.headers, files={"file": ("bomb.png", out.getvalue())})
    assert r.status_code == 413
    for path in (EXTRACT, SHRED):
        assert (await client.post(path, files={"file": ("a.jpg", jpeg)})).status_code == 401
    assert leftovers() <= before


async def test_uploaded_file_gets_its_metadata_from_ghost(
    client: httpx.AsyncClient, user: Account, infra: TestInfra, tmp_path: Path
) -> None:
    jpeg = sample_jpeg(tmp_path)
    stored = (await client.post("/upload/", headers=user.headers, files={"file": ("trip.jpg", jpeg)})).json()["data"]
    info: dict[str, object] = {}
    for _ in range(100):
        info = (await client.get(f"/upload/{stored['file_id']}/info", headers=user.headers)).json()["data"]
        if info["processed"]:
            break
        await asyncio.sleep(0.1)
    assert info["processed"] is True
    result = info["processing_result"]
    assert isinstance(result, dict)
    assert result["status"] == "extracted"
    assert abs(result["metadata"]["metadata"]["GPS"]["latitude"] - LATITUDE) < 1e-5

    # A file that passes upload's checks but is corrupt: reported as failed and dead-lettered.
    broken = jpeg[:600] + uuid.uuid4().bytes
    bad = (await client.post("/upload/", headers=user.headers, files={"file": ("bad.jpg", broken)})).json()["data"]
    for _ in range(100):
        info = (await client.get(f"/upload/{bad['file_id']}/info", headers=user.headers)).json()["data"]
        if info["processed"]:
            break
        await asyncio.sleep(0.1)
    assert info["processing_result"]["status"] == "failed"  # type: ignore[index]
    conn = await asyncpg.connect(infra.database_url)
    try:
        letters = await conn.fetch("SELECT consumer, error FROM ghost.dead_letters")
    finally:
        await conn.close()
    assert any(letter["consumer"] == "ghost-extract" for letter in letters)
