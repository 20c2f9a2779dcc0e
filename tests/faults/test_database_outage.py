"""PostgreSQL stops and comes back under a steady request load, without restarting the service.

The service runs against an embedded PostgreSQL started for this test alone (the shared one must not
be stopped), stopped with `pg_ctl stop -m fast` (sessions are terminated, as in a failover or a
restart) and started again on the same data directory and socket."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from forge.localinfra import ensure_database, start_embedded_postgres
from tests.accounts import Account, register_and_login
from tests.faults.support import assert_envelope, eventually, forge_env, forge_processes, jpeg_with_exif, pg
from tests.infra import running_infra

POOL_MAX = 4
SLOW = 5.0  # seconds: no request may take longer than this, outage or not


@dataclass
class Sample:
    began: float
    elapsed: float
    status: int  # 0: no HTTP answer at all
    code: str | None
    what: str


class EmbeddedPostgres:
    """An embedded PostgreSQL this test may stop and start."""

    def __init__(self, pgdata: Path) -> None:
        self.server: Any
        self.server, self.uri = start_embedded_postgres(pgdata)

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: sessions are terminated, as in a failover or an operator's restart."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        pg_ctl = str(POSTGRES_BIN_PATH / "pg_ctl")
        command = [pg_ctl, "-D", str(self.server.pgdata), "-w", "-m", "fast", "stop"]
        subprocess.run(command, user=self.server.system_user, check=True, timeout=30, capture_output=True)

    def start(self) -> None:
        self.server.ensure_postgres_running()
        assert self.server.get_uri() == self.uri, "the restarted server moved"

    def cleanup(self) -> None:
        self.server.cleanup()


async def load(
    client: httpx.AsyncClient,
    user: Account,
    file_ids: list[str],
    samples: list[Sample],
    stop: asyncio.Event,
    *,
    uploads: bool = False,
) -> None:
    """One client of the steady load: info and list requests back to back, or uploads (whose
    transaction spans an object move, so some are mid-transaction when the database goes)."""
    paths = [f"/upload/{fid}/info" for fid in file_ids] + ["/upload/?limit=10"]
    i = 0
    while not stop.is_set():
        path = "/upload/" if uploads else paths[i % len(paths)]
        i += 1
        began = time.monotonic()
        try:
            if uploads:
                files = {"file": (f"load-{i}.jpg", jpeg_with_exif(1000 + i))}
                r = await client.post(path, headers=user.headers, files=files, timeout=30)
            else:
                r = await client.get(path, headers=user.headers, timeout=30)
        except httpx.HTTPError as exc:
            samples.append(Sample(began, time.monotonic() - began, 0, type(exc).__name__, path))
            continue
        code = None if r.status_code in (200, 201) else r.json().get("error_code")
        samples.append(Sample(began, time.monotonic() - began, r.status_code, code, path))
        await asyncio.sleep(0.02)


@pytest.mark.filterwarnings("ignore:XDG_RUNTIME_DIR is not set")  # embedded_postgres's lock-file folder
async def test_database_restart_under_load_recovers_without_restarting(tmp_path: Path) -> None:
    async with running_infra() as infra:
        postgres = await asyncio.to_thread(EmbeddedPostgres, infra.workdir / "pg-faults")
        try:
            dsn = await ensure_database(postgres.uri, "forge_faults")
            env = forge_env(infra, DATABASE_URL=dsn, DB_POOL_MIN="1", DB_POOL_MAX=str(POOL_MAX))
            async with forge_processes(tmp_path) as spawn:
                service = await spawn(["serve", "--services", "auth,upload"], env, name="upload")
                async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
                    user = await register_and_login(client)
                    file_ids = []
                    for i in range(3):
                        r = await client.post(
                            "/upload/", headers=user.headers, files={"file": (f"f{i}.jpg", jpeg_with_exif(i))}
                        )
                        assert r.status_code == 201, r.text
                        file_ids.append(r.json()["data"]["file_id"])

                    samples: list[Sample] = []
                    stop = asyncio.Event()
                    clients = [asyncio.create_task(load(client, user, file_ids, samples, stop)) for _ in range(4)]
                    clients += [
                        asyncio.create_task(load(client, user, file_ids, samples, stop, uploads=True)) for _ in range(2)
                    ]
                    try:
                        await asyncio.sleep(2.0)
                        stopped_at = time.monotonic()
                        await asyncio.to_thread(postgres.stop)
                        await asyncio.sleep(2.0)

                        # While it is down: writes and logins answer 503 too (not 500), and quickly.
                        began = time.monotonic()
                        r = await client.post(
                            "/upload/", headers=user.headers, files={"file": ("down.jpg", jpeg_with_exif(99))}
                        )
                        assert_envelope(r, 503, "SERVICE_UNAVAILABLE")
                        r = await client.post(
                            "/api/v1/auth/login", json={"email": user.email, "password": user.password}
                        )
                        assert_envelope(r, 503, "SERVICE_UNAVAILABLE")
                        r = await client.get("/health/ready")
                        assert r.status_code == 503
                        assert r.json()["data"]["checks"]["upload.database"] != "ok"
                        assert time.monotonic() - began < 3 * SLOW
                        await asyncio.sleep(1.0)

                        restarted_at = time.monotonic()
                        await asyncio.to_thread(postgres.start)
                        await asyncio.sleep(8.0)
                    finally:
                        stop.set()
                        await asyncio.gather(*clients)

                    during = [s for s in samples if stopped_at + 0.5 < s.began < restarted_at]
                    after = [s for s in samples if s.began > restarted_at]
                    odd = [
                        s
                        for s in samples
                        if s.status not in (200, 201, 503) or (s.status == 503 and s.code != "SERVICE_UNAVAILABLE")
                    ]
                    assert not odd, f"answers other than 200 or the 503 envelope: {odd[:5]}"
                    slow = [s for s in samples if s.elapsed > SLOW]
                    assert not slow, f"requests held for more than {SLOW}s: {slow[:5]}"
                    assert during, "no request was made while the database was down"
                    assert all(s.status == 503 for s in during), [s.status for s in during]
                    first_ok = next((s for s in after if s.status in (200, 201)), None)
                    assert first_ok is not None, "no request succeeded after the restart"
                    assert first_ok.began - restarted_at < 5.0, "recovery took more than 5 s"
                    tail = [s for s in after if s.began > first_ok.began]
                    assert tail, "no request after the first recovered one"
                    assert all(s.status in (200, 201) for s in tail), [(s.status, s.what) for s in tail]

                    # Fully recovered: writes, logins, readiness; and a burst well beyond the pool's
                    # size is served (connections were given back, none leaked by the outage).
                    r = await client.post(
                        "/upload/", headers=user.headers, files={"file": ("back.jpg", jpeg_with_exif(100))}
                    )
                    assert r.status_code == 201, r.text
                    await register_and_login(client)
                    burst = await asyncio.gather(
                        *(client.get(f"/upload/{file_ids[i % 3]}/info", headers=user.headers) for i in range(60))
                    )
                    assert [r.status_code for r in burst] == [200] * 60
                    r = await eventually(
                        lambda: client.get("/health/ready"), lambda r: r.status_code == 200, timeout=10
                    )
                    assert r.status_code == 200, r.text
                    async with pg(dsn) as conn:
                        connections = await conn.fetchval(
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'forge-upload'"
                        )
                        unsent = await eventually(
                            lambda: conn.fetchval("SELECT count(*) FROM upload.outbox WHERE sent_at IS NULL"),
                            lambda n: n == 0,
                            timeout=15,
                        )
                    assert 1 <= connections <= POOL_MAX
                    assert unsent == 0, "the outbox relay did not recover"
                assert service.alive(), service.log_tail()
        finally:
            await asyncio.to_thread(postgres.cleanup)
