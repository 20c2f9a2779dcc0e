"""The Exam Hub upload API end to end: real HTTP, PostgreSQL, NATS JetStream and S3 (moto)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import pytest
from nats.js.api import DeliverPolicy

from libs.contracts import upload
from libs.events import NatsConnection
from libs.storage import S3ObjectStore
from tests.accounts import Account
from tests.infra import TestInfra
from tests.upload.files import ELF_HEADER, docx_bytes, jpeg_bytes, pdf_bytes, png_bytes


async def put(
    client: httpx.AsyncClient, who: Account, name: str, data: bytes, mime: str = "application/octet-stream"
) -> httpx.Response:
    return await client.post("/upload/", headers=who.headers, files={"file": (name, data, mime)})


def upload_store(infra: TestInfra) -> S3ObjectStore:
    return S3ObjectStore(
        infra.s3_endpoint, access_key="testing", secret_key="testing", bucket="forge-test-upload", secure=False
    )


async def test_seed_curl_examples(client: httpx.AsyncClient, user: Account) -> None:
    data = pdf_bytes("seed example")
    r = await put(client, user, "document.pdf", data, "application/pdf")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["success"] is True
    assert body["message"] == "File uploaded successfully"
    stored = body["data"]
    assert set(stored) == {
        "file_id",
        "original_filename",
        "stored_filename",
        "size",
        "size_mb",
        "content_type",
        "file_hash",
        "uploaded_at",
        "is_duplicate",
        "metadata",
    }
    assert stored["original_filename"] == "document.pdf"
    assert stored["stored_filename"] != "document.pdf"
    assert stored["size"] == len(data)
    assert stored["file_hash"] == hashlib.sha256(data).hexdigest()
    assert stored["content_type"] == "application/pdf"
    assert stored["metadata"] == {"is_image": False, "is_pdf": True, "user_scoped": True, "database_integrated": True}

    listing = await client.get("/upload/?limit=10", headers=user.headers)
    assert listing.status_code == 200
    page = listing.json()["data"]
    assert page["user_id"] == user.id
    assert page["user_scoped"] is True
    assert page["pagination"]["limit"] == 10
    [item] = [f for f in page["files"] if f["file_id"] == stored["file_id"]]
    assert item["filesystem_exists"] is True
    assert item["user_owned"] is True
    assert item["upload_status"] == "completed"

    download = await client.get(f"/upload/{stored['file_id']}/download", headers=user.headers)
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["content-type"].startswith("application/pdf")
    assert download.headers["x-file-id"] == stored["file_id"]
    assert download.headers["x-file-size"] == str(len(data))
    assert 'filename="document.pdf"' in download.headers["content-disposition"]

    info = await client.get(f"/upload/{stored['file_id']}/info", headers=user.headers)
    assert info.status_code == 200
    details = info.json()["data"]
    assert details["owner_id"] == user.id
    assert details["access_validated"] is True
    assert details["database_integrated"] is True
    assert details["filesystem_exists"] is True


async def test_rejected_files_are_clear_and_store_nothing(client: httpx.AsyncClient, user: Account) -> None:
    before = (await client.get("/upload/?limit=1000", headers=user.headers)).json()["data"]["pagination"]["total_count"]
    cases = [
        ("empty.txt", b"", 400, "UPLOAD_003"),
        ("program.pdf", ELF_HEADER, 400, "UPLOAD_004"),
        ("script.exe", b"MZ" + b"\x00" * 200, 400, "UPLOAD_002"),
        ("image.png", pdf_bytes(), 400, "UPLOAD_004"),
        ("noext", b"hello", 400, "UPLOAD_002"),
        ("run.txt", b"#!/bin/sh\nrm -rf /\n", 400, "UPLOAD_004"),
    ]
    for name, data, status, code in cases:
        r = await put(client, user, name, data)
        assert r.status_code == status, (name, r.text)
        assert r.json()["error_code"] == code, name
        assert r.json()["success"] is False
    # Not multipart at all, or no `file` field.
    r = await client.post(
        "/upload/",
        headers=user.headers,
        content=b"raw",
    )
    assert r.status_code == 400
    r = await client.post("/upload/", headers=user.headers, data={"other": "x"}, files={"notfile": ("a.txt", b"x")})
    assert r.status_code == 400
    r = await client.post(
        "/upload/",
        headers={**user.headers, "content-type": "multipart/form-data; boundary=xyz"},
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nunterminated',
    )
    assert r.status_code == 400
    after = (await client.get("/upload/?limit=1000", headers=user.headers)).json()["data"]["pagination"]["total_count"]
    assert after == before


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
        ("/absolute/path/notes.txt", "notes.txt"),
        ("con.txt", "_con.txt"),
        ("ctrl\x00\x1b[31mred\x07.txt", "ctrl[31mred.txt"),
        ("...hidden.txt", "hidden.txt"),
        ("cafe\u0301.txt", "caf\u00e9.txt"),
        ('qu"ote<s>|.txt', "qu_ote_s__.txt"),
    ],
)
async def test_hostile_filenames_are_sanitised(
    client: httpx.AsyncClient, user: Account, raw: str, expected: str
) -> None:
    # A hand-built body, so the server sees the raw name (httpx would percent-encode control characters).
    boundary = "hostile"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{raw.replace(chr(34), chr(92) + chr(34))}"\r\n'
        f"Content-Type: text/plain\r\n\r\ncontent of file {uuid.uuid4()}\r\n--{boundary}--\r\n"
    ).encode()
    r = await client.post(
        "/upload/", headers={**user.headers, "content-type": f"multipart/form-data; boundary={boundary}"}, content=body
    )
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["original_filename"] == expected
    assert "/" not in data["stored_filename"]
    assert expected not in data["stored_filename"]


async def test_overlong_name_is_truncated_keeping_extension(client: httpx.AsyncClient, user: Account) -> None:
    r = await put(client, user, "é" * 400 + ".txt", b"long name")
    assert r.status_code == 201
    name = r.json()["data"]["original_filename"]
    assert name.endswith(".txt")
    assert len(name.encode()) <= 255


async def test_size_limit_is_enforced_while_streaming(client: httpx.AsyncClient, user: Account) -> None:
    limit = 50 * 1024 * 1024
    boundary = "limitboundary"

    async def chunked_body() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        block = b"a" * (1 << 20)
        for _ in range(52):
            yield block
        yield f"\r\n--{boundary}--\r\n".encode()

    # No Content-Length (chunked transfer): refused once the file part passes the limit.
    r = await client.post(
        "/upload/",
        headers={**user.headers, "content-type": f"multipart/form-data; boundary={boundary}"},
        content=chunked_body(),
    )
    assert r.status_code == 413
    assert r.json()["error_code"] == "UPLOAD_413"
    # A declared Content-Length over the limit is refused before the body is read (raw socket:
    # an HTTP client library would refuse to send a body shorter than its declared length).
    host, port = str(client.base_url.host), int(client.base_url.port or 80)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"POST /upload/ HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {user.access_token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {limit * 2}\r\n\r\n"
        ).encode()
        + b"x" * 1024
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    assert b" 413 " in status_line
    # Exactly at the limit is fine.
    exact = await put(client, user, "exact.txt", b"b" * limit, "text/plain")
    assert exact.status_code == 201, exact.text
    assert exact.json()["data"]["size"] == limit


async def test_fifty_concurrent_uploads_of_the_same_bytes(
    client: httpx.AsyncClient, user: Account, infra: TestInfra
) -> None:
    data = png_bytes((300, 200), "green") + os.urandom(16)  # trailing bytes keep the hash unique to this test
    digest = hashlib.sha256(data).hexdigest()
    results = await asyncio.gather(*(put(client, user, f"same-{i}.png", data, "image/png") for i in range(50)))
    assert [r.status_code for r in results] == [201] * 50, [r.text for r in results if r.status_code != 201][:3]
    flags = [r.json()["data"]["is_duplicate"] for r in results]
    assert flags.count(False) == 1
    objects = await upload_store(infra).list("blobs/")
    assert [o.key for o in objects if o.key.endswith(digest)] == [f"blobs/{digest[:2]}/{digest}"]
    assert not list(await upload_store(infra).list("incoming/"))
    ids = {r.json()["data"]["file_id"] for r in results}
    assert len(ids) == 50


async def test_delete_is_soft_and_removes_the_object_with_the_last_reference(
    client: httpx.AsyncClient, user: Account, other_user: Account, infra: TestInfra
) -> None:
    data = b"shared bytes " + os.urandom(8).hex().encode()
    digest = hashlib.sha256(data).hexdigest()
    first = (await put(client, user, "a.txt", data)).json()["data"]
    second = (await put(client, other_user, "b.txt", data)).json()["data"]
    assert second["is_duplicate"] is True
    store = upload_store(infra)
    key = f"blobs/{digest[:2]}/{digest}"

    r = await client.delete(f"/upload/{first['file_id']}", headers=user.headers)
    assert r.status_code == 200
    assert r.json()["message"] == "File deleted successfully"
    assert r.json()["data"] == {
        "file_id": first["file_id"],
        "original_filename": "a.txt",
        "filesystem_deleted": False,
        "database_updated": True,
    }
    assert await store.exists(key)  # the other user's upload still refers to it
    assert (await client.delete(f"/upload/{first['file_id']}", headers=user.headers)).status_code == 404
    assert (await client.get(f"/upload/{first['file_id']}/info", headers=user.headers)).status_code == 404

    r = await client.delete(f"/upload/{second['file_id']}", headers=other_user.headers)
    assert r.json()["data"]["filesystem_deleted"] is True
    assert not await store.exists(key)
    assert (await client.get(f"/upload/{second['file_id']}/download", headers=other_user.headers)).status_code == 404


async def test_other_users_files_answer_403_and_unknown_ids_404(
    client: httpx.AsyncClient, user: Account, other_user: Account, admin: Account
) -> None:
    mine = (await put(client, user, "private.txt", b"my secret notes")).json()["data"]
    for method, path in (
        ("GET", f"/upload/{mine['file_id']}/info"),
        ("GET", f"/upload/{mine['file_id']}/download"),
        ("DELETE", f"/upload/{mine['file_id']}"),
    ):
        r = await client.request(method, path, headers=other_user.headers)
        assert r.status_code == 403, path
        assert "my secret notes" not in r.text
        assert mine["original_filename"] not in r.text
        missing = await client.request(method, path.replace(mine["file_id"], str(uuid.uuid4())), headers=user.headers)
        assert missing.status_code == 404
        bogus = await client.request(method, path.replace(mine["file_id"], "not-a-uuid"), headers=user.headers)
        assert bogus.status_code == 404
        assert (await client.request(method, path)).status_code == 401
    theirs = (await client.get("/upload/?limit=1000", headers=other_user.headers)).json()["data"]["files"]
    assert mine["file_id"] not in {f["file_id"] for f in theirs}
    # Admins see everything.
    assert (await client.get(f"/upload/{mine['file_id']}/info", headers=admin.headers)).status_code == 200


async def test_download_headers_ranges_and_etag(client: httpx.AsyncClient, user: Account) -> None:
    data = bytes(range(256)) * 40 + os.urandom(4)
    name = "résumé 2025 — final.txt"
    stored = (await put(client, user, name, b"plain text " + data.hex().encode())).json()["data"]
    url = f"/upload/{stored['file_id']}/download"
    full = await client.get(url, headers=user.headers)
    content = full.content
    disposition = full.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition
    assert 'filename="' in disposition
    assert full.headers["etag"] == f'"{stored["file_hash"]}"'
    assert full.headers["accept-ranges"] == "bytes"

    part = await client.get(url, headers={**user.headers, "Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(content)}"
    tail = await client.get(url, headers={**user.headers, "Range": "bytes=-5"})
    assert tail.content == content[-5:]
    resume = await client.get(url, headers={**user.headers, "Range": f"bytes={len(content) - 3}-"})
    assert resume.content == content[-3:]
    bad = await client.get(url, headers={**user.headers, "Range": f"bytes={len(content) + 10}-"})
    assert bad.status_code == 416
    assert bad.headers["content-range"] == f"bytes */{len(content)}"
    not_modified = await client.get(url, headers={**user.headers, "If-None-Match": full.headers["etag"]})
    assert not_modified.status_code == 304


async def test_filesystem_exists_is_checked_not_assumed(
    client: httpx.AsyncClient, user: Account, infra: TestInfra
) -> None:
    data = b"will vanish " + os.urandom(8).hex().encode()
    stored = (await put(client, user, "vanish.txt", data)).json()["data"]
    digest = stored["file_hash"]
    await upload_store(infra).delete(f"blobs/{digest[:2]}/{digest}")
    info = (await client.get(f"/upload/{stored['file_id']}/info", headers=user.headers)).json()["data"]
    assert info["filesystem_exists"] is False
    r = await client.get(f"/upload/{stored['file_id']}/download", headers=user.headers)
    assert r.status_code == 404
    assert r.json()["error_code"] == "UPLOAD_410"


async def test_pagination_newest_first(client: httpx.AsyncClient) -> None:
    from tests.accounts import register_and_login

    who = await register_and_login(client)
    ids = []
    for i in range(5):
        ids.append((await put(client, who, f"n{i}.txt", f"file number {i}".encode())).json()["data"]["file_id"])
    page = (await client.get("/upload/?skip=1&limit=2", headers=who.headers)).json()["data"]
    assert [f["file_id"] for f in page["files"]] == [ids[3], ids[2]]
    assert page["pagination"] == {"count": 2, "total_count": 5, "skip": 1, "limit": 2, "has_more": True}
    last = (await client.get("/upload/?skip=4&limit=2", headers=who.headers)).json()["data"]["pagination"]
    assert last["has_more"] is False
    for query in ("limit=1001", "limit=0", "skip=-1", "limit=abc"):
        r = await client.get(f"/upload/?{query}", headers=who.headers)
        assert r.status_code in (400, 422), query
        assert r.json()["success"] is False


async def test_admin_listing_and_stats(client: httpx.AsyncClient, user: Account, admin: Account) -> None:
    from tests.accounts import register_and_login

    for path in ("/upload/admin/files", "/upload/admin/stats"):
        r = await client.get(path, headers=user.headers)
        assert r.status_code == 403
        assert r.json()["success"] is False
    before = (await client.get("/upload/admin/stats", headers=admin.headers)).json()["data"]
    who = await register_and_login(client)
    kept = await put(client, who, "kept.png", png_bytes((10, 10), "white"), "image/png")
    gone = await put(client, who, "gone.jpg", jpeg_bytes(), "image/jpeg")
    await client.delete(f"/upload/{gone.json()['data']['file_id']}", headers=who.headers)
    after = (await client.get("/upload/admin/stats", headers=admin.headers)).json()["data"]
    size = kept.json()["data"]["size"]
    assert after["total_files"] == before["total_files"] + 1
    assert after["total_size_bytes"] == before["total_size_bytes"] + size
    assert after["active_users"] == before["active_users"] + 1
    assert after["file_types"].get("image/png", 0) == before["file_types"].get("image/png", 0) + 1
    assert after["file_types"].get("image/jpeg", 0) == before["file_types"].get("image/jpeg", 0)
    assert after["admin_access"] is True
    assert after["generated_by"] == "admin@forge.test"
    assert set(after) == {
        "total_files",
        "total_size_bytes",
        "total_size_mb",
        "active_users",
        "file_types",
        "average_file_size_mb",
        "admin_access",
        "generated_by",
    }
    listing = (await client.get("/upload/admin/files?limit=1000", headers=admin.headers)).json()["data"]
    assert listing["admin_access"] is True
    assert listing["requested_by"] == "admin@forge.test"
    owners = {f["owner_id"] for f in listing["files"]}
    assert who.id in owners
    assert all(f["admin_visible"] for f in listing["files"])


async def test_office_and_image_types_are_detected(client: httpx.AsyncClient, user: Account) -> None:
    r = await put(client, user, "essay.docx", docx_bytes())
    assert r.status_code == 201, r.text
    assert r.json()["data"]["content_type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    r = await put(client, user, "photo.jpeg", jpeg_bytes(), "text/plain")  # the client's type is ignored
    assert r.json()["data"]["content_type"] == "image/jpeg"
    assert r.json()["data"]["metadata"]["is_image"] is True


async def test_events_and_ghost_metadata_reach_the_file(
    client: httpx.AsyncClient, user: Account, infra: TestInfra
) -> None:
    stored = (await put(client, user, "event.txt", b"event payload " + os.urandom(8).hex().encode())).json()["data"]
    nats = NatsConnection(infra.nats.url, "test-upload-events")
    await nats.connect(timeout=5)
    try:
        sub = await nats.js.subscribe(
            upload.FILE_STORED, stream=upload.STREAM.name, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        event = None

        async def find() -> None:
            nonlocal event
            async for msg in sub.messages:
                decoded = msgspec.json.decode(msg.data)
                if decoded["data"]["file_id"] == stored["file_id"]:
                    event = decoded
                    assert msg.headers
                    assert msg.headers.get("Nats-Msg-Id") == decoded["id"]
                    return

        await asyncio.wait_for(find(), timeout=10)
        assert event is not None
        assert event["type"] == "file.stored"
        assert event["actor"] == user.id
        assert event["data"]["sha256"] == stored["file_hash"]
        await sub.unsubscribe()

        # Ghost consumes upload.file.stored and answers with ghost.metadata.extracted, which the
        # upload service stores on the file (plain text is not a format ghost extracts from).
        info: dict[str, Any] = {}
        for _ in range(100):
            info = (await client.get(f"/upload/{stored['file_id']}/info", headers=user.headers)).json()["data"]
            if info["processed"]:
                break
            await asyncio.sleep(0.1)
        assert info["processed"] is True
        assert info["processing_result"]["status"] == "unsupported"
        assert info["processing_result"]["metadata"] == {"detected": "text/plain"}
    finally:
        await nats.close()


async def test_health(client: httpx.AsyncClient) -> None:
    r = await client.get("/upload/health")
    assert r.status_code == 200
    assert r.json()["data"] == {
        "service": "upload",
        "status": "healthy",
        "checks": {
            "upload_folder_exists": True,
            "upload_folder_writable": True,
            "database_integration": True,
            "security_enabled": True,
        },
    }
