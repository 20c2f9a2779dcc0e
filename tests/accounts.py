"""Real users for the tests, made through the auth service's HTTP API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    role: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def login(client: httpx.AsyncClient, email: str, password: str) -> Account:
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    return Account(
        id=data["user"]["id"],
        email=email,
        password=password,
        access_token=data["access_token"],
        refresh_token=data["refresh_token"],
        role=data["user"]["role"],
    )


async def register_and_login(client: httpx.AsyncClient, *, password: str = "correct-horse-battery") -> Account:
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    r = await client.post("/api/v1/auth/register", json={"email": email, "password": password, "name": "Test User"})
    assert r.status_code == 201, r.text
    return await login(client, email, password)


async def current_signing_key(database_url: str) -> tuple[str, PrivateKeyTypes]:
    """Auth's current signing key (kid, private key), read from its schema: the only way to mint
    tokens that are correctly signed yet expired, misdirected or of the wrong type."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT kid, private_pem FROM auth.signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1"
        )
    finally:
        await conn.close()
    assert row is not None
    return row["kid"], serialization.load_pem_private_key(row["private_pem"].encode(), None)
