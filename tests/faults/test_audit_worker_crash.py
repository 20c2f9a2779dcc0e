"""An audit worker killed with SIGKILL mid-audit: another worker finishes the audit, exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import msgspec

from libs.contracts import audit
from libs.events import NatsConnection
from tests.accounts import register_and_login
from tests.audit.fixtures import ALICE, GPL_MODULE, MIT_LICENSE, commit, git, git_env
from tests.faults.support import eventually, forge_env, forge_processes, pg
from tests.infra import running_infra

SOURCE_FILES = 200  # enough for the audit to take several seconds after ScanCode's index loads


def build_large_repo(repo: Path) -> Path:
    """A repository of a few hundred small modules, each with a GPL header (ScanCode reads them all)."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", env=git_env(repo.parent))
    files: dict[str, str | bytes] = {"LICENSE": MIT_LICENSE}
    for i in range(SOURCE_FILES):
        body = GPL_MODULE.replace("def adler32", f"def adler32_{i}")
        files[f"src/pkg{i // 25}/module_{i}.py"] = f"{body}\n\nSEED_{i} = {i * 7919 % 1000}\n"
    commit(repo, files, "Import the modules", ALICE, "2024-01-10T09:00:00+00:00")
    return repo


async def test_killed_audit_worker_audit_is_finished_once_by_another(tmp_path: Path) -> None:
    root = tmp_path / "repos"
    repo = await asyncio.to_thread(build_large_repo, root / "big-project")
    async with running_infra() as infra, forge_processes(tmp_path) as spawn:
        env = forge_env(
            infra,
            AUDIT_ACK_WAIT_SECONDS="6",
            AUDIT_KEEPALIVE_SECONDS="2",
            AUDIT_WARM_UP="false",
            AUDIT_LOCAL_REPOSITORY_ROOT=str(root),
        )
        api = await spawn(["serve", "--services", "auth,audit", "--no-workers"], env, name="api")
        first = await spawn(["worker", "audit"], env, name="worker-1")
        async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
            user = await register_and_login(client)
            r = await client.post("/api/v1/audits", headers=user.headers, json={"repository": str(repo)})
            assert r.status_code == 202, r.text
            audit_id = r.json()["data"]["id"]

            async def state() -> dict[str, Any]:
                r = await client.get(f"/api/v1/audits/{audit_id}", headers=user.headers)
                assert r.status_code == 200, r.text
                data: dict[str, Any] = r.json()["data"]
                return data

            # Mid-audit: fetched, scanning (ScanCode loads its index in the job, then reads the files).
            current = await eventually(
                state, lambda s: s["status"] == "running" and s["progress"] >= 10, timeout=90, interval=0.2
            )
            assert current["status"] == "running", current
            assert current["progress"] >= 10, current
            await asyncio.to_thread(first.kill9)
            after_kill = await state()
            assert after_kill["status"] == "running", after_kill

            await spawn(["worker", "audit"], env, name="worker-2")
            final = await eventually(
                state, lambda s: s["status"] in ("completed", "failed", "cancelled"), timeout=240, interval=1.0
            )
            assert final["status"] == "completed", final
            assert final["files_scanned"] >= SOURCE_FILES
            assert final["formats"] == ["html", "json", "pdf", "sbom"]
            for fmt in ("json", "sbom", "html", "pdf"):
                r = await client.get(f"/api/v1/audits/{audit_id}/report", params={"format": fmt}, headers=user.headers)
                assert r.status_code == 200, (fmt, r.text[:300])
                assert r.content
            report = (
                await client.get(f"/api/v1/audits/{audit_id}/report", params={"format": "json"}, headers=user.headers)
            ).json()
            assert "GPL" in msgspec.json.encode(report).decode()

            # Usage counts the audit once (the completion event was published and consumed once).
            usage = await eventually(
                lambda: client.get("/api/v1/usage/stats", headers=user.headers),
                lambda r: r.json()["data"]["all_time"]["audits_run"] >= 1,
                timeout=20,
            )
            assert usage.json()["data"]["all_time"]["audits_run"] == 1, usage.text

        async with pg(infra.database_url) as conn:
            row = await conn.fetchrow("SELECT attempts, status, worker FROM audit.audits WHERE id = $1::uuid", audit_id)
            completions = await conn.fetchval(
                "SELECT count(*) FROM audit.outbox WHERE subject = $1", audit.AUDIT_COMPLETED
            )
            running = await conn.fetchval("SELECT count(*) FROM audit.audits WHERE status = 'running'")
            letters = await conn.fetchval("SELECT count(*) FROM audit.dead_letters")
        assert row is not None
        assert row["status"] == "completed"
        assert row["attempts"] == 2, "the audit was not taken over exactly once"
        assert completions == 1
        assert running == 0
        assert letters == 0

        nats = NatsConnection(infra.nats.url, "fault-test")
        await nats.connect(timeout=5)
        try:
            info = await nats.js.stream_info(audit.JOBS_STREAM.name)
            assert info.state.messages == 0  # the job was acknowledged once the audit was done
            events = await nats.js.pull_subscribe(audit.AUDIT_COMPLETED, stream=audit.STREAM.name)
            msgs = await events.fetch(10, timeout=2)
            finished = [msgspec.json.decode(m.data)["data"]["audit_id"] for m in msgs]
            assert finished.count(audit_id) == 1
        finally:
            await nats.close()
