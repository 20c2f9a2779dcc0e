"""SQL of the auth service (schema `auth`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from libs.database import Database
from services.auth.schemas import ApiTokenInfo, User

USER_COLUMNS = "id, email, name, role, disabled_at, created_at, last_login_at, password_hash"


def user_from_row(row: asyncpg.Record) -> User:
    return User(
        id=str(row["id"]),
        email=row["email"],
        name=row["name"],
        role=row["role"],
        disabled=row["disabled_at"] is not None,
        created_at=row["created_at"],
        last_login_at=row["last_login_at"],
    )


def token_from_row(row: asyncpg.Record, now: datetime) -> ApiTokenInfo:
    expired = row["expires_at"] is not None and row["expires_at"] <= now
    return ApiTokenInfo(
        id=str(row["id"]),
        name=row["name"],
        prefix=row["token_prefix"],
        scopes=list(row["scopes"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        is_active=row["revoked_at"] is None and not expired,
    )


class AuthStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def user_by_email(self, email: str) -> asyncpg.Record | None:
        return await self.db.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)", email)

    async def user_by_id(self, user_id: str | uuid.UUID) -> asyncpg.Record | None:
        try:
            uid = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(user_id)
        except ValueError:
            return None
        return await self.db.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", uid)

    async def insert_user(
        self, conn: asyncpg.Connection, *, email: str, password_hash: str, name: str | None, role: str
    ) -> asyncpg.Record | None:
        """Insert a user; None when the email is taken."""
        row: asyncpg.Record | None = await conn.fetchrow(
            f"INSERT INTO users (id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, $5)"
            f" ON CONFLICT ((lower(email))) DO NOTHING RETURNING {USER_COLUMNS}",
            uuid.uuid4(),
            email,
            name,
            password_hash,
            role,
        )
        return row

    async def list_users(self, *, skip: int, limit: int) -> tuple[list[asyncpg.Record], int]:
        rows = await self.db.fetch(
            f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
            limit,
            skip,
        )
        total = await self.db.fetchval("SELECT count(*) FROM users")
        return rows, int(total)

    async def record_login(self, user_id: uuid.UUID, new_hash: str | None) -> None:
        await self.db.execute(
            "UPDATE users SET last_login_at = now(), password_hash = coalesce($2, password_hash) WHERE id = $1",
            user_id,
            new_hash,
        )

    async def api_tokens(self, user_id: uuid.UUID) -> list[asyncpg.Record]:
        return await self.db.fetch("SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id", user_id)

    async def api_token(self, token_id: str, user_id: uuid.UUID) -> asyncpg.Record | None:
        try:
            tid = uuid.UUID(token_id)
        except ValueError:
            return None
        return await self.db.fetchrow("SELECT * FROM api_tokens WHERE id = $1 AND user_id = $2", tid, user_id)

    async def api_token_by_hash(self, token_hash: str) -> asyncpg.Record | None:
        return await self.db.fetchrow(
            "SELECT t.id, t.user_id, t.scopes, t.expires_at, t.revoked_at, t.last_used_at,"
            " u.email, u.role, u.disabled_at FROM api_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE t.token_hash = $1",
            token_hash,
        )

    async def touch_api_token(self, token_id: uuid.UUID) -> Any:
        return await self.db.fetchrow("UPDATE api_tokens SET last_used_at = now() WHERE id = $1 RETURNING *", token_id)
