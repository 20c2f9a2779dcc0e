"""SQL of the audit service (schema `audit`). User queries carry the owner predicate."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from libs.database import Database

LIVE = "deleted_at IS NULL"


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class AuditStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, conn: asyncpg.Connection, **values: Any) -> asyncpg.Record:
        columns = ", ".join(values)
        placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        row = await conn.fetchrow(
            f"INSERT INTO audits ({columns}) VALUES ({placeholders}) RETURNING *", *values.values()
        )
        assert row is not None
        return row

    async def get(self, audit_id: uuid.UUID) -> asyncpg.Record | None:
        return await self.db.fetchrow(f"SELECT * FROM audits WHERE id = $1 AND {LIVE}", audit_id)

    async def list(
        self, owner_id: str, *, status: str | None, repository: str | None, skip: int, limit: int
    ) -> tuple[list[asyncpg.Record], int]:
        where = (
            f"owner_id = $1 AND {LIVE} AND ($2::text IS NULL OR status = $2)"
            " AND ($3::text IS NULL OR strpos(lower(repository), lower($3)) > 0)"
        )
        rows = await self.db.fetch(
            f"SELECT * FROM audits WHERE {where} ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5",
            owner_id,
            status,
            repository,
            limit,
            skip,
        )
        total = await self.db.fetchval(f"SELECT count(*) FROM audits WHERE {where}", owner_id, status, repository)
        return rows, int(total)

    async def audits_this_month(self, owner_id: str) -> int:
        """Audits requested this calendar month (deleted ones count: they were run)."""
        value = await self.db.fetchval(
            "SELECT count(*) FROM audits WHERE owner_id = $1 AND created_at >= date_trunc('month', now())"
            " AND status <> 'failed'",
            owner_id,
        )
        return int(value)

    async def start(self, audit_id: uuid.UUID, worker: str) -> asyncpg.Record | None:
        return await self.db.fetchrow(
            "UPDATE audits SET status = 'running', stage = 'fetching', attempts = attempts + 1, worker = $2,"
            " started_at = coalesce(started_at, now()), updated_at = now()"
            f" WHERE id = $1 AND {LIVE} AND status IN ('queued', 'running') RETURNING *",
            audit_id,
            worker,
        )

    async def progress(self, audit_id: uuid.UUID, progress: float, stage: str) -> str:
        value = await self.db.fetchval(
            "UPDATE audits SET progress = GREATEST(progress, $2), stage = $3, updated_at = now()"
            " WHERE id = $1 AND status = 'running' AND deleted_at IS NULL RETURNING status",
            audit_id,
            progress,
            stage,
        )
        return str(value) if value is not None else "cancelled"
