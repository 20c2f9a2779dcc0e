"""NATS stops and comes back (same port, same JetStream store) while uploads keep coming.

Upload's HTTP path needs only the database and object storage: its events wait in the outbox.
What truly needs NATS (an API token's introspection, fetching auth's signing keys) answers 503
quickly. Once NATS is back, without restarting anything, every stored file's event reaches ghost
and ghost's metadata lands on the file."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import nats
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from libs.events import NatsConnection
from libs.events.connection import NATS_UNAVAILABLE_ERRORS
from libs.identity import Authenticator
from libs.identity.authenticator import IdentityUnavailable
from tests.accounts import Account, register_and_login
from tests.faults.support import (
    assert_envelope,
    eventually,
    forge_env,
    forge_processes,
    jpeg_with_exif,
    pg,
)
from tests.infra import running_infra

NATS_UNAVAILABLE = NATS_UNAVAILABLE_ERRORS
FAST = 5.0  # seconds within which a request that needs NATS must give up while NATS is down


@dataclass
class Upload:
    began: float
    status: int
    file_id: str | None
    error_code: str | None


async def keep_uploading(client: httpx.AsyncClient, user: Account, done: list[Upload], stop: asyncio.Event) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        began = time.monotonic()
        r = await client.post("/upload/", headers=user.headers, files={"file": (f"photo-{i}.jpg", jpeg_with_exif(i))})
        body = r.json()
        file_id = body["data"]["file_id"] if r.status_code == 201 else None
        done.append(Upload(began, r.status_code, file_id, None if r.status_code == 201 else body.get("error_code")))
        await asyncio.sleep(0.25)


async def timed_get(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = await client.get(url, headers=headers)
    return response, time.monotonic() - began


async def test_nats_restart_while_uploading_loses_no_event(tmp_path: Path) -> None:
    async with running_infra() as infra, forge_processes(tmp_path) as spawn:
        env = forge_env(infra, API_TOKEN_CACHE_SECONDS="1")
        main = await spawn(["serve", "--services", "auth,upload,ghost"], env, name="main")
        # A second upload replica that has not verified any JWT yet: it holds no signing keys.
        cold = await spawn(["serve", "--services", "upload"], env, name="cold")
        async with httpx.AsyncClient(base_url=main.url, timeout=60) as client:
            user = await register_and_login(client)
            r = await client.post("/api/v1/tokens", headers=user.headers, json={"name": "fault-test"})
            assert r.status_code == 201, r.text
            api_token = {"X-API-Key": r.json()["data"]["token"]}
            assert (await client.get("/upload/", headers=api_token)).status_code == 200

            uploads: list[Upload] = []
            stop = asyncio.Event()
            uploader = asyncio.create_task(keep_uploading(client, user, uploads, stop))
            try:
                await asyncio.sleep(2.0)
                stopped_at = time.monotonic()
                await asyncio.to_thread(infra.nats.stop)
                await asyncio.sleep(1.5)  # past the API token cache

                # Needs NATS: an API token must be introspected by auth -> 503, quickly.
                r, took = await timed_get(client, f"{main.url}/upload/", api_token)
                assert_envelope(r, 503, "SERVICE_UNAVAILABLE")
                assert r.headers.get("retry-after")
                assert took < FAST, f"API token check took {took:.1f}s"
                # Needs NATS: the first JWT a process sees needs auth's signing keys -> 503, quickly.
                r, took = await timed_get(client, f"{cold.url}/upload/", user.headers)
                assert_envelope(r, 503, "SERVICE_UNAVAILABLE")
                assert took < FAST, f"JWT check without keys took {took:.1f}s"
                # Does not need NATS: a JWT verified with the keys this process already holds.
                r, _ = await timed_get(client, f"{main.url}/upload/", user.headers)
                assert r.status_code == 200, r.text
                # Readiness says NATS is the problem.
                r, took = await timed_get(client, f"{main.url}/health/ready", {})
                assert r.status_code == 503
                checks = r.json()["data"]["checks"]
                assert checks["upload.nats"] != "ok"
                assert checks["ghost.nats"] != "ok"
                assert checks["upload.database"] == "ok"
                assert took < FAST

                await asyncio.sleep(2.0)  # uploads keep coming
                restarted_at = time.monotonic()
                async with pg(infra.database_url) as conn:
                    held = await conn.fetchval("SELECT count(*) FROM upload.outbox WHERE sent_at IS NULL")
                await asyncio.to_thread(infra.nats.start)
                await asyncio.sleep(2.0)
            finally:
                stop.set()
                await uploader

            during = [u for u in uploads if stopped_at < u.began < restarted_at]
            assert len(during) >= 5, f"only {len(during)} uploads while NATS was down"
            # Upload's HTTP path writes the database and object storage only: it does not need NATS.
            assert all(u.status == 201 for u in uploads), [(u.status, u.error_code) for u in uploads if u.status != 201]
            assert held >= len(during) - 1, f"{held} events held in the outbox for {len(during)} uploads"
            file_ids = [u.file_id for u in uploads if u.file_id]

            # Nothing restarted: the outbox catches up and every file gets ghost's metadata.
            async def unprocessed() -> list[str]:
                missing = []
                for file_id in file_ids:
                    info = (await client.get(f"/upload/{file_id}/info", headers=user.headers)).json()["data"]
                    if not info["processed"]:
                        missing.append(file_id)
                return missing

            left = await eventually(unprocessed, lambda m: not m, timeout=60, interval=1.0)
            assert not left, f"{len(left)} of {len(file_ids)} files never got their metadata"
            info = (await client.get(f"/upload/{file_ids[-1]}/info", headers=user.headers)).json()["data"]
            assert info["processing_result"]["status"] == "extracted"
            assert "Forge Fault Cameras" in json.dumps(info["processing_result"])

            async with pg(infra.database_url) as conn:
                unsent = {
                    schema: await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL")
                    for schema in ("upload", "ghost", "auth")
                }
                stored_events = await conn.fetchval(
                    "SELECT count(*) FROM upload.outbox WHERE subject = 'upload.file.stored'"
                )
                extractions = await conn.fetchval("SELECT count(DISTINCT file_id) FROM ghost.extractions")
                letters = await conn.fetchval(
                    "SELECT (SELECT count(*) FROM upload.dead_letters) + (SELECT count(*) FROM ghost.dead_letters)"
                )
            assert unsent == {"upload": 0, "ghost": 0, "auth": 0}
            assert stored_events == len(file_ids)
            assert extractions == len(file_ids)
            assert letters == 0

            # What needed NATS works again, in both processes, without a restart.
            r = await eventually(
                lambda: client.get(f"{main.url}/upload/", headers=api_token), lambda r: r.status_code == 200, timeout=15
            )
            assert r.status_code == 200, r.text
            r = await eventually(
                lambda: client.get(f"{cold.url}/upload/", headers=user.headers),
                lambda r: r.status_code == 200,
                timeout=15,
            )
            assert r.status_code == 200, r.text
            for url in (main.url, cold.url):
                r = await eventually(
                    lambda url=url: client.get(f"{url}/health/ready"),  # type: ignore[misc]
                    lambda r: r.status_code == 200,
                    timeout=15,
                )
                assert r.status_code == 200, r.text
        assert main.alive()
        assert cold.alive()


async def test_full_reconnect_buffer_is_an_outage_not_a_crash() -> None:
    """During a long outage the client's reconnect buffer fills up (every relay keeps re-publishing
    its batch), and then every publish, including a request to auth, fails at once with
    `OutboundBufferLimitError`: that must read as "NATS unavailable" (503), not an unexpected 500."""
    async with running_infra() as infra:
        conn = NatsConnection(infra.nats.url, "fault-buffer")
        await conn.connect(timeout=5)
        try:
            authenticator = Authenticator(conn, issuer="forge-auth", audience="forge")
            await asyncio.to_thread(infra.nats.stop)

            async def connected() -> bool:
                return conn.nc.is_connected

            assert not await eventually(connected, lambda up: not up, timeout=10, interval=0.1)
            for size in (65536, 4096, 256, 16, 1):  # fill it to the last byte
                with pytest.raises(nats.errors.OutboundBufferLimitError):
                    for _ in range(10_000):
                        await conn.nc.publish("fault.filler", b"x" * size)

            token = jwt.encode(
                {"sub": "someone", "typ": "access"},
                Ed25519PrivateKey.generate(),
                algorithm="EdDSA",
                headers={"kid": "k1"},
            )
            for credential in (token, "ftk_" + "a" * 43):
                began = time.monotonic()
                with pytest.raises(IdentityUnavailable):
                    await authenticator.authenticate(credential)
                assert time.monotonic() - began < FAST
            with pytest.raises(Exception) as raised:
                await conn.check()
            assert isinstance(raised.value, NATS_UNAVAILABLE), raised.value

            await asyncio.to_thread(infra.nats.start)
            assert await eventually(connected, lambda up: up, timeout=15)
            await eventually(conn.check, lambda _: True, timeout=5)
        finally:
            await conn.close()
