from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from libs.database import Migration, MigrationError, apply_migrations
from tests.infra import TestInfra

SLOW = Migration("t:0001", "slow", "SELECT pg_sleep(0.3); CREATE TABLE items (id int PRIMARY KEY);")
SECOND = Migration("t:0002", "seed", "INSERT INTO items VALUES (1), (2);")


async def test_two_concurrent_migrators_apply_each_migration_once(infra: TestInfra) -> None:
    schema = f"m_{uuid.uuid4().hex[:10]}"
    first, second = await asyncio.gather(
        apply_migrations(infra.database_url, schema, [SLOW, SECOND]),
        apply_migrations(infra.database_url, schema, [SLOW, SECOND]),
    )
    assert sorted([first, second], key=len) == [[], ["t:0001", "t:0002"]]
    conn = await asyncpg.connect(infra.database_url)
    try:
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.items") == 2
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.schema_migrations") == 2
    finally:
        await conn.close()


async def test_changed_migration_is_refused(infra: TestInfra) -> None:
    schema = f"m_{uuid.uuid4().hex[:10]}"
    await apply_migrations(infra.database_url, schema, [SLOW])
    edited = Migration("t:0001", "slow", SLOW.sql + " -- edited")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await apply_migrations(infra.database_url, schema, [edited])


async def test_failed_migration_rolls_back_and_reports(infra: TestInfra) -> None:
    schema = f"m_{uuid.uuid4().hex[:10]}"
    broken = Migration("t:0001", "broken", "CREATE TABLE a (id int); SELECT * FROM no_such_table;")
    with pytest.raises(MigrationError, match="t:0001"):
        await apply_migrations(infra.database_url, schema, [broken])
    conn = await asyncpg.connect(infra.database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass($1)", f"{schema}.a") is None
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.schema_migrations") == 0
    finally:
        await conn.close()
