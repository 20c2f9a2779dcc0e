"""Sonic's request side: accept media, queue jobs, report on them, cancel them, serve transcripts."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import PurePath
from typing import Any

import asyncpg

from libs.contracts import sonic as contract
from libs.events import NatsConnection, enqueue_event, new_event
from libs.http import ApiError, Page
from libs.http.multipart import ReceivedFile
from libs.identity import Principal
from libs.logging import get_logger
from libs.storage import ObjectStore
from libs.storage.files import upload_file
from services.sonic.errors import InvalidMedia, MediaTooLong
from services.sonic.media import probe_media
from services.sonic.outputs import OutputFormat
from services.sonic.schemas import DeletedJob, Job, JobList, QueuedJob
from services.sonic.settings import SonicSettings
from services.sonic.store import JobStore, parse_id

log = get_logger(__name__)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_LANGUAGE = frozenset({"en"})


def job_from_row(row: asyncpg.Record) -> Job:
    return Job(
        job_id=str(row["id"]),
        status=row["status"],
        progress=round(float(row["progress"]), 1),
        stage=row["stage"],
        filename=row["original_filename"],
        size=row["size"],
        duration=row["duration"],
        model=row["model"],
        language=row["language"],
        detected_language=row["detected_language"],
        language_probability=row["language_probability"],
        word_timestamps=row["word_timestamps"],
        vad=row["vad"],
        error=row["error"],
        formats=sorted(row["outputs"]) + (["zip"] if row["outputs"] else []),
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        updated_at=row["updated_at"],
    )


def output_key(job_id: uuid.UUID | str, fmt: str) -> str:
    return f"jobs/{job_id}/transcript.{fmt}"


def _flag(fields: dict[str, str], name: str) -> bool:
    value = fields.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ApiError(422, f"'{name}' must be true or false", error_code="SONIC_422")


class JobService:
    def __init__(self, store: JobStore, objects: ObjectStore, nats: NatsConnection, settings: SonicSettings) -> None:
        self.store = store
        self.objects = objects
        self.nats = nats
        self.settings = settings

    async def submit(self, principal: Principal, received: ReceivedFile, options: dict[str, str]) -> QueuedJob:
        model = options.get("model") or self.settings.model
        if model != self.settings.model:
            raise ApiError(422, f"Unknown model {model!r}; available: {self.settings.model}", error_code="SONIC_422")
        language = (options.get("language") or "").strip().lower() or None
        if language is not None and language not in _LANGUAGE:
            raise ApiError(
                422, f"Language {language!r} is not supported by {model}; supported: en", error_code="SONIC_422"
            )
        word_timestamps, vad = _flag(options, "word_timestamps"), _flag(options, "vad")
        try:
            media = await asyncio.to_thread(
                probe_media, received.path, max_duration_s=self.settings.max_duration_seconds
            )
        except MediaTooLong as exc:
            raise ApiError(
                422,
                f"Audio is longer than the limit of {self.settings.max_duration_seconds:.0f} s",
                error_code="SONIC_DURATION",
            ) from exc
        except InvalidMedia as exc:
            raise ApiError(415, f"Not a usable audio or video file: {exc}", error_code="SONIC_415") from exc
        job_id = uuid.uuid4()
        # Control characters go (PostgreSQL text cannot even hold NUL).
        printable = "".join(ch for ch in received.filename or "" if ch >= " " and ch != "\x7f")
        name = PurePath(printable.replace("\\", "/")).name[:255] or "audio"
        suffix = PurePath(name).suffix.lower()[:10]
        key = f"jobs/{job_id}/original{suffix if suffix[1:].isalnum() else ''}"
        await upload_file(self.objects, key, received.path)
        try:
            async with self.store.db.transaction() as conn:
                await self.store.insert(
                    conn,
                    id=job_id,
                    owner_id=principal.user_id,
                    original_filename=name,
                    original_key=key,
                    size=received.size,
                    media_format=media.container_format,
                    duration=media.duration,
                    language=language,
                    model=model,
                    word_timestamps=word_timestamps,
                    vad=vad,
                )
                await enqueue_event(
                    conn,
                    contract.JOB_CREATED,
                    new_event(
                        "job.created",
                        contract.JobCreated(job_id=str(job_id), owner_id=principal.user_id),
                        actor=principal.user_id,
                    ),
                )
        except BaseException:
            await self.objects.delete(key)
            raise
        log.info("transcription job queued", job_id=str(job_id), duration=round(media.duration, 2))
        return QueuedJob(job_id=str(job_id), status="queued", filename=name, duration=media.duration, model=model)

    async def owned(self, principal: Principal, job_id: str) -> asyncpg.Record:
        """The caller's job; another user's job is indistinguishable from a missing one (404)."""
        jid = parse_id(job_id)
        row = await self.store.get(jid) if jid else None
        if row is None or (row["owner_id"] != principal.user_id and not principal.is_admin):
            raise ApiError(404, "Job not found", error_code="SONIC_404")
        return row

    async def list(self, principal: Principal, *, status: str | None, skip: int, limit: int) -> JobList:
        rows, total = await self.store.list(principal.user_id, status=status, skip=skip, limit=limit)
        jobs = [job_from_row(r) for r in rows]
        return JobList(jobs=jobs, pagination=Page.of(count=len(jobs), total=total, skip=skip, limit=limit))

    async def delete(self, principal: Principal, job_id: str) -> DeletedJob:
        """Cancel the job if it has not finished, remove its objects, and hide it."""
        row = await self.owned(principal, job_id)
        async with self.store.db.transaction() as conn:
            updated = await conn.fetchrow(
                "UPDATE jobs SET deleted_at = now(), updated_at = now(),"
                " status = CASE WHEN status IN ('queued', 'processing') THEN 'cancelled' ELSE status END,"
                " stage = CASE WHEN status IN ('queued', 'processing') THEN 'cancelled' ELSE stage END"
                " WHERE id = $1 AND deleted_at IS NULL RETURNING status",
                row["id"],
            )
            if updated is None:
                raise ApiError(404, "Job not found", error_code="SONIC_404")
            if row["status"] in ("queued", "processing"):
                await enqueue_event(
                    conn,
                    contract.JOB_CANCELLED,
                    new_event(
                        "job.cancelled",
                        contract.JobFinished(job_id=str(row["id"]), owner_id=row["owner_id"], status="cancelled"),
                        actor=principal.user_id,
                    ),
                )
        keys = [row["original_key"], *(output_key(row["id"], fmt) for fmt in [*OutputFormat])]
        await asyncio.gather(*(self.objects.delete(key) for key in keys))
        log.info("transcription job deleted", job_id=str(row["id"]), was=row["status"])
        return DeletedJob(job_id=str(row["id"]), status=updated["status"], objects_removed=len(keys))

    async def download(self, principal: Principal, job_id: str, fmt: OutputFormat) -> tuple[asyncpg.Record, Any]:
        row = await self.owned(principal, job_id)
        if row["status"] != "completed":
            raise ApiError(
                409, f"Job is {row['status']}; transcripts are available once it is completed", error_code="SONIC_409"
            )
        key = output_key(row["id"], fmt.value)
        info = await self.objects.stat(key)
        if info is None:
            raise ApiError(404, "Transcript file is missing from storage", error_code="SONIC_410")
        return row, self.objects.get_stream(key)
