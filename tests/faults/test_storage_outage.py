"""Object storage fails under the upload service: moto in its own process, first frozen
(SIGSTOP: connections are accepted and never answered), then killed (connections refused)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from forge.localinfra import free_port, wait_for_port
from tests.accounts import login, register_and_login
from tests.faults.support import assert_envelope, forge_env, forge_processes, jpeg_with_exif, pg
from tests.infra import running_infra

FAST = 10.0  # seconds: an outage must be answered well within this, not hang the request


def start_moto(port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_for_port(port, timeout=30)
    return proc


async def timed(request: asyncio.Future[httpx.Response] | asyncio.Task[httpx.Response]) -> httpx.Response:
    began = time.monotonic()
    response = await request
    elapsed = time.monotonic() - began
    assert elapsed < FAST, f"answered after {elapsed:.1f}s: {response.status_code}"
    return response


async def check_stalled_storage(
    client: httpx.AsyncClient,
    moto: subprocess.Popen[bytes],
    headers: dict[str, str],
    stored: list[str],
    email: str,
    password: str,
) -> None:
    """A frozen store: requests that need it answer 503 within its timeout (no retry storm), and
    they do not starve the rest of the process (a login, which hashes in a thread, still answers)."""
    moto.send_signal(signal.SIGSTOP)
    try:
        began = time.monotonic()
        downloads = [
            asyncio.ensure_future(client.get(f"/upload/{stored[i % 2]}/download", headers=headers)) for i in range(10)
        ]
        try:
            await asyncio.sleep(1.0)
            login_began = time.monotonic()
            await login(client, email, password)
            assert time.monotonic() - login_began < 5.0, "storage calls starved the process's other work"
        finally:
            answers = await asyncio.gather(*downloads, return_exceptions=True)
        for response in answers:
            assert isinstance(response, httpx.Response), repr(response)
            assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
        assert time.monotonic() - began < 20.0, "a frozen store held requests far beyond its timeout"
    finally:
        moto.send_signal(signal.SIGCONT)
    # The store answers again: so does the service, without a restart.
    r = await client.get(f"/upload/{stored[0]}/download", headers=headers)
    assert r.status_code == 200, r.text
    assert (await client.get("/upload/health")).status_code == 200


async def test_unreachable_storage_answers_503_and_leaves_no_rows(tmp_path: Path) -> None:
    async with running_infra() as infra, forge_processes(tmp_path) as spawn:
        moto_port = free_port()
        moto = await asyncio.to_thread(start_moto, moto_port, tmp_path / "moto.log")
        try:
            env = forge_env(infra, S3_ENDPOINT=f"http://127.0.0.1:{moto_port}")
            service = await spawn(["serve", "--services", "auth,upload"], env, name="upload")
            async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
                user = await register_and_login(client)
                stored = []
                for i in range(2):
                    r = await client.post(
                        "/upload/", headers=user.headers, files={"file": (f"kept-{i}.jpg", jpeg_with_exif(i))}
                    )
                    assert r.status_code == 201, r.text
                    stored.append(r.json()["data"]["file_id"])
                assert (await client.get(f"/upload/{stored[0]}/download", headers=user.headers)).status_code == 200
                assert (await client.get("/upload/health")).status_code == 200

                await check_stalled_storage(client, moto, user.headers, stored, user.email, user.password)

                async with pg(infra.database_url) as conn:
                    before = await conn.fetchrow(
                        "SELECT (SELECT count(*) FROM upload.uploaded_files) AS files,"
                        " (SELECT count(*) FROM upload.blobs) AS blobs, (SELECT count(*) FROM upload.outbox) AS events"
                    )

                moto.kill()
                await asyncio.to_thread(moto.wait, 10)

                # Uploads: 503 with the envelope, fast, and nothing written to the database.
                for i in range(3):
                    r = await timed(
                        asyncio.ensure_future(
                            client.post(
                                "/upload/",
                                headers=user.headers,
                                files={"file": (f"lost-{i}.jpg", jpeg_with_exif(10 + i))},
                            )
                        )
                    )
                    assert_envelope(r, 503, "SERVICE_UNAVAILABLE")
                    assert r.headers.get("retry-after")

                # Existing files: the row is there but the bytes cannot be fetched: 503 (retry), not 404
                # ("missing" would tell the client the file is gone) and not 500.
                r = await timed(
                    asyncio.ensure_future(client.get(f"/upload/{stored[0]}/download", headers=user.headers))
                )
                assert_envelope(r, 503, "SERVICE_UNAVAILABLE")
                r = await timed(
                    asyncio.ensure_future(
                        client.get(f"/upload/{stored[1]}/download", headers={**user.headers, "Range": "bytes=0-9"})
                    )
                )
                assert_envelope(r, 503, "SERVICE_UNAVAILABLE")

                # Health: the service's own health page and the platform readiness both say so.
                r = await timed(asyncio.ensure_future(client.get("/upload/health")))
                assert r.status_code == 503, r.text
                health = r.json()["data"]
                assert health["status"] == "unhealthy"
                assert health["checks"]["upload_folder_exists"] is False
                assert health["checks"]["database_integration"] is True
                r = await timed(asyncio.ensure_future(client.get("/health/ready")))
                assert r.status_code == 503
                checks = r.json()["data"]["checks"]
                assert checks["upload.storage"] != "ok"
                assert checks["upload.database"] == "ok"

                # A missing file is still a 404 (the database answers that without storage).
                r = await client.get("/upload/00000000-0000-4000-8000-000000000000/download", headers=user.headers)
                assert_envelope(r, 404, "UPLOAD_404")

                async with pg(infra.database_url) as conn:
                    after = await conn.fetchrow(
                        "SELECT (SELECT count(*) FROM upload.uploaded_files) AS files,"
                        " (SELECT count(*) FROM upload.blobs) AS blobs, (SELECT count(*) FROM upload.outbox) AS events"
                    )
                assert before is not None
                assert after is not None
                assert dict(after) == dict(before), "a failed upload left rows behind"
            assert service.alive(), service.log_tail()
        finally:
            if moto.poll() is None:
                moto.kill()
                await asyncio.to_thread(moto.wait, 10)


async def test_many_streamed_uploads_at_once_do_not_deadlock(tmp_path: Path) -> None:
    """Each streamed upload holds a storage thread while its chunks are read from a file in
    another thread: with both in one shared pool, as many uploads as that pool has threads at once
    would wait on each other forever (a sonic or audit API under a burst of uploads)."""
    from libs.storage.files import upload_file
    from libs.storage.s3 import S3ObjectStore

    async with running_infra() as infra:
        store = S3ObjectStore(
            infra.s3_endpoint, access_key="testing", secret_key="testing", bucket="faults-burst", secure=False
        )
        await store.ensure_ready()
        source = tmp_path / "payload.bin"
        source.write_bytes(b"forge" * 40_000)
        burst = 40  # more than any default thread pool (min(32, cpus + 4))
        began = time.monotonic()
        await asyncio.wait_for(
            asyncio.gather(*(upload_file(store, f"burst/{i}", source) for i in range(burst))), timeout=60
        )
        assert time.monotonic() - began < 60
        assert len(await store.list("burst/")) == burst
