"""Versioned SQL migrations, applied at start-up under an advisory lock.

A migration is a file `NNNN_description.sql`. Versions are namespaced (`libs:0001`,
`upload:0001`) so the libraries' own tables (outbox, processed messages, dead letters) and a
service's tables live side by side in its schema. Two replicas starting at once take the same
advisory lock, so one applies and the other finds the work done.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from libs.database.pool import quote_schema
from libs.logging import get_logger

log = get_logger(__name__)


class MigrationError(Exception):
    """A migration failed or an applied one was changed after the fact."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path, namespace: str) -> list[Migration]:
    """Read `NNNN_name.sql` files of a folder, ordered by number."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        if not number.isdigit():
            raise MigrationError(f"migration file {path.name} must start with a number")
        found.append(Migration(version=f"{namespace}:{number}", name=name, sql=path.read_text()))
    return found


def _lock_key(schema: str) -> int:
    digest = hashlib.sha256(f"forge.migrate.{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def apply_migrations(dsn: str, schema: str, migrations: list[Migration]) -> list[str]:
    """Create the schema if needed and apply pending migrations; return the versions applied."""
    quoted = quote_schema(schema)
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {quoted}.schema_migrations ("
                " version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = await conn.fetch(f"SELECT version, checksum FROM {quoted}.schema_migrations")
            done = {r["version"]: r["checksum"] for r in rows}
            for migration in migrations:
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version} ({migration.name}) changed after it was applied"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {quoted}")
                    try:
                        await conn.execute(migration.sql)
                    except asyncpg.PostgresError as exc:
                        raise MigrationError(f"migration {migration.version} ({migration.name}) failed: {exc}") from exc
                    await conn.execute(
                        f"INSERT INTO {quoted}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                applied_now.append(migration.version)
                log.info("migration applied", schema=schema, version=migration.version, name=migration.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
    finally:
        await conn.close()
    return applied_now
