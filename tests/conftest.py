"""Session-wide real infrastructure (NATS, PostgreSQL, S3) shared by every test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from libs.config import PlatformSettings
from libs.logging import configure_logging
from libs.settings import load_settings
from tests.infra import TestInfra, test_infra

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def infra() -> AsyncIterator[TestInfra]:
    configure_logging(level="WARNING")
    async with test_infra() as running:
        yield running


@pytest.fixture(scope="session")
def settings(infra: TestInfra) -> PlatformSettings:
    return load_settings(PlatformSettings, env=infra.env())
