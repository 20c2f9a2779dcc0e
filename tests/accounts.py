"""Real users for the tests, made through the auth service's HTTP API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx


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
