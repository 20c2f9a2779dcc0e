"""Fixtures for the hostile-input tests: the platform's OpenAPI document and dedicated accounts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest_asyncio

from tests.accounts import Account, register_and_login


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def openapi_document(platform: str) -> dict[str, Any]:
    """The OpenAPI document the running platform serves."""
    async with httpx.AsyncClient(base_url=platform, timeout=30) as http:
        r = await http.get("/schema/openapi.json")
        assert r.status_code == 200, r.text
        document: dict[str, Any] = r.json()
        return document


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fuzz_account(platform: str) -> Account:
    """A plain user whose bearer token authenticates the fuzzing (its own, so quotas and token
    limits the fuzzer uses up touch no other test)."""
    async with httpx.AsyncClient(base_url=platform, timeout=30) as http:
        return await register_and_login(http)
