from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio

from forge.host import LIBS_MIGRATIONS
from libs.database import Database, apply_migrations, load_migrations
from libs.events import NatsConnection
from tests.infra import TestInfra


@pytest_asyncio.fixture(loop_scope="session")
async def db(infra: TestInfra) -> AsyncIterator[Database]:
    """A fresh schema with the libraries' tables (outbox, processed messages, dead letters)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await apply_migrations(infra.database_url, schema, load_migrations(LIBS_MIGRATIONS, "libs"))
    database = Database(infra.database_url, schema, min_size=1, max_size=4)
    await database.connect()
    yield database
    await database.close()


@pytest_asyncio.fixture(loop_scope="session")
async def nats(infra: TestInfra) -> AsyncIterator[NatsConnection]:
    conn = NatsConnection(infra.nats.url, "tests")
    await conn.connect(timeout=5)
    yield conn
    await conn.close()
