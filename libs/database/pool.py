"""An asyncpg pool bound to one schema, with JSON codecs and a readiness check."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import asyncpg
import msgspec

T = TypeVar("T")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Errors that mean "the database is not reachable right now", as opposed to a bad query.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)

# What a connection raises when the server goes away in the middle of its work: the errors above,
# and asyncpg's internal state errors when the connection broke under an operation.
_BROKEN: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, asyncpg.exceptions.InternalClientError)


class DatabaseUnavailable(Exception):
    """The database cannot be reached; callers answer 503 and retry later."""


def quote_schema(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return f'"{schema}"'


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename,
            encoder=lambda v: msgspec.json.encode(v).decode(),
            decoder=msgspec.json.decode,
            schema="pg_catalog",
        )


class Database:
    """The pool of one service. Every connection's `search_path` is the service's schema."""

    def __init__(
        self,
        dsn: str,
        schema: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        command_timeout: float = 30.0,
        acquire_timeout: float = 10.0,
    ) -> None:
        quote_schema(schema)
        self.dsn = dsn
        self.schema = schema
        self._min_size = min_size
        self._max_size = max_size
        self._command_timeout = command_timeout
        self._acquire_timeout = acquire_timeout
        self._pool: asyncpg.Pool | None = None

    async def connect(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=self._min_size,
            max_size=self._max_size,
            command_timeout=self._command_timeout,
            server_settings={"search_path": self.schema, "application_name": f"forge-{self.schema}"},
            init=_init_connection,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise DatabaseUnavailable("database pool is not open")
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; connection failures surface as `DatabaseUnavailable`."""
        try:
            conn = await self.pool.acquire(timeout=self._acquire_timeout)
        except CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable(f"database unavailable: {type(exc).__name__}") from exc
        try:
            yield cast(asyncpg.Connection, conn)
        except _BROKEN as exc:
            # Raised inside the caller's block (a transaction's statements, its BEGIN or COMMIT):
            # the server went away mid-way. An OSError from other work in the block (a file, a
            # socket) is not the database's, unless the connection is gone too.
            if isinstance(exc, OSError) and not conn.is_closed():
                raise
            if isinstance(exc, asyncpg.exceptions.InternalClientError):
                conn.terminate()  # its protocol state is lost: never hand it out again
            raise DatabaseUnavailable(f"database unavailable: {type(exc).__name__}") from exc
        finally:
            # Releasing a broken connection can fail too (its reset); asyncpg has then dropped it,
            # and the block's own outcome (or error) is what the caller must see.
            with contextlib.suppress(*_BROKEN):
                await self.pool.release(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.connection() as conn:
            return await self._guard(conn.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self.connection() as conn:
            return await self._guard(conn.fetchrow(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.connection() as conn:
            return await self._guard(conn.fetchval(query, *args))

    async def execute(self, query: str, *args: Any) -> str:
        async with self.connection() as conn:
            return await self._guard(conn.execute(query, *args))

    @staticmethod
    async def _guard(awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable(f"database unavailable: {type(exc).__name__}") from exc

    async def check(self) -> None:
        """Raise unless a round trip to the database succeeds (readiness)."""
        value = await asyncio.wait_for(self.fetchval("SELECT 1"), timeout=3.0)
        if value != 1:
            raise DatabaseUnavailable("unexpected answer to SELECT 1")
