"""Session-wide real infrastructure (NATS, PostgreSQL, S3) shared by every test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from forge.host import PlatformHost
from forge.registry import SERVICE_NAMES
from libs.config import PlatformSettings
from libs.logging import configure_logging
from libs.settings import load_settings
from tests.accounts import Account, login, register_and_login
from tests.infra import TestInfra, running_infra, serve_app

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def infra() -> AsyncIterator[TestInfra]:
    configure_logging(level="WARNING")
    async with running_infra() as running:
        yield running


@pytest.fixture(scope="session")
def settings(infra: TestInfra) -> PlatformSettings:
    return load_settings(PlatformSettings, env=infra.env())


ADMIN_EMAIL = "admin@forge.test"
ADMIN_PASSWORD = "admin-password-123"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def platform(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """Every service in one process (`serve --services all` with workers) on a real port; yields its URL."""
    env = infra.env(
        BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        GHOST_MAX_FILE_SIZE=str(8 * 1024 * 1024),
        # ScanCode's index (8 s, 1.4 GB) loads on the first audit, not at start-up, in tests.
        AUDIT_WARM_UP="false",
        AUDIT_LOCAL_REPOSITORY_ROOT=str(tmp_path_factory.getbasetemp()),
        AUDIT_TIER_LIMITS="free:5,pro:1000,enterprise:0",
    )
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        settings = load_settings(PlatformSettings, env=env)
        host = PlatformHost(settings, list(SERVICE_NAMES), with_workers=True)
        async with serve_app(host.create_app()) as base:
            yield base
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest_asyncio.fixture(loop_scope="session")
async def client(platform: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform, timeout=60) as http:
        yield http


@pytest_asyncio.fixture(loop_scope="session")
async def user(client: httpx.AsyncClient) -> Account:
    return await register_and_login(client)


@pytest_asyncio.fixture(loop_scope="session")
async def other_user(client: httpx.AsyncClient) -> Account:
    return await register_and_login(client)


@pytest_asyncio.fixture(loop_scope="session")
async def admin(client: httpx.AsyncClient) -> Account:
    return await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
