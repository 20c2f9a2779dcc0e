"""Helpers for tests that run `forge` as real processes (signals, crashes, restarts)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.infra import TestInfra

FORGE = [sys.executable, "-m", "forge"]


def forge_env(infra: TestInfra, **extra: str) -> dict[str, str]:
    """The process environment with this infrastructure's settings (the caller's own are dropped)."""
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "NATS_URL"}}
    return {**base, **infra.env(**extra)}


def wait_ready(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/ready", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} never became ready")


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def admin_headers(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
