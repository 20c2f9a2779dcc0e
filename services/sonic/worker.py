"""The transcription worker: takes jobs from the SONIC_JOBS work queue and runs faster-whisper.

- The model is loaded once per worker, when the worker starts.
- Transcription runs in a thread; the event loop keeps the job's message alive (`in_progress`)
  every few seconds, publishes progress, and notices cancellation.
- Results are written to deterministic keys and the job is completed with a conditional update,
  so a job redelivered after a crash is finished exactly once in the results.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import msgspec

from libs.contracts import sonic as contract
from libs.database import Database
from libs.events import Consumer, Delivery, NatsConnection, PoisonMessage, enqueue_event, new_event
from libs.jobs import CancelFn, ProgressFn, ThreadedJob
from libs.logging import get_logger
from libs.storage import ObjectNotFound, ObjectStore
from libs.storage.files import download_file, upload_file
from services.sonic.errors import InvalidMedia, MediaTooLong, TranscriptionCancelled, UnsupportedLanguage
from services.sonic.jobs import output_key
from services.sonic.outputs import TRANSCRIPT_FORMATS, OutputFormat, render, write_package_zip
from services.sonic.settings import SonicSettings
from services.sonic.store import JobStore
from services.sonic.transcriber import Transcriber, WhisperSettings
from services.sonic.transcript import Transcript

log = get_logger(__name__)
_encoder = msgspec.json.Encoder()


def whisper_settings(settings: SonicSettings) -> WhisperSettings:
    base = WhisperSettings(
        device=settings.device,
        compute_type=settings.compute_type,
        cpu_threads=settings.cpu_threads,
        beam_size=settings.beam_size,
        num_workers=settings.worker_concurrency,
    )
    return msgspec.structs.replace(base, model_path=settings.model_path) if settings.model_path else base


class TranscriptionWorker:
    """A component: starts the model and the work-queue consumer; stops them on shutdown."""

    def __init__(
        self,
        db: Database,
        nats: NatsConnection,
        objects: ObjectStore,
        settings: SonicSettings,
        *,
        grace: float = 10.0,
    ) -> None:
        self._grace = grace
        self._store = JobStore(db)
        self._db = db
        self._nats = nats
        self._objects = objects
        self._settings = settings
        self._transcriber: Transcriber | None = None
        self._name = f"{socket.gethostname()}-{os.getpid()}"
        self._consumer = Consumer(
            db=db,
            nats=nats,
            stream=contract.JOBS_STREAM.name,
            durable="sonic-transcribe",
            subjects=[contract.JOB_CREATED],
            data_type=contract.JobCreated,
            handler=self.handle,
            max_deliver=settings.max_attempts,
            ack_wait=settings.ack_wait_seconds,
            batch=1,
            concurrency=settings.worker_concurrency,
            max_ack_pending=max(settings.worker_concurrency, 1),
        )

    async def start(self) -> None:
        started = time.perf_counter()
        self._transcriber = await asyncio.to_thread(Transcriber, whisper_settings(self._settings))
        log.info("whisper model loaded", seconds=round(time.perf_counter() - started, 2), worker=self._name)
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop(grace=min(self._grace, self._settings.ack_wait_seconds / 2))

    async def handle(self, delivery: Delivery[contract.JobCreated]) -> None:
        try:
            job_id = uuid.UUID(delivery.event.data.job_id)
        except ValueError as exc:  # no retry can make it an id: dead-letter it now
            raise PoisonMessage(f"job id {delivery.event.data.job_id!r} is not a UUID") from exc
        row = await self._store.start(job_id, self._name)
        if row is None:
            log.info("job already finished or removed; skipping", job_id=str(job_id))
            return
        await self._publish_progress(row["owner_id"], job_id, "processing", 0.0, "starting")
        workdir = Path(tempfile.mkdtemp(prefix="forge-sonic-"))
        try:
            await self._run(delivery, row, workdir)
        finally:
            await asyncio.to_thread(_remove_tree, workdir)

    async def _run(self, delivery: Delivery[contract.JobCreated], record: asyncpg.Record, workdir: Path) -> None:
        job_id: uuid.UUID = record["id"]
        owner: str = record["owner_id"]
        original = workdir / "original"
        try:
            await download_file(self._objects, record["original_key"], original)
        except ObjectNotFound:
            await self._finish(job_id, owner, "failed", error="the uploaded media is missing from storage")
            return
        transcriber = self._transcriber
        assert transcriber is not None

        async def report(progress: float, stage: str) -> bool:
            status = await self._store.progress(job_id, progress, stage)
            if status == "processing":
                await self._publish_progress(owner, job_id, "processing", progress, stage)
            return status == "processing"

        def transcribe(on_progress: ProgressFn, should_cancel: CancelFn) -> Transcript:
            return transcriber.transcribe(
                original,
                language=record["language"],
                word_timestamps=record["word_timestamps"],
                vad=record["vad"],
                on_progress=on_progress,
                should_cancel=should_cancel,
            )

        try:
            transcript = await ThreadedJob[Transcript](
                delivery, report=report, keepalive_seconds=self._settings.keepalive_seconds
            ).run(transcribe)
        except TranscriptionCancelled:
            log.info("transcription cancelled", job_id=str(job_id))
            return
        except (InvalidMedia, MediaTooLong, UnsupportedLanguage) as exc:
            await self._finish(job_id, owner, "failed", error=str(exc))
            return
        await self._publish_progress(owner, job_id, "processing", 100.0, "writing outputs")
        await self._write_outputs(job_id, record, transcript, original)
        await self._finish(job_id, owner, "completed", transcript=transcript)

    async def _write_outputs(
        self, job_id: uuid.UUID, record: asyncpg.Record, transcript: Transcript, original: Path
    ) -> None:
        for fmt in TRANSCRIPT_FORMATS:
            await self._objects.put_bytes(output_key(job_id, fmt.value), render(transcript, fmt))
        package = original.parent / "package.zip"
        meta = {
            "job_id": str(job_id),
            "model": record["model"],
            "word_timestamps": record["word_timestamps"],
            "vad": record["vad"],
            "created_at": record["created_at"].isoformat(),
        }
        await asyncio.to_thread(write_package_zip, package, transcript, original, record["original_filename"], meta)
        await upload_file(self._objects, output_key(job_id, OutputFormat.ZIP.value), package)

    async def _finish(
        self,
        job_id: uuid.UUID,
        owner: str,
        status: contract.JobStatus,
        *,
        transcript: Transcript | None = None,
        error: str | None = None,
    ) -> None:
        outputs = {fmt.value: output_key(job_id, fmt.value) for fmt in TRANSCRIPT_FORMATS} if transcript else {}
        async with self._db.transaction() as conn:
            # Conditional: only a job still `processing` finishes, and it finishes once.
            finished = await conn.fetchrow(
                "UPDATE jobs SET status = $2, stage = $2, progress = CASE WHEN $2 = 'completed' THEN 100 ELSE progress END,"
                " outputs = $3, error = $4, detected_language = $5, language_probability = $6,"
                " completed_at = now(), updated_at = now()"
                " WHERE id = $1 AND status = 'processing' RETURNING duration",
                job_id,
                status,
                outputs,
                error,
                transcript.language if transcript else None,
                transcript.language_probability if transcript else None,
            )
            if finished is None:
                return
            subject = contract.JOB_COMPLETED if status == "completed" else contract.JOB_FAILED
            await enqueue_event(
                conn,
                subject,
                new_event(
                    f"job.{status}",
                    contract.JobFinished(
                        job_id=str(job_id),
                        owner_id=owner,
                        status=status,
                        audio_seconds=float(transcript.duration if transcript else 0.0),
                        language=transcript.language if transcript else None,
                        error=error,
                    ),
                    actor=owner,
                ),
            )
        log.info("transcription job finished", job_id=str(job_id), status=status, error=error)

    async def _publish_progress(
        self, owner: str, job_id: uuid.UUID, status: contract.JobStatus, progress: float, stage: str
    ) -> None:
        # Progress is advisory (the row holds the truth), so it is published directly, not via the outbox.
        event = new_event(
            "job.progress",
            contract.JobProgress(
                job_id=str(job_id), owner_id=owner, status=status, progress=round(progress, 1), stage=stage
            ),
        )
        with contextlib.suppress(Exception):
            await self._nats.nc.publish(contract.JOB_PROGRESS, _encoder.encode(event))


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
