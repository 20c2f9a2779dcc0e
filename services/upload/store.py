"""SQL of the upload service (schema `upload`). Every user query carries the owner predicate."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from libs.database import Database

LIVE = "deleted_at IS NULL"
FILE_COLUMNS = (
    "id, original_filename, stored_filename, file_path, size, content_type, file_hash, owner_id, is_public,"
    " upload_status, processed, processing_result, is_duplicate, created_at, updated_at"
)


def parse_id(file_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(file_id)
    except ValueError:
        return None


class UploadStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim_blob(self, conn: asyncpg.Connection, sha256: str, object_key: str, size: int) -> bool:
        """Register the content, or lock the existing blob row; True when the content is new.

        Locking the row (DO UPDATE) keeps a concurrent delete from removing the object until
        this transaction's upload row is committed and visible."""
        inserted: bool = await conn.fetchval(
            "INSERT INTO blobs (sha256, object_key, size) VALUES ($1, $2, $3)"
            " ON CONFLICT (sha256) DO UPDATE SET last_seen = now() RETURNING (xmax = 0)",
            sha256,
            object_key,
            size,
        )
        return inserted

    async def insert_file(self, conn: asyncpg.Connection, **values: Any) -> asyncpg.Record:
        columns = ", ".join(values)
        placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        row = await conn.fetchrow(
            f"INSERT INTO uploaded_files ({columns}) VALUES ({placeholders}) RETURNING {FILE_COLUMNS}",
            *values.values(),
        )
        assert row is not None
        return row

    async def get_file(self, file_id: uuid.UUID) -> asyncpg.Record | None:
        """A live file by id, whoever owns it (callers check ownership to answer 403 vs 404)."""
        return await self.db.fetchrow(
            f"SELECT {FILE_COLUMNS} FROM uploaded_files WHERE id = $1 AND {LIVE}",
            file_id,
        )

    async def list_files(self, owner_id: str | None, *, skip: int, limit: int) -> tuple[list[asyncpg.Record], int]:
        """Newest first; `owner_id=None` lists every user's files (admins)."""
        rows = await self.db.fetch(
            f"SELECT {FILE_COLUMNS} FROM uploaded_files WHERE {LIVE} AND ($1::text IS NULL OR owner_id = $1)"
            " ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
            owner_id,
            limit,
            skip,
        )
        total = await self.db.fetchval(
            f"SELECT count(*) FROM uploaded_files WHERE {LIVE} AND ($1::text IS NULL OR owner_id = $1)",
            owner_id,
        )
        return rows, int(total)

    async def soft_delete(self, conn: asyncpg.Connection, file_id: uuid.UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "UPDATE uploaded_files SET deleted_at = now(), updated_at = now(), upload_status = 'DELETED'"
            f" WHERE id = $1 AND {LIVE} RETURNING {FILE_COLUMNS}",
            file_id,
        )

    async def release_blob(self, conn: asyncpg.Connection, sha256: str) -> str | None:
        """Drop the blob row if no live upload refers to it; return its object key to delete."""
        blob = await conn.fetchrow("SELECT object_key FROM blobs WHERE sha256 = $1 FOR UPDATE", sha256)
        if blob is None:
            return None
        still_used = await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM uploaded_files WHERE file_hash = $1 AND {LIVE})",
            sha256,
        )
        if still_used:
            return None
        await conn.execute("DELETE FROM blobs WHERE sha256 = $1", sha256)
        return str(blob["object_key"])

    async def object_key(self, sha256: str) -> str | None:
        value = await self.db.fetchval("SELECT object_key FROM blobs WHERE sha256 = $1", sha256)
        return str(value) if value is not None else None

    async def stats(self) -> asyncpg.Record:
        row = await self.db.fetchrow(
            "SELECT count(*) AS total_files, coalesce(sum(size), 0) AS total_size,"
            " count(DISTINCT owner_id) AS active_users, coalesce(avg(size), 0) AS average_size"
            f" FROM uploaded_files WHERE {LIVE}"
        )
        assert row is not None
        return row

    async def type_counts(self) -> dict[str, int]:
        rows = await self.db.fetch(
            f"SELECT coalesce(content_type, 'unknown') AS type, count(*) AS n FROM uploaded_files WHERE {LIVE}"
            " GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        return {r["type"]: int(r["n"]) for r in rows}

    async def record_metadata(self, file_id: uuid.UUID, sha256: str, result: dict[str, Any], error: str | None) -> bool:
        status = await self.db.execute(
            "UPDATE uploaded_files SET processed = true, processing_result = $3, error_message = $4,"
            " updated_at = now() WHERE id = $1 AND file_hash = $2",
            file_id,
            sha256,
            result,
            error,
        )
        return status.endswith(" 1")
