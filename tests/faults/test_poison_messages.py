"""Poison messages on every durable consumer of the platform.

For each consumed subject, three bad messages are published straight to JetStream, then a valid
one is produced the normal way (through the HTTP APIs):

- an undecodable payload: dead-lettered at once (`term`, one attempt), visible in the service's
  `dead_letters` table and in `forge dead-letters --service NAME`;
- a well-formed message about something that does not exist (a file, job or audit id nobody
  created): handled as "nothing to do" and acknowledged, not retried;
- a well-formed message that can never be processed (a job id that is not an id, an object key
  that can name no object, a user id PostgreSQL cannot store): dead-lettered at once, not retried
  with back-off;

and the valid message behind them is processed: nothing blocks a consumer, nothing is redelivered.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.sonic.clips import make_speech_clip
from libs.contracts import audit, ghost, sonic, upload
from libs.events import NatsConnection
from tests.accounts import register_and_login
from tests.audit.fixtures import build_fixture_repo
from tests.faults.support import FORGE, eventually, forge_env, forge_processes, jpeg_with_exif, pg
from tests.infra import running_infra

GARBAGE = b"\xff\xfe this is not an event {"


@dataclass(frozen=True)
class Durable:
    name: str
    service: str  # whose schema holds its dead letters
    stream: str
    subject: str


DURABLES = (
    Durable("upload-metadata", "upload", ghost.STREAM.name, ghost.METADATA_EXTRACTED),
    Durable("ghost-extract", "ghost", upload.STREAM.name, upload.FILE_STORED),
    Durable("sonic-transcribe", "sonic", sonic.JOBS_STREAM.name, sonic.JOB_CREATED),
    Durable("audit-run", "audit", audit.JOBS_STREAM.name, audit.AUDIT_REQUESTED),
    Durable("audit-usage-upload-file-stored", "audit", upload.STREAM.name, upload.FILE_STORED),
    Durable("audit-usage-sonic-job-completed", "audit", sonic.STREAM.name, sonic.JOB_COMPLETED),
    Durable("audit-usage-audit-audit-completed", "audit", audit.STREAM.name, audit.AUDIT_COMPLETED),
)


def envelope(type_: str, data: dict[str, Any], *, actor: str = "poison-tests") -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    body = {
        "id": event_id,
        "type": type_,
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor": actor,
        "data": data,
    }
    return event_id, json.dumps(body).encode()


def stored_file(file_id: str, owner: str) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "owner_id": owner,
        "sha256": "0" * 64,
        "size": 1234,
        "content_type": "image/jpeg",
        "original_filename": "nowhere.jpg",
        "bucket": "forge-test-upload",
        "object_key": f"blobs/00/{'0' * 64}",
        "is_duplicate": False,
    }


class Publisher:
    def __init__(self, nats: NatsConnection) -> None:
        self._nats = nats
        self.sent: dict[str, list[str]] = {}  # subject -> event ids (or "garbage")

    async def raw(self, subject: str, payload: bytes, label: str) -> None:
        await self._nats.js.publish(subject, payload, headers={"Nats-Msg-Id": f"{label}-{uuid.uuid4()}"})
        self.sent.setdefault(subject, []).append(label)

    async def event(self, subject: str, type_: str, data: dict[str, Any]) -> str:
        event_id, payload = envelope(type_, data)
        await self._nats.js.publish(subject, payload, headers={"Nats-Msg-Id": event_id})
        self.sent.setdefault(subject, []).append(event_id)
        return event_id


async def dead_letters_cli(env: dict[str, str], service: str) -> list[dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        *FORGE,
        "dead-letters",
        "--service",
        service,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


async def test_poison_messages_are_dead_lettered_and_do_not_block(tmp_path: Path) -> None:
    root = tmp_path / "repos"
    repo = await asyncio.to_thread(build_fixture_repo, root / "fixture-app")
    clip = tmp_path / "speech.wav"
    await asyncio.to_thread(make_speech_clip, clip, 4.0)
    async with running_infra() as infra, forge_processes(tmp_path) as spawn:
        env = forge_env(
            infra,
            AUDIT_WARM_UP="false",
            AUDIT_LOCAL_REPOSITORY_ROOT=str(root),
            SONIC_CPU_THREADS="1",
        )
        platform = await spawn(["serve", "--services", "all"], env, name="platform")
        nats = NatsConnection(infra.nats.url, "poison-tests")
        await nats.connect(timeout=5)
        try:
            pub = Publisher(nats)
            missing = str(uuid.uuid4())
            impossible: dict[str, str] = {}  # consumer -> event id that must be acknowledged, not retried

            # upload.file.stored -> ghost-extract, audit-usage-upload-file-stored
            await pub.raw(upload.FILE_STORED, GARBAGE, "garbage")
            impossible["ghost-extract"] = impossible["audit-usage-upload-file-stored"] = await pub.event(
                upload.FILE_STORED, "file.stored", stored_file(missing, "ghost-owner")
            )
            nul_owner = await pub.event(
                upload.FILE_STORED, "file.stored", stored_file(str(uuid.uuid4()), "bad\x00owner")
            )
            gone_bucket = str(uuid.uuid4())
            await pub.event(
                upload.FILE_STORED,
                "file.stored",
                {**stored_file(gone_bucket, "ghost-owner"), "bucket": "forge-test-gone"},
            )
            bad_key = await pub.event(
                upload.FILE_STORED,
                "file.stored",
                {**stored_file(str(uuid.uuid4()), "ghost-owner"), "object_key": "../../etc/passwd"},
            )
            # ghost.metadata.extracted -> upload-metadata
            await pub.raw(ghost.METADATA_EXTRACTED, GARBAGE, "garbage")
            impossible["upload-metadata"] = await pub.event(
                ghost.METADATA_EXTRACTED,
                "metadata.extracted",
                {"file_id": str(uuid.uuid4()), "sha256": "1" * 64, "status": "extracted", "summary": {}},
            )
            # sonic.job.created -> sonic-transcribe (work queue)
            await pub.raw(sonic.JOB_CREATED, GARBAGE, "garbage")
            impossible["sonic-transcribe"] = await pub.event(
                sonic.JOB_CREATED, "job.created", {"job_id": missing, "owner_id": "ghost-owner"}
            )
            bad_job = await pub.event(sonic.JOB_CREATED, "job.created", {"job_id": "job-42", "owner_id": "ghost-owner"})
            # audit.audit.requested -> audit-run (work queue)
            await pub.raw(audit.AUDIT_REQUESTED, GARBAGE, "garbage")
            impossible["audit-run"] = await pub.event(
                audit.AUDIT_REQUESTED, "audit.requested", {"audit_id": missing, "owner_id": "ghost-owner"}
            )
            bad_audit = await pub.event(
                audit.AUDIT_REQUESTED, "audit.requested", {"audit_id": "../../etc", "owner_id": "ghost-owner"}
            )
            # sonic.job.completed / audit.audit.completed -> usage counters
            await pub.raw(sonic.JOB_COMPLETED, GARBAGE, "garbage")
            impossible["audit-usage-sonic-job-completed"] = await pub.event(
                sonic.JOB_COMPLETED,
                "job.completed",
                {"job_id": missing, "owner_id": "ghost-owner", "status": "completed", "audio_seconds": 60.0},
            )
            await pub.raw(audit.AUDIT_COMPLETED, GARBAGE, "garbage")
            impossible["audit-usage-audit-audit-completed"] = await pub.event(
                audit.AUDIT_COMPLETED,
                "audit.completed",
                {"audit_id": missing, "owner_id": "ghost-owner", "status": "completed", "files_scanned": 3},
            )

            # Then the valid work, through the APIs, behind the poison in every consumer.
            async with httpx.AsyncClient(base_url=platform.url, timeout=60) as client:
                user = await register_and_login(client)
                r = await client.post("/upload/", headers=user.headers, files={"file": ("ok.jpg", jpeg_with_exif(7))})
                assert r.status_code == 201, r.text
                file_id = r.json()["data"]["file_id"]
                r = await client.post(
                    "/api/v1/trapdoor/sonic/upload",
                    headers=user.headers,
                    files={"file": ("speech.wav", clip.read_bytes())},
                )
                assert r.status_code == 202, r.text
                job_id = r.json()["data"]["job_id"]
                r = await client.post("/api/v1/audits", headers=user.headers, json={"repository": str(repo)})
                assert r.status_code == 202, r.text
                audit_id = r.json()["data"]["id"]

                async def get(path: str) -> dict[str, Any]:
                    data: dict[str, Any] = (await client.get(path, headers=user.headers)).json()["data"]
                    return data

                info = await eventually(lambda: get(f"/upload/{file_id}/info"), lambda d: d["processed"], timeout=60)
                assert info["processed"], info
                assert info["processing_result"]["status"] == "extracted", info
                job = await eventually(
                    lambda: get(f"/api/v1/trapdoor/sonic/jobs/{job_id}"),
                    lambda d: d["status"] in ("completed", "failed"),
                    timeout=120,
                )
                assert job["status"] == "completed", job
                run = await eventually(
                    lambda: get(f"/api/v1/audits/{audit_id}"),
                    lambda d: d["status"] in ("completed", "failed"),
                    timeout=180,
                )
                assert run["status"] == "completed", run
                usage = await eventually(
                    lambda: get("/api/v1/usage/stats"),
                    lambda d: d["all_time"]["audits_run"] and d["all_time"]["audio_minutes"],
                    timeout=30,
                )
                counts = usage["all_time"]
                assert counts["files_uploaded"] == 1, usage
                assert counts["audits_run"] == 1, usage
                assert counts["audio_minutes"] > 0, usage

            # Each consumer: the garbage and the unprocessable messages are dead letters of one attempt.
            expected_letters = {d.name: 1 for d in DURABLES}
            expected_letters["audit-usage-upload-file-stored"] += 1  # the user id with a NUL byte
            expected_letters["ghost-extract"] += 1  # an object key that can name no object
            expected_letters["sonic-transcribe"] += 1  # a job id that is not an id
            expected_letters["audit-run"] += 1  # an audit id that is not an id
            async with pg(infra.database_url) as conn:
                for durable in DURABLES:
                    letters = await conn.fetch(
                        f"SELECT subject, event_id, payload, error, attempts FROM {durable.service}.dead_letters"
                        " WHERE consumer = $1 ORDER BY id",
                        durable.name,
                    )
                    assert len(letters) == expected_letters[durable.name], (durable.name, [dict(x) for x in letters])
                    assert all(x["attempts"] == 1 for x in letters), (durable.name, [dict(x) for x in letters])
                    assert all(x["subject"] == durable.subject for x in letters)
                    garbage = [x for x in letters if x["event_id"] is None]
                    assert len(garbage) == 1
                    assert bytes(garbage[0]["payload"]) == GARBAGE
                    assert "undecodable" in garbage[0]["error"]
                    # The "about nothing" event was handled (acknowledged) on its first delivery.
                    handled = await conn.fetchval(
                        f"SELECT count(*) FROM {durable.service}.processed_messages WHERE consumer = $1"
                        " AND event_id = $2::uuid",
                        durable.name,
                        impossible[durable.name],
                    )
                    assert handled == 1, f"{durable.name} did not acknowledge the event about nothing"
                poisoned = {
                    "audit-usage-upload-file-stored": nul_owner,
                    "ghost-extract": bad_key,
                    "sonic-transcribe": bad_job,
                    "audit-run": bad_audit,
                }
                for name, event_id in poisoned.items():
                    service = next(d.service for d in DURABLES if d.name == name)
                    found = await conn.fetchval(
                        f"SELECT count(*) FROM {service}.dead_letters WHERE consumer = $1 AND event_id = $2::uuid",
                        name,
                        event_id,
                    )
                    assert found == 1, name
                # Ghost recorded the missing objects (no such key, no such bucket) as failed extractions.
                for file_id in (missing, gone_bucket):
                    status = await conn.fetchval("SELECT status FROM ghost.extractions WHERE file_id = $1", file_id)
                    assert status == "failed", file_id

            # No consumer retried anything or has anything left: every message was delivered once.
            for durable in DURABLES:
                consumer = await nats.js.consumer_info(durable.stream, durable.name)
                assert consumer.num_ack_pending == 0, (durable.name, consumer)
                assert consumer.num_pending == 0, (durable.name, consumer)
                assert consumer.delivered is not None
                assert consumer.delivered.consumer_seq is not None
                stream = await nats.js.stream_info(durable.stream, subjects_filter=durable.subject)
                published = (stream.state.subjects or {}).get(durable.subject, 0)
                if durable.stream in (sonic.JOBS_STREAM.name, audit.JOBS_STREAM.name):
                    published = 4  # acknowledged work is removed: garbage, about nothing, not an id, valid
                assert consumer.delivered.consumer_seq == published, (durable.name, "redelivered", consumer)

            # The operator's view: `forge dead-letters --service NAME`.
            cli_env = {**env, "LOG_LEVEL": "ERROR"}
            listed = await asyncio.gather(
                *(dead_letters_cli(cli_env, s) for s in ("upload", "ghost", "sonic", "audit"))
            )
            by_consumer: dict[str, int] = {}
            for printed in listed:
                for letter in printed:
                    by_consumer[letter["consumer"]] = by_consumer.get(letter["consumer"], 0) + 1
            assert by_consumer == expected_letters
            assert all(letter["attempts"] == 1 for printed in listed for letter in printed)
        finally:
            await nats.close()
        assert platform.alive(), platform.log_tail()
