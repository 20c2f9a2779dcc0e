"""SQL of the sonic service (schema `sonic`). User queries carry the owner predicate."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from libs.database import Database

LIVE = "deleted_at IS NULL"


def parse_id(job_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(job_id)
    except ValueError:
        return None


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, conn: asyncpg.Connection, **values: Any) -> asyncpg.Record:
        columns = ", ".join(values)
        placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        row = await conn.fetchrow(f"INSERT INTO jobs ({columns}) VALUES ({placeholders}) RETURNING *", *values.values())
        assert row is not None
        return row

    async def get(self, job_id: uuid.UUID) -> asyncpg.Record | None:
        return await self.db.fetchrow(f"SELECT * FROM jobs WHERE id = $1 AND {LIVE}", job_id)

    async def list(
        self, owner_id: str, *, status: str | None, skip: int, limit: int
    ) -> tuple[list[asyncpg.Record], int]:
        where = f"owner_id = $1 AND {LIVE} AND ($2::text IS NULL OR status = $2)"
        rows = await self.db.fetch(
            f"SELECT * FROM jobs WHERE {where} ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
            owner_id,
            status,
            limit,
            skip,
        )
        total = await self.db.fetchval(f"SELECT count(*) FROM jobs WHERE {where}", owner_id, status)
        return rows, int(total)

    async def start(self, job_id: uuid.UUID, worker: str) -> asyncpg.Record | None:
        """Claim a queued (or abandoned `processing`) job for this worker; None if it is finished."""
        return await self.db.fetchrow(
            "UPDATE jobs SET status = 'processing', stage = 'starting', attempts = attempts + 1, worker = $2,"
            " started_at = coalesce(started_at, now()), updated_at = now()"
            f" WHERE id = $1 AND {LIVE} AND status IN ('queued', 'processing') RETURNING *",
            job_id,
            worker,
        )

    async def progress(self, job_id: uuid.UUID, progress: float, stage: str) -> str | None:
        """Record progress; return the job's status (a job cancelled meanwhile reads `cancelled`)."""
        value = await self.db.fetchval(
            "UPDATE jobs SET progress = GREATEST(progress, $2), stage = $3, updated_at = now()"
            " WHERE id = $1 AND status = 'processing' RETURNING status",
            job_id,
            progress,
            stage,
        )
        if value is not None:
            return str(value)
        current = await self.db.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
        return str(current) if current is not None else "cancelled"

    async def status(self, job_id: uuid.UUID) -> str | None:
        value = await self.db.fetchval(f"SELECT status FROM jobs WHERE id = $1 AND {LIVE}", job_id)
        return str(value) if value is not None else None
