"""Real infrastructure for the tests: a fresh NATS JetStream server, a fresh PostgreSQL database,
and moto's S3 server, all on loopback. Local servers are used when they answer; otherwise the
embedded ones from the `local` extra are started, so the suite runs on a bare machine too."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from litestar import Litestar

from forge.localinfra import (
    NatsProcess,
    drop_database,
    ensure_database,
    find_local_postgres,
    free_port,
    start_embedded_postgres,
)


@dataclass
class TestInfra:
    __test__ = False

    nats: NatsProcess
    database_url: str
    admin_dsn: str
    database_name: str
    s3_endpoint: str
    workdir: Path
    postgres: Any = None
    moto: Any = None

    def env(self, **overrides: str) -> dict[str, str]:
        values = {
            "ENVIRONMENT": "test",
            "DATABASE_URL": self.database_url,
            "NATS_URL": self.nats.url,
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT": self.s3_endpoint,
            "S3_ACCESS_KEY": "testing",
            "S3_SECRET_KEY": "testing",
            "S3_SECURE": "false",
            "S3_BUCKET": "forge-test",
            "LOG_LEVEL": "WARNING",
        }
        values.update(overrides)
        return values


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[Any, str]]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def running_infra() -> AsyncIterator[TestInfra]:
    workdir = Path(tempfile.mkdtemp(prefix="forge-test-"))
    nats = NatsProcess(workdir / "nats", free_port())
    nats.start()
    postgres = None
    admin = os.environ.get("TEST_ADMIN_DATABASE_URL") or await find_local_postgres()
    if admin is None:
        postgres, admin = start_embedded_postgres(workdir / "postgres")
    name = f"forge_test_{uuid.uuid4().hex[:10]}"
    dsn = await ensure_database(admin, name)
    with moto_server() as (moto, endpoint):
        infra = TestInfra(
            nats=nats,
            database_url=dsn,
            admin_dsn=admin,
            database_name=name,
            s3_endpoint=endpoint,
            workdir=workdir,
            postgres=postgres,
            moto=moto,
        )
        try:
            yield infra
        finally:
            nats.stop()
            with contextlib.suppress(Exception):
                await drop_database(admin, name)
            if postgres is not None:
                cleanup = getattr(postgres, "cleanup", None)
                if callable(cleanup):
                    cleanup()


@contextlib.asynccontextmanager
async def serve_app(app: Litestar, *, port: int | None = None) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a real loopback port inside the running loop; yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(600):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    if not server.started:
        if task.done() and task.exception():
            raise RuntimeError("server failed to start") from task.exception()
        raise RuntimeError("server did not start in 30s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
