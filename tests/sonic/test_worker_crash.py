"""A sonic worker killed with SIGKILL mid-job: another worker finishes the job, exactly once."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx
import msgspec

from bench.sonic.clips import make_speech_clip
from forge.localinfra import free_port
from libs.contracts import sonic
from libs.events import NatsConnection
from tests.infra import running_infra
from tests.processes import FORGE, forge_env, wait_ready


async def test_killed_worker_job_is_finished_once_by_another(tmp_path: Path) -> None:
    clip = tmp_path / "long.mp3"
    make_speech_clip(clip, 60.0)
    async with running_infra() as infra:
        env = forge_env(
            infra,
            SONIC_ACK_WAIT_SECONDS="6",
            SONIC_KEEPALIVE_SECONDS="2",
            SONIC_CPU_THREADS="1",
            BOOTSTRAP_ADMIN_EMAIL="ops@forge.test",
            BOOTSTRAP_ADMIN_PASSWORD="ops-password-123",
        )
        port = free_port()
        api = subprocess.Popen(
            [*FORGE, "serve", "--services", "auth,sonic", "--no-workers", "--port", str(port)], env=env
        )
        workers: list[subprocess.Popen[bytes]] = []
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base)

            def start_worker() -> subprocess.Popen[bytes]:
                health = free_port()
                proc = subprocess.Popen(
                    [*FORGE, "worker", "sonic", "--host", "127.0.0.1", "--port", str(health)], env=env
                )
                workers.append(proc)
                wait_ready(f"http://127.0.0.1:{health}")
                return proc

            first = start_worker()
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                login = await client.post(
                    "/api/v1/auth/login", json={"email": "ops@forge.test", "password": "ops-password-123"}
                )
                headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
                r = await client.post(
                    "/api/v1/trapdoor/sonic/upload", headers=headers, files={"file": ("long.mp3", clip.read_bytes())}
                )
                assert r.status_code == 202, r.text
                job_id = r.json()["data"]["job_id"]

                async def job() -> dict[str, object]:
                    body = (await client.get(f"/api/v1/trapdoor/sonic/jobs/{job_id}", headers=headers)).json()
                    data: dict[str, object] = body["data"]
                    return data

                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    state = await job()
                    if state["status"] == "processing" and float(state["progress"]) > 5:  # type: ignore[arg-type]
                        break
                    time.sleep(0.2)
                assert state["status"] == "processing", state
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)

                start_worker()
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    state = await job()
                    if state["status"] in ("completed", "failed"):
                        break
                    time.sleep(0.5)
                assert state["status"] == "completed", state
                text = await client.get(f"/api/v1/trapdoor/sonic/jobs/{job_id}/download?format=txt", headers=headers)
                assert text.status_code == 200
                assert len(text.text.split()) > 50

            conn = await asyncpg.connect(infra.database_url)
            try:
                row = await conn.fetchrow("SELECT attempts, status FROM sonic.jobs WHERE id = $1::uuid", job_id)
                completions = await conn.fetchval(
                    "SELECT count(*) FROM sonic.outbox WHERE subject = $1", sonic.JOB_COMPLETED
                )
                stuck = await conn.fetchval("SELECT count(*) FROM sonic.jobs WHERE status = 'processing'")
            finally:
                await conn.close()
            assert row is not None
            assert row["attempts"] == 2
            assert completions == 1
            assert stuck == 0

            nats = NatsConnection(infra.nats.url, "crash-test")
            await nats.connect(timeout=5)
            try:
                info = await nats.js.stream_info(sonic.JOBS_STREAM.name)
                assert info.state.messages == 0  # the work queue is empty: the job was acknowledged once done
                events = await nats.js.pull_subscribe(sonic.JOB_COMPLETED, stream=sonic.STREAM.name)
                msgs = await events.fetch(10, timeout=2)
                finished = [msgspec.json.decode(m.data)["data"]["job_id"] for m in msgs]
                assert finished.count(job_id) == 1
            finally:
                await nats.close()
        finally:
            for proc in [*workers, api]:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
