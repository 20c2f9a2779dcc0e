"""Graceful shutdown on SIGTERM, as Kubernetes sends it: in-flight requests finish, a worker hands
its job back, and each process exits within its grace period."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from bench.sonic.clips import make_speech_clip
from forge.localinfra import free_port
from tests.infra import running_infra
from tests.processes import FORGE, forge_env, wait_ready

GRACE = 8.0


async def test_sigterm_lets_an_inflight_upload_finish_then_exits() -> None:
    async with running_infra() as infra:
        env = forge_env(
            infra,
            SHUTDOWN_GRACE_SECONDS=str(GRACE),
            BOOTSTRAP_ADMIN_EMAIL="ops@forge.test",
            BOOTSTRAP_ADMIN_PASSWORD="ops-password-123",
        )
        port = free_port()
        proc = subprocess.Popen([*FORGE, "serve", "--services", "auth,upload", "--port", str(port)], env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base)
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                login = await client.post(
                    "/api/v1/auth/login", json={"email": "ops@forge.test", "password": "ops-password-123"}
                )
                headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
                boundary = "slowboundary"

                async def slow_body() -> AsyncIterator[bytes]:
                    yield (
                        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"\r\n'
                        "Content-Type: text/plain\r\n\r\n"
                    ).encode()
                    for _ in range(12):
                        yield b"line of slowly uploaded text\n" * 1000
                        await asyncio.sleep(0.25)
                    yield f"\r\n--{boundary}--\r\n".encode()

                upload = asyncio.create_task(
                    client.post(
                        "/upload/",
                        headers={**headers, "content-type": f"multipart/form-data; boundary={boundary}"},
                        content=slow_body(),
                    )
                )
                await asyncio.sleep(1.0)
                signalled = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                response = await upload
                assert response.status_code == 201, response.text
                code = await asyncio.to_thread(proc.wait, GRACE + 5)
                assert code == 0
                assert time.monotonic() - signalled < GRACE + 2
        finally:
            if proc.poll() is None:
                proc.kill()


async def test_sigterm_hands_a_running_job_back_to_another_worker(tmp_path: Path) -> None:
    clip = tmp_path / "long.mp3"
    make_speech_clip(clip, 60.0)
    async with running_infra() as infra:
        env = forge_env(
            infra,
            SHUTDOWN_GRACE_SECONDS=str(GRACE),
            SONIC_CPU_THREADS="1",
            BOOTSTRAP_ADMIN_EMAIL="ops@forge.test",
            BOOTSTRAP_ADMIN_PASSWORD="ops-password-123",
        )
        port = free_port()
        procs = [
            subprocess.Popen(
                [*FORGE, "serve", "--services", "auth,sonic", "--no-workers", "--port", str(port)], env=env
            )
        ]
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base)

            def start_worker() -> subprocess.Popen[bytes]:
                health = free_port()
                worker = subprocess.Popen(
                    [*FORGE, "worker", "sonic", "--host", "127.0.0.1", "--port", str(health)], env=env
                )
                procs.append(worker)
                wait_ready(f"http://127.0.0.1:{health}")
                return worker

            first = start_worker()
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                login = await client.post(
                    "/api/v1/auth/login", json={"email": "ops@forge.test", "password": "ops-password-123"}
                )
                headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
                r = await client.post(
                    "/api/v1/trapdoor/sonic/upload", headers=headers, files={"file": ("long.mp3", clip.read_bytes())}
                )
                job_id = r.json()["data"]["job_id"]

                async def state() -> dict[str, object]:
                    data: dict[str, object] = (
                        await client.get(f"/api/v1/trapdoor/sonic/jobs/{job_id}", headers=headers)
                    ).json()["data"]
                    return data

                deadline = time.monotonic() + 60
                current = await state()
                while time.monotonic() < deadline and not (
                    current["status"] == "processing" and float(current["progress"]) > 5  # type: ignore[arg-type]
                ):
                    await asyncio.sleep(0.2)
                    current = await state()
                signalled = time.monotonic()
                first.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(first.wait, GRACE + 5) == 0
                assert time.monotonic() - signalled < GRACE + 2

                start_worker()
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and current["status"] not in ("completed", "failed"):
                    await asyncio.sleep(0.5)
                    current = await state()
                assert current["status"] == "completed", current
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
